// lib/base/daemon_main.cc — see lib/base/daemon_main.h.
#include "lib/base/daemon_main.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "lib/base/daemon_support.h"
#include "lib/base/log.h"
#include "lib/base/privileges.h"
#include "lib/net/event_handles.h"

namespace postern {
namespace {

// Stop (SIGTERM, SIGINT) and reload (SIGHUP), handled by the event loop.
constexpr int kWatchedSignals[] = {SIGTERM, SIGINT, SIGHUP};

// One start-up of one daemon: what the signal handlers act on.
class DaemonRun {
 public:
  DaemonRun(const DaemonSpec& spec, DaemonOptions options)
      : spec_(spec), options_(std::move(options)) {}

  int Run(const DaemonFactory& make_program);

 private:
  Status StartUp(const DaemonFactory& make_program);
  // What SetUpLogging needs of the configuration, kept past Prepare().
  struct LogPlan {
    LogSettings settings;
    std::string log_file;
    std::string state_directory;
  };
  Status SetUpLogging(const LogPlan& plan);
  static Result<int> OpenForAppend(const std::string& path, const std::string& what, int flags);
  static Status RedirectStderr(const std::string& path, const std::string& what);
  Status WatchSignals();
  static void OnSignal(evutil_socket_t signo, short, void* self);
  int Fail(const Status& why);
  void Report(const std::string& line);

