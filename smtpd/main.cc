// smtpd/main.cc — the smtpd worker: command line, privilege drop, event loop.
//
// Started by master as root with the master channel on fd 3; loads the
// config, prepares what needs the file system (the listeners' TLS keys,
// resolv.conf), then chroots into an empty directory and becomes the
// unprivileged smtpd_user before it reads a single byte from a client, so a
// compromised worker can open neither the TLS keys nor the password
// database nor the queue. A start-up error (an unreadable TLS key, say) ends
// the worker with status 1; master logs it and restarts it with back-off.
// `smtpd -S` runs one session on stdin/stdout for debugging and dialog tests.
#include <getopt.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "lib/base/daemon_support.h"
#include "lib/base/log.h"
#include "lib/base/privileges.h"
#include "lib/config/config.h"
#include "smtpd/worker.h"

namespace {

void Usage() {
  fprintf(stderr,
          "usage: smtpd -c CONFIG_DIR [--channel-fd N] [-v]\n"
          "       smtpd -c CONFIG_DIR -S [--listener NAME] [--client ADDRESS] [-v]\n");
  exit(2);
}

int Fail(const std::string& what) {
  LOG_ERROR("%s", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_dir;
  std::string listener;
  std::string client = "127.0.0.1";
  int channel_fd = -1;
  bool standalone = false;
  bool verbose = false;
  static const option kOptions[] = {{"channel-fd", required_argument, nullptr, 'f'},
                                    {"listener", required_argument, nullptr, 'l'},
                                    {"client", required_argument, nullptr, 'a'},
                                    {nullptr, 0, nullptr, 0}};
  for (int c; (c = getopt_long(argc, argv, "c:Sv", kOptions, nullptr)) != -1;) {
    switch (c) {
      case 'c':
        config_dir = optarg;
        break;
      case 'S':
        standalone = true;
        break;
      case 'v':
        verbose = true;
        break;
      case 'f': {
        std::optional<int> fd = postern::ParseDescriptor(optarg);
        if (!fd) Usage();
        channel_fd = *fd;
        break;
      }
      case 'l':
        listener = optarg;
        break;
      case 'a':
        client = optarg;
        break;
      default:
        Usage();
    }
  }
  if (config_dir.empty() || optind != argc || (!standalone && channel_fd < 0)) Usage();
  postern::LogInitFromEnvironment("smtpd");
  if (verbose) postern::LogSetVerbose(true);

  postern::Result<postern::Config> config = postern::LoadConfig(config_dir);
  if (!config.ok()) return Fail(config.status().message());

  if (standalone) {
    postern::Worker worker(std::move(*config), -1);
    if (postern::Status s = worker.Prepare(); !s.ok()) return Fail(s.message());
    postern::Status s = worker.RunStandalone(listener, client);
    return s.ok() ? 0 : Fail(s.message());
  }

  std::string chroot_dir;
  postern::UserIdentity user;
  if (postern::RunningAsRoot()) {
    postern::Result<postern::UserIdentity> found =
        postern::LookUpUser(config->smtpd_user, "smtpd_user");
    if (!found.ok()) return Fail(found.status().message());
    user = *found;
    chroot_dir = config->run_directory + "/empty";
  }
  tzset();  // the Received header's zone, before /etc/localtime is out of reach
  postern::Worker worker(std::move(*config), channel_fd);
  if (postern::Status s = worker.Prepare(); !s.ok()) return Fail(s.message());
  if (postern::Status s = postern::DropPrivileges(user, chroot_dir); !s.ok())
    return Fail("cannot drop privileges: " + s.message());
  LOG_INFO("ready");
  worker.Run();
  return 0;
}
