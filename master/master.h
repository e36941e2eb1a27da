// master/master.h — the master daemon: owns listeners, limits and children.
//
// Accepts every client connection, decides at connection level (the
// admission events of MS-OXSMTP 3.2.7, IPAddressNotAllowed included: static,
// dynamic and block-list file blocks) and hands accepted connections to an
// smtpd worker, which asks the listener's DNSBL zones before its banner
// (master runs as root and parses no network input: no DNS); keeps the dynamic
// blocks (postern block), persisted in state_directory/blocks; makes the one
// TLS session ticket key that every worker of every generation shares;
// supervises qmgr, authd and the workers; answers the control CLI (stop, reload,
// status, block); on SIGTERM stops accepting, lets sessions finish for
// shutdown_grace, then stops its children and exits; on SIGHUP re-reads the
// configuration and replaces the workers without dropping an established
// session.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lib/base/file_system.h"
#include "lib/config/config.h"
#include "lib/ipc/status_report.h"
#include "lib/net/event_handles.h"
#include "lib/policy/connection_admission.h"
#include "lib/policy/ip_blocks.h"
#include "lib/policy/resource_check.h"
#include "master/control_server.h"
#include "master/listener_sockets.h"
#include "master/metrics_endpoint.h"
#include "master/queue_control_client.h"
#include "master/supervisor.h"
#include "master/worker_pool.h"

namespace postern {

class Master {
 public:
  // base (lib/base/daemon_main's loop) outlives master; master ends its
  // loop once every child has exited after BeginStop().
  Master(event_base* base, std::unique_ptr<Config> config, ChildUsers users);
  ~Master();

  // Directories, sockets, pid file, children; returns once qmgr answers.
  // On failure, whatever was started is stopped again.
  Status Start();
  // SIGTERM, SIGINT and the stop verb: no new connections, sessions get
  // shutdown_grace, then the children are stopped and the loop ends.
  void BeginStop();
  // SIGHUP and the reload verb. An error: nothing changed (the why). Ok:
  // reloaded; *trouble then names what did not follow (new smtpd workers
  // that could not start), or is left empty.
  Status Reload(std::string* trouble);

 private:
  static void OnGraceExpired(evutil_socket_t, short, void* self);
  Status PrepareDirectories();
  // owner: the service's user, or nullptr to keep master's (root).
  Status CreateServiceSocket(const std::string& path, const UserIdentity* owner, int* fd);
  Status WritePidFile();
  Status WaitForQueueManager();
  void Accept(int fd, const sockaddr_storage& peer, const BindAddress& bound,
              const std::vector<const ListenerConfig*>& candidates);
  ipc::ControlReply HandleControl(const std::string& verb, const std::vector<std::string>& args);
  ipc::ControlReply HandleBlock(const std::vector<std::string>& args);
  std::string BlocksFile() const;
  Status LoadDynamicBlocks();
  Status SaveDynamicBlocks();
  // master's part of `postern status` (lib/ipc/status_report.h).
  StatusReport Report() const;
  // master's families of metrics_listen (master/metrics_endpoint.h).
  void WriteMetrics(PrometheusText* text) const;
  // Binds metrics_listen, when set, for metricsd.
  Status BindMetricsSocket();
  void SmtpdExited(pid_t pid);
  // The server-wide limits of admission: max_server_connections, lowered
  // to what the workers can hold with the descriptor limit in force
  // (lib/base/descriptor_budget), with a warning when it is.
  void ComputeLimits();
  Result<ResourceReadings> ReadResourcesWithQueue(const Config& config);

  std::unique_ptr<Config> config_;
  ChildUsers users_;
  event_base* base_;
  ConnectionTable table_;
  SystemClock clock_;
  TimePoint started_at_{};  // for the uptime in `postern status`
  // The pid file and the blocks file go through it (lib/base/file_system.h).
  PosixFileSystem fs_;
  DynamicBlocks blocks_{&clock_};
  // Reads statvfs, data.mdb and memory, with qmgr's figures for the queue
  // (queue_control_) when it answered lately.
  ResourceMonitor resources_{&clock_, std::chrono::seconds(1), [this](const Config& config) {
                               return ReadResourcesWithQueue(config);
                             }};
  std::unique_ptr<QueueControlClient> queue_control_;
  std::unique_ptr<MetricsEndpoint> metrics_;
  BlockListFiles block_files_;
  std::unique_ptr<ListenerSockets> listeners_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<Supervisor> supervisor_;
  std::unique_ptr<ControlServer> control_;
  EventPtr grace_timer_;
  ServiceSockets service_sockets_;
  uint64_t next_conn_id_ = 1;
  uint64_t descriptor_limit_ = 0;  // RLIMIT_NOFILE after raising it
  ServerLimits server_limits_;
  bool stopping_ = false;
  bool pid_file_written_ = false;
};

}  // namespace postern
