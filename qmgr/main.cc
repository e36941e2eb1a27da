// qmgr/main.cc — the qmgr daemon: its socket and queue on the daemon skeleton.
//
//   qmgr -c CONFIG_DIR [-l N --control-fd N] [-d] [-v]   (lib/base/daemon_main.h runs it)
//
// qmgr is the only process that opens the LMDB queue (state_directory/
// queue). Under master it gets the message socket (qmgr.sock, owned by
// queue_user) as -l/--listen-fd and the control socket (qmgr-control.sock,
// root's) as --control-fd, and never forks. Stand-alone (tests,
// development) it binds both itself, mode 0600, removes them when it stops,
// and stays in the foreground unless -d/--daemon is given. The queue is opened only after the
// configuration and the socket are in order, so a bad start never touches it; then orphans are
// recovered and every pending local recipient is delivered.
//
// SIGTERM or SIGINT: commit the open transaction (answering every message
// that waits for it), let the delivery in hand finish, exit 0. SIGHUP:
// re-read the configuration for later deliveries (the queue and the socket
// stay as they are).
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lib/base/clock.h"
#include "lib/base/daemon_main.h"
#include "lib/base/daemon_support.h"
#include "lib/base/file_system.h"
#include "lib/base/log.h"
#include "lib/base/privileges.h"
#include "lib/config/config.h"
#include "lib/config/relay_password.h"
#include "lib/net/unix_socket.h"
#include "lib/policy/resource_check.h"
#include "lib/queue/queue_store.h"
#include "qmgr/queue_manager.h"
#include "qmgr/queue_server.h"

namespace postern {
namespace {

class Qmgr : public DaemonProgram {
 public:
  Qmgr(const DaemonOptions& options, int control_fd)
      : listen_fd_(options.listen_fd), control_fd_(control_fd) {}

  ~Qmgr() override {
    // The server before the manager, the manager (joining its worker)
    // before the store.
    server_.reset();
    manager_.reset();
    store_.reset();
    for (const std::string& path : own_sockets_) unlink(path.c_str());
  }

  // Master starts qmgr as root: the relay password is read here, the file
  // readable by root alone, and then qmgr becomes queue_user for good,
  // before it opens the queue.
  Status Prepare(Config config) override {
    config_ = std::make_shared<const Config>(std::move(config));
    if (!config_->relay_auth_user.empty()) {
      Result<std::string> password = ReadRelayPassword(config_->relay_password_file);
      if (!password.ok()) return password.status();
      relay_password_ = std::move(*password);
    }
    // Started by master (with the socket to serve): become queue_user. Run
    // by hand, qmgr keeps the identity it was given, as smtpd -S does.
    const bool under_master = listen_fd_ >= 0;
    if (under_master != (control_fd_ >= 0))
      return Status::Error("--listen-fd and --control-fd go together (master passes both)");
    if (!under_master) {
      for (auto [path, fd] :
           {std::pair{config_->run_directory + "/qmgr.sock", &listen_fd_},
            std::pair{QueueControlSocket(config_->run_directory), &control_fd_}}) {
        Result<int> bound = ListenUnixStream(path, nullptr);
        if (!bound.ok()) return bound.status();
        own_sockets_.push_back(path);
        *fd = *bound;
      }
    }
    for (int fd : {listen_fd_, control_fd_})
      if (Status s = AdoptListeningSocket(fd); !s.ok()) return s;
    if (!under_master || !RunningAsRoot()) return Status::Ok();
    Result<UserIdentity> user = LookUpUser(config_->queue_user, "queue_user");
    if (!user.ok()) return user.status();
    if (Status s = DropPrivileges(*user, ""); !s.ok())
      return Status::Error("cannot drop privileges: " + s.message());
    return Status::Ok();
  }

  Status Start(event_base* base) override {
    Result<uint64_t> file_system = FileSystemSize(config_->state_directory);
    if (!file_system.ok()) return file_system.status();
    uint64_t map_size = QueueMapSize(config_->queue_map_size, *file_system);
    Result<std::unique_ptr<QueueStore>> store =
        QueueStore::Open(config_->state_directory + "/queue", map_size);
    if (!store.ok()) return store.status();
    LOG_INFO(
        "queue map: %llu MB (%s)", static_cast<unsigned long long>(map_size >> 20),
        config_->queue_map_size != 0 ? "queue_map_size" : "the file system of state_directory");
    store_ = std::move(*store);
    manager_ = std::make_unique<QueueManager>(base, &clock_, store_.get(), &file_system_, config_);
    manager_->SetRelayPassword(std::move(relay_password_));
    relay_password_.clear();
    if (Status s = manager_->Start(); !s.ok()) return s;
    server_ = std::make_unique<QueueServer>(base, listen_fd_, control_fd_, manager_.get());
    return server_->Start();
  }

  bool Stop() override {
    if (server_) server_->StopAccepting();
    if (manager_) manager_->Shutdown();
    if (server_) server_->CloseAll();
    return true;
  }

  // The relay password stays the one read at start (the file is root's):
  // a new relay_auth_user or password file takes a restart of qmgr.
  Status Reload() override {
    Result<Config> fresh = LoadConfig(config_->config_dir);
    if (!fresh.ok()) return fresh.status();
    if (fresh->relay_auth_user != config_->relay_auth_user ||
        fresh->relay_password_file != config_->relay_password_file)
      LOG_WARNING(
          "relay_auth_user or relay_password_file changed: qmgr keeps the password read at "
          "start until it is restarted (postern stop, postern start)");
    config_ = std::make_shared<const Config>(std::move(*fresh));
    manager_->Reconfigure(config_);
    return Status::Ok();
  }

 private:
  int listen_fd_;
  int control_fd_;
  std::vector<std::string> own_sockets_;  // bound here, so removed here
  std::shared_ptr<const Config> config_;
  std::string relay_password_;  // from Prepare() (as root) to Start()
  PosixFileSystem file_system_;
  SystemClock clock_;
  std::unique_ptr<QueueStore> store_;
  std::unique_ptr<QueueManager> manager_;
  std::unique_ptr<QueueServer> server_;
};

}  // namespace
}  // namespace postern

int main(int argc, char** argv) {
  int control_fd = -1;
  const postern::DaemonSpec spec{
      .name = "qmgr",
      .takes = postern::kListenFdOption | postern::kDaemonOption,
      .usage =
          "usage: qmgr -c CONFIG_DIR [-l|--listen-fd N --control-fd N] [-d|--daemon] "
          "[-v|--verbose]",
      .extras = {{"control-fd", 0, true, [&](const char* text) {
                    std::optional<int> fd = postern::ParseDescriptor(text);
                    if (fd) control_fd = *fd;
                    return fd.has_value();
                  }}}};
  return postern::RunDaemon(spec, argc, argv, [&](const postern::DaemonOptions& options) {
    return std::make_unique<postern::Qmgr>(options, control_fd);
  });
}
