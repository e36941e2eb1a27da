// smtpd/main.cc — the smtpd worker on the daemon skeleton: privilege drop, chroot.
//
// Started by master as root with the master channel on fd 3
// (`smtpd -c CONFIG_DIR --channel-fd 3`; lib/base/daemon_main.h runs it);
// prepares what needs the file system (the listeners' TLS keys,
// resolv.conf), then chroots into an empty directory and becomes the
// unprivileged smtpd_user before it reads a single byte from a client, so a
// compromised worker can open neither the TLS keys nor the password
// database nor the queue. A start-up error (an unreadable TLS key, say) ends
// the worker with status 1; master logs it and restarts it with back-off.
// `smtpd -S` runs one session on stdin/stdout for debugging and dialog tests.
// A worker takes a new configuration only by being replaced (master starts
// a new generation on reload), so SIGHUP changes nothing.
#include <memory>
#include <string>

#include "lib/base/daemon_main.h"
#include "lib/base/log.h"
#include "lib/base/privileges.h"
#include "lib/config/config.h"
#include "smtpd/worker.h"

namespace postern {
namespace {

struct StandaloneOptions {
  bool on = false;
  std::string listener;
  std::string client = "127.0.0.1";
};

class Smtpd : public DaemonProgram {
 public:
  Smtpd(const DaemonOptions& options, const StandaloneOptions& standalone)
      : channel_fd_(options.channel_fd), standalone_(standalone) {}

  Status Prepare(Config config) override {
    config_ = std::move(config);
    if (!standalone_.on && channel_fd_ < 0)
      return Status::Error("smtpd runs under master (--channel-fd N) or stand-alone (-S)");
    if (standalone_.on) return Status::Ok();
    Result<Jail> jail = SmtpdJail(config_);
    if (!jail.ok()) return jail.status();
    jail_ = std::move(*jail);
    return Status::Ok();
  }

  // Stand-alone mode may read a regular file on stdin, which epoll refuses.
  event_base* NewEventBase() override {
    if (!standalone_.on) return DaemonProgram::NewEventBase();
    std::unique_ptr<event_config, void (*)(event_config*)> cfg(event_config_new(),
                                                               event_config_free);
    if (!cfg) return nullptr;
    event_config_avoid_method(cfg.get(), "epoll");
    return event_base_new_with_config(cfg.get());
  }

  Status Start(event_base* base) override {
    if (standalone_.on) {
      worker_ = std::make_unique<Worker>(base, std::move(config_), -1);
      if (Status s = worker_->Prepare(); !s.ok()) return s;
      return worker_->StartStandalone(standalone_.listener, standalone_.client);
    }
    // Made while still root, so the channel may enlarge its socket buffer.
    worker_ = std::make_unique<Worker>(base, std::move(config_), channel_fd_);
    if (Status s = worker_->Prepare(); !s.ok()) return s;
    if (Status s = EnterJail(jail_); !s.ok()) return s;
    worker_->Start();
    return Status::Ok();
  }

  bool Stop() override {
    worker_->Stop();
    return true;
  }

  Status Reload() override {
    return Status::Error("an smtpd worker takes a new configuration only when master replaces it");
  }

 private:
  int channel_fd_;
  StandaloneOptions standalone_;
  Config config_;
  Jail jail_;
  std::unique_ptr<Worker> worker_;
};

}  // namespace
}  // namespace postern

int main(int argc, char** argv) {
  postern::StandaloneOptions standalone;
  const postern::DaemonSpec spec{
      .name = "smtpd",
      .takes = postern::kChannelFdOption,
      .usage =
          "usage: smtpd -c CONFIG_DIR --channel-fd N [-v|--verbose]\n"
          "       smtpd -c CONFIG_DIR -S [--listener NAME] [--client ADDRESS] "
          "[-v|--verbose]",
      .extras = {{"standalone", 'S', false,
                  [&](const char*) {
                    standalone.on = true;
                    return true;
                  }},
                 {"listener", 0, true,
                  [&](const char* name) {
                    standalone.listener = name;
                    return true;
                  }},
                 {"client", 0, true, [&](const char* address) {
                    standalone.client = address;
                    return true;
                  }}}};
  return postern::RunDaemon(spec, argc, argv, [&](const postern::DaemonOptions& options) {
    return std::make_unique<postern::Smtpd>(options, standalone);
  });
}
