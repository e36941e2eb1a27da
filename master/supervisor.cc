// master/supervisor.cc — see master/supervisor.h.
#include "master/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "lib/base/backoff.h"
#include "lib/base/log.h"
#include "lib/config/install_dirs.h"

namespace postern {
namespace {

// A child that lives shorter than this is counted as failing at start-up.
constexpr Duration kHealthyUptime = std::chrono::seconds(10);
constexpr Duration kFirstBackoff = std::chrono::seconds(1);
constexpr Duration kMaxBackoff = std::chrono::seconds(60);

const char* KindName(ChildKind kind) {
  switch (kind) {
    case ChildKind::kQueue:
      return "qmgr";
    case ChildKind::kAuth:
      return "authd";
    case ChildKind::kMetrics:
      return "metricsd";
    case ChildKind::kSmtpd:
      return "smtpd";
  }
  return "?";
}

// In the forked child: makes fds[i] descriptor 3 + i, closes everything
// above, drops privileges when asked, and exec's the daemon. Never returns.
[[noreturn]] void ExecChild(const std::string& program, const std::string& config_dir,
                            std::vector<int> fds, const UserIdentity* drop_to,
                            const std::vector<std::string>& extra, pid_t master) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // First lift every descriptor above the target range, so that placing one
  // never overwrites another still to be placed.
  const int first = 3;
  const int above = first + static_cast<int>(fds.size());
  for (int& fd : fds)
    if (fd < above && (fd = fcntl(fd, F_DUPFD_CLOEXEC, above)) < 0) _exit(126);
  for (size_t i = 0; i < fds.size(); ++i)
    if (dup2(fds[i], first + static_cast<int>(i)) < 0) _exit(126);
  close_range(above, ~0U, 0);
  if (drop_to != nullptr) {
    Status s = DropPrivileges(*drop_to, "");
    if (!s.ok()) {
      LOG_ERROR("%s: %s", program.c_str(), s.message().c_str());
      _exit(126);
    }
  }
  // A service must not outlive master (nobody would stop or restart it).
  // Set after the uid change, which clears it; a master already gone by now
  // is caught by the parent check.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != master) _exit(0);
  std::vector<std::string> args = {program, "-c", config_dir};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  execv(program.c_str(), argv.data());
  LOG_ERROR("cannot execute %s: %s", program.c_str(), strerror(errno));
  _exit(127);
}

}  // namespace

Supervisor::Supervisor(event_base* base, const Clock* clock, ChildUsers users,
                       ServiceSockets sockets, Hooks hooks)
    : base_(base),
      clock_(clock),
      users_(std::move(users)),
      sockets_(sockets),
      hooks_(std::move(hooks)) {
  sigchld_.reset(evsignal_new(base_, SIGCHLD, OnSigchld, this));
  event_add(sigchld_.get(), nullptr);
}

Supervisor::~Supervisor() = default;

Status Supervisor::StartAll() {
  if (Status s = Spawn(ChildKind::kQueue); !s.ok()) return s;
  if (Status s = Spawn(ChildKind::kAuth); !s.ok()) return s;
  if (sockets_.metrics >= 0)
    if (Status s = Spawn(ChildKind::kMetrics); !s.ok()) return s;
  return StartSmtpdGeneration();
}

Status Supervisor::StartSmtpdGeneration() {
  ++smtpd_generation_;
  for (uint32_t i = 0; i < config_->smtpd_workers; ++i)
    if (Status s = Spawn(ChildKind::kSmtpd); !s.ok()) return s;
  return Status::Ok();
}

Status Supervisor::Spawn(ChildKind kind) {
  std::string program = DaemonDirectory(*config_) + "/" + KindName(kind);
  if (access(program.c_str(), X_OK) != 0)
    return Status::Error(std::string("cannot execute ") + program + ": " + strerror(errno) +
                         " (check daemon_directory or POSTERN_DAEMON_DIR)");
  int pair[2] = {-1, -1};
  std::vector<int> fds;
  std::vector<std::string> extra;
  const UserIdentity* drop_to = nullptr;
  bool root = RunningAsRoot();
  switch (kind) {
    case ChildKind::kQueue:
      // qmgr reads relay_password_file as root, then becomes queue_user itself.
      fds = {sockets_.queue, sockets_.queue_control};
      extra = {"--listen-fd", "3", "--control-fd", "4"};
      break;
    case ChildKind::kAuth:
      fds = {sockets_.auth};
      extra = {"--listen-fd", "3"};
      if (root) drop_to = &users_.auth;
      break;
    case ChildKind::kMetrics:
    case ChildKind::kSmtpd:
      if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
        return Status::FromErrno(std::string("socketpair for ") + KindName(kind), errno);
      fds = {pair[1]};
      extra = {"--channel-fd", "3"};
      if (kind == ChildKind::kMetrics) {
        fds.push_back(sockets_.metrics);
        extra.insert(extra.end(), {"--listen-fd", "4"});
      }
      break;
  }
  pid_t master = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    if (pair[0] >= 0) {
      close(pair[0]);
      close(pair[1]);
    }
    return Status::FromErrno("fork", errno);
  }
  if (pid == 0) ExecChild(program, config_->config_dir, fds, drop_to, extra, master);
  children_[pid] = Child{kind, clock_->Now(), smtpd_generation_};
  LOG_DEBUG("started %s, pid %d", KindName(kind), static_cast<int>(pid));
  if (pair[1] >= 0) close(pair[1]);
  if (kind == ChildKind::kSmtpd) hooks_.smtpd_started(pid, pair[0]);
  if (kind == ChildKind::kMetrics) hooks_.metrics_started(pid, pair[0]);
  return Status::Ok();
}

