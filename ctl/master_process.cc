// ctl/master_process.cc — see ctl/master_process.h.
#include "ctl/master_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <thread>

namespace postern::cli {
namespace {

// master binds every listener and starts qmgr, authd and the workers before
// it answers; a minute without an answer means it is stuck, not slow.
constexpr std::chrono::seconds kStartTimeout{60};
// How long a master that closed the pipe gets to become reapable.
constexpr std::chrono::seconds kReapWait{2};
constexpr std::chrono::milliseconds kPollInterval{50};

using SteadyClock = std::chrono::steady_clock;

struct ReadyLine {
  enum Kind { kLine, kClosedEmpty, kTimedOut, kReadError } kind;
  std::string text;  // the line without its newline, or the read error
};

int MillisecondsLeft(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Reads up to the first newline. A daemon child that leaked the pipe cannot
// make us wait: one line is all master ever says.
ReadyLine ReadReadyLine(int fd) {
  auto deadline = SteadyClock::now() + kStartTimeout;
  std::string buffer;
  for (;;) {
    size_t newline = buffer.find('\n');
    if (newline != std::string::npos) return {ReadyLine::kLine, buffer.substr(0, newline)};
    pollfd p{fd, POLLIN, 0};
    int rc = poll(&p, 1, MillisecondsLeft(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return {ReadyLine::kReadError, std::string("poll: ") + strerror(errno)};
    if (rc == 0) return {ReadyLine::kTimedOut, ""};
    char chunk[512];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return {ReadyLine::kReadError, std::string("read: ") + strerror(errno)};
    if (n == 0)
      return buffer.empty() ? ReadyLine{ReadyLine::kClosedEmpty, ""}
                            : ReadyLine{ReadyLine::kLine, buffer};
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

// " (exit status N)", " (killed by signal N)", or "" when pid cannot be reaped in time.
std::string ReapedStatus(pid_t pid) {
  auto deadline = SteadyClock::now() + kReapWait;
  for (;;) {
    int status;
    pid_t rc = waitpid(pid, &status, WNOHANG);
    if (rc == pid) {
      if (WIFEXITED(status)) return " (exit status " + std::to_string(WEXITSTATUS(status)) + ")";
      if (WIFSIGNALED(status))
        return " (killed by signal " + std::to_string(WTERMSIG(status)) + ")";
      return "";
    }
    if (rc < 0 || SteadyClock::now() >= deadline) return "";
    std::this_thread::sleep_for(kPollInterval);
  }
}

std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

// In the forked child: exec master with the pipe's write end inherited, or
// say on the pipe why that failed.
[[noreturn]] void ExecWithReadyFd(std::vector<std::string> args, int ready_fd) {
  std::vector<char*> argv = Argv(args);
  if (fcntl(ready_fd, F_SETFD, 0) == 0) execv(argv[0], argv.data());
  std::string line = std::string("error: cannot execute ") + argv[0] + ": " + strerror(errno) +
                     " (check daemon_directory or POSTERN_DAEMON_DIR)\n";
  ssize_t ignored = write(ready_fd, line.data(), line.size());
  (void)ignored;
  _exit(127);
}

Status InterpretReadyLine(const ReadyLine& ready, pid_t child) {
  switch (ready.kind) {
    case ReadyLine::kLine:
      if (ready.text == "ok") {
        waitpid(child, nullptr, WNOHANG);  // a daemonizing master's first process
        return Status::Ok();
      }
      if (ready.text.rfind("error: ", 0) == 0)
        return Status::Error("master could not start: " + ready.text.substr(7));
      return Status::Error("master said \"" + ready.text +
                           "\" during start-up instead of \"ok\" or \"error: ...\"");
    case ReadyLine::kClosedEmpty:
      return Status::Error("master exited during start-up" + ReapedStatus(child) +
                           " without saying why; see its log");
    case ReadyLine::kTimedOut:
      return Status::Error("master did not report within " + std::to_string(kStartTimeout.count()) +
                           " s that it is listening; it may still be starting (see its log)");
    case ReadyLine::kReadError:
      break;
  }
  return Status::Error("cannot read master's start-up report: " + ready.text);
}

}  // namespace

Status MasterNotRunning(const std::string& run_directory) {
  return Status::Error("master is not running (no live process in " + MasterPidFile(run_directory) +
                       ")");
}

bool WaitForExit(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = SteadyClock::now() + timeout;
  while (ProcessAlive(pid)) {
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
  return true;
}

Status StartMasterDaemon(const std::string& master_path, const std::string& config_dir) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  std::vector<std::string> args = {master_path, "-c",         config_dir,
                                   "--daemon",  "--ready-fd", std::to_string(fds[1])};
  pid_t child = fork();
  if (child < 0) {
    Status s = Status::FromErrno("fork", errno);
    close(fds[0]);
    close(fds[1]);
    return s;
  }
  if (child == 0) ExecWithReadyFd(std::move(args), fds[1]);
  close(fds[1]);
  ReadyLine ready = ReadReadyLine(fds[0]);
  close(fds[0]);
  return InterpretReadyLine(ready, child);
}

Status ExecMasterForeground(const std::string& master_path, const std::string& config_dir) {
  std::vector<std::string> args = {master_path, "-c", config_dir};
  std::vector<char*> argv = Argv(args);
  execv(argv[0], argv.data());
  return Status::Error("cannot execute " + master_path + ": " + strerror(errno) +
                       " (check daemon_directory or POSTERN_DAEMON_DIR)");
}

}  // namespace postern::cli
