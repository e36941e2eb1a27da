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

}  // namespace postern
