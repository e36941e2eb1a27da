// qmgr/main.cc — the qmgr daemon: command line, queue socket, signals, event loop.
//
//   qmgr -c CONFIG_DIR [--listen-fd N] [--foreground] [-v]
//
// qmgr is the only process that opens the LMDB queue (state_directory/
// queue). Under master it gets the queue socket as --listen-fd (master has
// already dropped it to queue_user) and never forks. Stand-alone (tests,
// development) it binds run_directory/qmgr.sock itself, mode 0600, and
// detaches from the terminal unless --foreground is given. The queue is
// opened only after the configuration and the socket are in order, so a
// bad start never touches it; then orphans are recovered and every pending
// local recipient is delivered.
//
// SIGTERM or SIGINT: commit the open transaction (answering every message
// that waits for it), let the delivery in hand finish, exit 0. SIGHUP:
// re-read the configuration for later deliveries (the queue and the socket
// stay as they are).
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "lib/base/daemon_support.h"
#include "lib/base/file_system.h"
#include "lib/base/log.h"
#include "lib/config/config.h"
#include "lib/net/event_handles.h"
#include "lib/net/unix_socket.h"
#include "lib/queue/queue_store.h"
#include "qmgr/queue_manager.h"
#include "qmgr/queue_server.h"

namespace postern {
namespace {

struct Options {
  std::string config_dir;
  int listen_fd = -1;
  bool foreground = false;
  bool verbose = false;
};

[[noreturn]] void Usage() {
  fprintf(stderr, "usage: qmgr -c CONFIG_DIR [--listen-fd N] [--foreground] [-v]\n");
  exit(2);
}

Options ParseOptions(int argc, char** argv) {
  Options options;
  static const option kOptions[] = {{"listen-fd", required_argument, nullptr, 'f'},
                                    {"foreground", no_argument, nullptr, 'F'},
                                    {nullptr, 0, nullptr, 0}};
  for (int c; (c = getopt_long(argc, argv, "c:v", kOptions, nullptr)) != -1;) {
    switch (c) {
      case 'c':
        options.config_dir = optarg;
        break;
      case 'v':
        options.verbose = true;
        break;
      case 'F':
        options.foreground = true;
        break;
      case 'f': {
        std::optional<int> fd = ParseDescriptor(optarg);
        if (!fd) Usage();
        options.listen_fd = *fd;
        break;
      }
      default:
        Usage();
    }
  }
  if (options.config_dir.empty() || optind != argc) Usage();
  return options;
}

class Daemon {
 public:
  Daemon(std::shared_ptr<const Config> config, int listen_fd)
      : config_(std::move(config)), listen_fd_(listen_fd) {}

  Status Run() {
    base_.reset(event_base_new());
    if (!base_) return Status::Error("cannot create the event loop");
    Result<std::unique_ptr<QueueStore>> store =
        QueueStore::Open(config_->state_directory + "/queue", config_->queue_map_size);
    if (!store.ok()) return store.status();
    store_ = std::move(*store);
    manager_ =
        std::make_unique<QueueManager>(base_.get(), &clock_, store_.get(), &file_system_, config_);
    if (Status s = manager_->Start(); !s.ok()) return s;
    server_ = std::make_unique<QueueServer>(base_.get(), listen_fd_, manager_.get());
    if (Status s = server_->Start(); !s.ok()) return s;
    for (int signo : {SIGTERM, SIGINT, SIGHUP}) {
      signals_.emplace_back(evsignal_new(base_.get(), signo, OnSignal, this));
      if (!signals_.back() || event_add(signals_.back().get(), nullptr) != 0)
        return Status::Error("cannot watch signal " + std::to_string(signo));
    }
    LOG_INFO("ready");
    event_base_dispatch(base_.get());
    return Status::Ok();
  }

 private:
  static void OnSignal(evutil_socket_t signo, short, void* self) {
    Daemon* daemon = static_cast<Daemon*>(self);
    if (signo == SIGHUP) return daemon->Reload();
    LOG_INFO("stopping on signal %d", static_cast<int>(signo));
    daemon->server_->StopAccepting();
    daemon->manager_->Shutdown();
    daemon->server_->CloseAll();
    event_base_loopbreak(daemon->base_.get());
  }

  void Reload() {
    Result<Config> fresh = LoadConfig(config_->config_dir);
    if (!fresh.ok()) {
      LOG_ERROR("reload failed, keeping the old configuration: %s",
                fresh.status().message().c_str());
      return;
    }
    config_ = std::make_shared<const Config>(std::move(*fresh));
    manager_->Reconfigure(config_);
    LOG_INFO("configuration reloaded");
  }

  std::shared_ptr<const Config> config_;
  int listen_fd_;
  PosixFileSystem file_system_;
  SystemClock clock_;
  // Destroyed in reverse order: events and the server before the manager,
  // the manager (joining its worker) before the store, all before the base.
  EventBasePtr base_;
  std::unique_ptr<QueueStore> store_;
  std::unique_ptr<QueueManager> manager_;
  std::unique_ptr<QueueServer> server_;
  std::vector<EventPtr> signals_;
};

int Fail(const std::string& what) {
  LOG_ERROR("%s", what.c_str());
  return 1;
}

int Main(int argc, char** argv) {
  Options options = ParseOptions(argc, argv);
  Result<Config> loaded = LoadConfig(options.config_dir);
  if (!loaded.ok()) {
    fprintf(stderr, "qmgr: %s\n", loaded.status().message().c_str());
    return 1;
  }
  auto config = std::make_shared<const Config>(std::move(*loaded));
  const bool under_master = options.listen_fd >= 0;
  if (under_master)
    LogInitFromEnvironment("qmgr");
  else
    LogInit("qmgr", config->log_syslog);
  if (options.verbose) LogSetVerbose(true);
  signal(SIGPIPE, SIG_IGN);

  std::string own_socket;
  int listen_fd = options.listen_fd;
  if (!under_master) {
    own_socket = config->run_directory + "/qmgr.sock";
    Result<int> bound = ListenUnixStream(own_socket, nullptr);
    if (!bound.ok()) return Fail(bound.status().message());
    listen_fd = *bound;
  }
  if (Status s = AdoptListeningSocket(listen_fd); !s.ok()) return Fail(s.message());
  if (!under_master && !options.foreground) {
    if (Status s = Daemonize(); !s.ok()) return Fail(s.message());
  }
  Status result = Daemon(config, listen_fd).Run();
  if (!own_socket.empty()) unlink(own_socket.c_str());
  if (!result.ok()) return Fail(result.message());
  LOG_INFO("stopped");
  return 0;
}

}  // namespace
}  // namespace postern

int main(int argc, char** argv) { return postern::Main(argc, argv); }