  const DaemonSpec& spec_;
  DaemonOptions options_;
  // The program is destroyed before the signal events and the loop.
  EventBasePtr base_;
  std::vector<EventPtr> signals_;
  std::unique_ptr<DaemonProgram> program_;
};

int DaemonRun::Run(const DaemonFactory& make_program) {
  if (options_.ready_fd >= 0) fcntl(options_.ready_fd, F_SETFD, FD_CLOEXEC);
  // A daemon's sockets exist before its loop watches signals (Prepare binds
  // them), so a SIGTERM sent as soon as it answers must wait for the loop
  // rather than kill it half started: blocked until WatchSignals().
  sigset_t stopping;
  sigemptyset(&stopping);
  for (int signo : kWatchedSignals) sigaddset(&stopping, signo);
  sigprocmask(SIG_BLOCK, &stopping, nullptr);
  LogInitFromEnvironment(spec_.name);
  if (options_.verbose) {
    LogSetVerbose(true);
    setenv("POSTERN_VERBOSE", "1", 1);  // for master's children
  }
  if (Status s = StartUp(make_program); !s.ok()) {
    int status = Fail(s);
    program_.reset();
    return status;
  }
  Report("ok");
  LOG_INFO("ready");
  if (event_base_dispatch(base_.get()) < 0) {
    program_.reset();
    return Fail(Status::Error("the event loop failed"));
  }
  program_.reset();
  LOG_INFO("stopped");
  return 0;
}

Status DaemonRun::StartUp(const DaemonFactory& make_program) {
  Result<Config> config = LoadConfig(options_.config_dir);
  if (!config.ok()) return config.status();
  const LogPlan log_plan{{config->log_target, config->log_facility, config->syslog_socket},
                         config->log_file,
                         config->state_directory};
  program_ = make_program(options_);
  if (Status s = program_->Prepare(std::move(*config)); !s.ok()) return s;
  if (options_.daemon) {
    if (Status s = Daemonize(); !s.ok()) return s;
  }
  if (!options_.under_master()) {
    if (Status s = SetUpLogging(log_plan); !s.ok()) return s;
  }
  base_.reset(program_->NewEventBase());
  if (!base_) return Status::Error("cannot create the event loop");
  if (Status s = WatchSignals(); !s.ok()) return s;
  return program_->Start(base_.get());
}

// Starts logging as the configuration says and points standard error,
// which every child inherits, where lines that do not go to syslog go:
// log_file for log_target = file; for syslog and stderr, the terminal (or
// the journal) of a master in the foreground, and the fallback file
// (state_directory/log/postern.log) for a detached one, which has no
// terminal, and for one that cannot reach syslog, which says so loudly on
// standard error before and in the file after.
Status DaemonRun::SetUpLogging(const LogPlan& plan) {
  const LogSettings& settings = plan.settings;
  LogInit(spec_.name, settings);
  LogSetVerbose(options_.verbose);
  LogExportToChildren(settings);
  if (settings.target == LogTarget::kFile) {
    LogSetDestination(plan.log_file);
    return RedirectStderr(plan.log_file, "log_file");
  }
  std::string why;
  const bool syslog_down = settings.target == LogTarget::kSyslog && !LogSyslogReachable(&why);
  if (settings.target == LogTarget::kSyslog && !syslog_down)
    LogSetDestination("syslog at " + settings.syslog_socket);
  if (!syslog_down && !options_.daemon) return Status::Ok();
  const std::string fallback = FallbackLogFile(plan.state_directory);
  // O_NOFOLLOW: root appends to this file; a link planted there must not
  // make it append elsewhere.
  Result<int> file = Status::Ok();
  if (Status made = EnsureDirectory(plan.state_directory + "/log", 0750, getuid(), getgid());
      made.ok()) {
    file = OpenForAppend(fallback, "the fallback log file", O_NOFOLLOW);
  } else {
    file = made;
  }
  if (!file.ok() && options_.daemon)
    return Status::Error("cannot log anywhere: " + file.status().message());
  // A daemon in the foreground that cannot open the file (it dropped its
  // privileges in Prepare()) still has standard error.
  const std::string where = file.ok() ? fallback : "standard error";
  const std::string warning =
      "syslog cannot be reached (" + why + "): every postern process logs to " + where + " instead";
  // Loudly: on the terminal of `postern start` before, in the file after.
  if (syslog_down)
    fprintf(stderr, "postern/%s: warning: %s\n", spec_.name.c_str(), warning.c_str());
  if (file.ok()) {
    dup2(*file, STDERR_FILENO);
    close(*file);
  }
  if (!syslog_down) {
    // Syslog takes the lines; the file has those it does not take.
    if (settings.target == LogTarget::kStderr)
      LogSetDestination(fallback + " (log_target = stderr, and a detached master has none)");
    return Status::Ok();
  }
  LogSetDestination(where + " (syslog at " + settings.syslog_socket + " cannot be reached)");
  if (file.ok()) LOG_WARNING("%s", warning.c_str());
  return Status::Ok();
}

Result<int> DaemonRun::OpenForAppend(const std::string& path, const std::string& what, int flags) {
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | flags, 0640);
  if (fd < 0) return Status::FromErrno("cannot open " + what + " " + path, errno);
  return fd;
}

Status DaemonRun::RedirectStderr(const std::string& path, const std::string& what) {
  Result<int> fd = OpenForAppend(path, what, 0);
  if (!fd.ok()) return fd.status();
  dup2(*fd, STDERR_FILENO);
  close(*fd);
  return Status::Ok();
}

Status DaemonRun::WatchSignals() {
  signal(SIGPIPE, SIG_IGN);
  sigset_t watched;
  sigemptyset(&watched);
  for (int signo : kWatchedSignals) {
    signals_.emplace_back(evsignal_new(base_.get(), signo, OnSignal, this));
    if (!signals_.back() || event_add(signals_.back().get(), nullptr) != 0)
      return Status::Error("cannot watch signal " + std::to_string(signo));
    sigaddset(&watched, signo);
  }
  // What arrived while they were blocked (Run) is delivered to the loop now.
  sigprocmask(SIG_UNBLOCK, &watched, nullptr);
  return Status::Ok();
}

void DaemonRun::OnSignal(evutil_socket_t signo, short, void* self_ptr) {
  auto* self = static_cast<DaemonRun*>(self_ptr);
  if (signo == SIGHUP) {
    if (!self->program_->Reloads()) {
      LOG_DEBUG("SIGHUP: %s reads no configuration once started; nothing to reload",
                self->spec_.name.c_str());
      return;
    }
    Status reloaded = self->program_->Reload();
    if (reloaded.ok()) {
      LOG_INFO("configuration reloaded");
    } else {
      LOG_WARNING("reload failed: %s; keeping the running configuration",
                  reloaded.message().c_str());
    }
    return;
  }
  LOG_INFO("stopping on signal %d", static_cast<int>(signo));
  if (self->program_->Stop()) event_base_loopexit(self->base_.get(), nullptr);
}

int DaemonRun::Fail(const Status& why) {
  LOG_ERROR("cannot start: %s", why.message().c_str());
  Report("error: " + why.message());
  return 1;
}

// The one line of --ready-fd; later calls write nothing.
void DaemonRun::Report(const std::string& line) {
  if (options_.ready_fd < 0) return;
  std::string text = line + "\n";
  ssize_t ignored = write(options_.ready_fd, text.data(), text.size());
  (void)ignored;
  close(options_.ready_fd);
  options_.ready_fd = -1;
}

}  // namespace

event_base* DaemonProgram::NewEventBase() { return event_base_new(); }

int RunDaemon(const DaemonSpec& spec, int argc, char** argv, const DaemonFactory& make_program) {
  Result<DaemonOptions> options = ParseDaemonOptions(spec, argc, argv);
  if (!options.ok()) {
    fprintf(stderr, "%s: %s\n%s\n", spec.name.c_str(), options.status().message().c_str(),
            spec.usage.c_str());
    return 2;
  }
  return DaemonRun(spec, std::move(*options)).Run(make_program);
}

}  // namespace postern
