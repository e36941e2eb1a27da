// master/main.cc — master's command line, daemonizing and start-up report.
//
// `master -c CONFIG_DIR [--daemon] [--ready-fd N] [-v]`. With --ready-fd,
// master writes exactly one line to N once start-up is over: `ok` when every
// listener is accepting and qmgr is up, or `error: <why>`; the `postern
// start` command waits for that line. --daemon detaches from the terminal
// first. Started as root, master checks that the configured users exist and
// hands each child its own; started as another user, everything runs as
// that user, with a warning.
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "lib/base/daemon_support.h"
#include "lib/base/log.h"
#include "lib/base/privileges.h"
#include "lib/config/config.h"
#include "master/master.h"

namespace {

int g_ready_fd = -1;

void Usage() {
  fprintf(stderr, "usage: master -c CONFIG_DIR [--daemon] [--ready-fd N] [-v]\n");
  exit(2);
}

void Report(const std::string& line) {
  if (g_ready_fd < 0) return;
  std::string text = line + "\n";
  ssize_t ignored = write(g_ready_fd, text.data(), text.size());
  (void)ignored;
  close(g_ready_fd);
  g_ready_fd = -1;
}

int Fail(const std::string& why) {
  LOG_ERROR("%s", why.c_str());
  Report("error: " + why);
  return 1;
}

postern::Result<postern::ChildUsers> LookUpUsers(const postern::Config& config) {
  postern::ChildUsers users;
  if (!postern::RunningAsRoot()) {
    postern::UserIdentity self{"", getuid(), getgid()};
    return postern::ChildUsers{self, self, self};
  }
  struct Want {
    const std::string& name;
    const char* key;
    postern::UserIdentity* out;
  };
  for (const Want& want : {Want{config.smtpd_user, "smtpd_user", &users.smtpd},
                           Want{config.queue_user, "queue_user", &users.queue},
                           Want{config.auth_user, "auth_user", &users.auth}}) {
    postern::Result<postern::UserIdentity> user = postern::LookUpUser(want.name, want.key);
    if (!user.ok()) return user.status();
    *want.out = *user;
  }
  return users;
}

// Points stderr (inherited by every child) at the log file, or, for a
// daemon without one, at /dev/null with syslog for every process.
postern::Status SetUpLogging(const postern::Config& config, bool daemon) {
  if (!config.log_file.empty()) {
    int fd = open(config.log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
      return postern::Status::Error("cannot open log_file " + config.log_file + ": " +
                                    strerror(errno));
    dup2(fd, STDERR_FILENO);
    close(fd);
  } else if (daemon) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, STDERR_FILENO);
    close(null);
  }
  bool syslog = config.log_syslog || (daemon && config.log_file.empty());
  if (syslog) setenv("POSTERN_LOG_SYSLOG", "1", 1);
  postern::LogInit("master", syslog);
  return postern::Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_dir;
  bool daemon = false;
  bool verbose = false;
  static const option kOptions[] = {{"daemon", no_argument, nullptr, 'd'},
                                    {"ready-fd", required_argument, nullptr, 'r'},
                                    {nullptr, 0, nullptr, 0}};
  for (int c; (c = getopt_long(argc, argv, "c:v", kOptions, nullptr)) != -1;) {
    switch (c) {
      case 'c':
        config_dir = optarg;
        break;
      case 'd':
        daemon = true;
        break;
      case 'r': {
        std::optional<int> fd = postern::ParseDescriptor(optarg);
        if (!fd) Usage();
        g_ready_fd = *fd;
        break;
      }
      case 'v':
        verbose = true;
        break;
      default:
        Usage();
    }
  }
  if (config_dir.empty() || optind != argc) Usage();
  if (g_ready_fd >= 0) fcntl(g_ready_fd, F_SETFD, FD_CLOEXEC);
  postern::LogInit("master", false);
  postern::LogSetVerbose(verbose);
  if (verbose) setenv("POSTERN_VERBOSE", "1", 1);

  postern::Result<postern::Config> config = postern::LoadConfig(config_dir);
  if (!config.ok()) return Fail(config.status().message());
  postern::Result<postern::ChildUsers> users = LookUpUsers(*config);
  if (!users.ok()) return Fail(users.status().message());
  if (!postern::RunningAsRoot())
    LOG_WARNING(
        "not started as root: every postern process runs as uid %d and smtpd is not "
        "chrooted",
        static_cast<int>(getuid()));
  if (daemon) {
    // The ready fd stays open in the daemon.
    if (postern::Status s = postern::Daemonize(); !s.ok()) return Fail(s.message());
  }
  if (postern::Status s = SetUpLogging(*config, daemon); !s.ok()) return Fail(s.message());
  postern::LogSetVerbose(verbose);

  postern::Master master(std::make_unique<postern::Config>(std::move(*config)), std::move(*users));
  if (postern::Status s = master.Start(); !s.ok()) return Fail(s.message());
  Report("ok");
  return master.Run();
}
