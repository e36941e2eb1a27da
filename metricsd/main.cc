// metricsd/main.cc — metricsd on the daemon skeleton: descriptors, the jail.
//
// Started by master as root (`metricsd -c CONFIG_DIR --channel-fd 3
// --listen-fd 4`; lib/base/daemon_main.h runs it) with the channel to master
// on fd 3 and the listening socket of metrics_listen, which master bound,
// on fd 4. It opens nothing itself: it checks both descriptors, then, like
// smtpd, chroots into run_directory/empty and becomes smtpd_user
// (lib/base/privileges.h SmtpdJail) before it accepts a connection, so the
// one process that parses HTTP from the network can read no file and holds
// no privilege. All HTTP handling is metricsd/metrics_server's. It reads no
// configuration after start, so SIGHUP changes nothing; SIGTERM ends it at
// once; when master goes away it answers what it holds and exits 0.
#include <sys/socket.h>

#include <memory>
#include <string>

#include "lib/base/daemon_main.h"
#include "lib/base/daemon_support.h"
#include "lib/base/log.h"
#include "lib/base/privileges.h"
#include "lib/config/config.h"
#include "metricsd/metrics_server.h"

namespace postern {
namespace {

// The channel must be master's SOCK_SEQPACKET end, not any descriptor.
Status CheckChannel(int fd) {
  int type = 0;
  socklen_t length = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0)
    return Status::FromErrno("the channel to master (fd " + std::to_string(fd) + ")", errno);
  if (type != SOCK_SEQPACKET)
    return Status::Error("the channel to master (fd " + std::to_string(fd) +
                         ") is not a SOCK_SEQPACKET socket");
  return Status::Ok();
}

class Metricsd : public DaemonProgram {
 public:
  explicit Metricsd(const DaemonOptions& options)
      : channel_fd_(options.channel_fd), listen_fd_(options.listen_fd) {}

  Status Prepare(Config config) override {
    if (channel_fd_ < 0 || listen_fd_ < 0)
      return Status::Error("metricsd runs under master (--channel-fd N --listen-fd M)");
    if (Status s = CheckChannel(channel_fd_); !s.ok()) return s;
    if (Status s = AdoptListeningSocket(listen_fd_); !s.ok()) return s;
    Result<Jail> jail = SmtpdJail(config);
    if (!jail.ok()) return jail.status();
    jail_ = std::move(*jail);
    return Status::Ok();
  }

  Status Start(event_base* base) override {
    // Made while still root, so the channel may enlarge its socket buffer.
    server_ =
        std::make_unique<MetricsServer>(base, listen_fd_, channel_fd_, MetricsServer::Limits{});
    if (Status s = EnterJail(jail_); !s.ok()) return s;
    return server_->Start();
  }

  bool Stop() override { return true; }

  bool Reloads() const override { return false; }
  Status Reload() override { PANIC("metricsd reloads nothing; SIGHUP never reaches Reload()"); }

 private:
  int channel_fd_;
  int listen_fd_;
  Jail jail_;
  std::unique_ptr<MetricsServer> server_;
};

}  // namespace
}  // namespace postern

int main(int argc, char** argv) {
  const postern::DaemonSpec spec{
      .name = "metricsd",
      .takes = postern::kChannelFdOption | postern::kListenFdOption,
      .usage = "usage: metricsd -c CONFIG_DIR --channel-fd N --listen-fd M [-v|--verbose]",
      .extras = {}};
  return postern::RunDaemon(spec, argc, argv, [](const postern::DaemonOptions& options) {
    return std::make_unique<postern::Metricsd>(options);
  });
}
