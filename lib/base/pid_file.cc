// lib/base/pid_file.cc — see lib/base/pid_file.h.
#include "lib/base/pid_file.h"

#include <errno.h>
#include <signal.h>

#include <fstream>

namespace postern {

std::string MasterPidFile(const std::string& run_directory) {
  return run_directory + "/master.pid";
}

bool ProcessAlive(pid_t pid) {
  if (kill(pid, 0) != 0 && errno != EPERM) return false;
  // A zombie has exited; only its parent has not looked yet.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

std::optional<pid_t> LiveMasterPid(const std::string& run_directory) {
  std::ifstream file(MasterPidFile(run_directory));
  long pid = 0;
  if (!(file >> pid) || pid <= 0) return std::nullopt;
  if (!ProcessAlive(static_cast<pid_t>(pid))) return std::nullopt;
  return static_cast<pid_t>(pid);
}

Status WriteMasterPidFile(FileSystem* fs, const std::string& run_directory, pid_t pid) {
  const std::string path = MasterPidFile(run_directory);
  if (std::optional<pid_t> running = LiveMasterPid(run_directory))
    return Status::Error("postern is already running (master pid " + std::to_string(*running) +
                         " in " + path + ")");
  Status written = WriteFileAtomically(fs, path, std::to_string(pid) + "\n", 0644);
  if (!written.ok())
    return Status::Error("cannot write the pid file " + path + ": " + written.message());
  return Status::Ok();
}

}  // namespace postern