void Supervisor::OnSigchld(evutil_socket_t, short, void* self) {
  static_cast<Supervisor*>(self)->Reap();
}

void Supervisor::Reap() {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    auto it = children_.find(pid);
    if (it == children_.end()) continue;
    Child child = it->second;
    children_.erase(it);
    Duration uptime = std::chrono::duration_cast<Duration>(clock_->Now() - child.started);
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    // A clean exit of an smtpd of an older generation is a finished drain;
    // any other exit, clean or not, is restarted.
    bool drained =
        child.kind == ChildKind::kSmtpd && clean && child.generation != smtpd_generation_;
    if (!stopping_ && !drained) {
      if (WIFSIGNALED(status))
        LOG_WARNING("%s (pid %d) killed by signal %d", KindName(child.kind), static_cast<int>(pid),
                    WTERMSIG(status));
      else
        LOG_WARNING("%s (pid %d) exited with status %d", KindName(child.kind),
                    static_cast<int>(pid), WEXITSTATUS(status));
    }
    if (child.kind == ChildKind::kSmtpd) hooks_.smtpd_exited(pid);
    if (!stopping_ && !drained) ScheduleRestart(child.kind, uptime);
  }
  if (stopping_ && children_.empty() && hooks_.all_exited) hooks_.all_exited();
}

void Supervisor::ScheduleRestart(ChildKind kind, Duration uptime) {
  Backoff& backoff = backoff_[kind];
  if (uptime >= kHealthyUptime) backoff.failures = 0;
  Duration delay = std::chrono::milliseconds(100);
  if (uptime < kHealthyUptime) {
    ++backoff.failures;
    delay = DoublingBackoff(backoff.failures, kFirstBackoff, kMaxBackoff);
  }
  ++pending_restarts_[kind];
  if (!backoff.timer) backoff.timer.reset(evtimer_new(base_, OnRestartTimer, this));
  LOG_INFO("restarting %s in %lld ms", KindName(kind), static_cast<long long>(delay.count()));
  timeval tv = ToTimeval(delay);
  evtimer_add(backoff.timer.get(), &tv);
}

void Supervisor::OnRestartTimer(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<Supervisor*>(self_ptr);
  if (self->stopping_) return;
  std::map<ChildKind, int> due;
  due.swap(self->pending_restarts_);
  for (auto& [kind, count] : due) {
    for (int i = 0; i < count; ++i) {
      Status s = self->Spawn(kind);
      if (!s.ok()) {
        LOG_ERROR("cannot restart %s: %s", KindName(kind), s.message().c_str());
        self->ScheduleRestart(kind, Duration::zero());
      }
    }
  }
}

void Supervisor::SignalServices(int signo) {
  SignalKind(ChildKind::kQueue, signo);
  SignalKind(ChildKind::kAuth, signo);
  SignalKind(ChildKind::kMetrics, signo);
}

void Supervisor::SignalKind(ChildKind kind, int signo) {
  for (auto& [pid, child] : children_)
    if (child.kind == kind) kill(pid, signo);
}

void Supervisor::TerminateAllAndWait(Duration timeout) {
  stopping_ = true;
  for (int signo : {SIGTERM, SIGKILL}) {
    for (auto& [pid, child] : children_) kill(pid, signo);
    TimePoint deadline = clock_->Now() + timeout;
    while (!children_.empty() && clock_->Now() < deadline) {
      pid_t pid = waitpid(-1, nullptr, WNOHANG);
      if (pid > 0) {
        children_.erase(pid);
      } else {
        usleep(20000);
      }
    }
    if (children_.empty()) return;
  }
}

size_t Supervisor::CountKind(ChildKind kind) const {
  size_t n = 0;
  for (auto& [pid, child] : children_) n += child.kind == kind;
  return n;
}

std::vector<Supervisor::ChildEntry> Supervisor::Children() const {
  std::vector<ChildEntry> entries;
  for (const auto& [pid, child] : children_)
    entries.push_back({pid, child.kind, KindName(child.kind)});
  std::stable_sort(entries.begin(), entries.end(),
                   [](const ChildEntry& a, const ChildEntry& b) { return a.kind < b.kind; });
  return entries;
}

}  // namespace postern
