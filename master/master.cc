// master/master.cc — see master/master.h.
#include "master/master.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "lib/base/descriptor_budget.h"
#include "lib/base/log.h"
#include "lib/base/pid_file.h"
#include "lib/base/version.h"
#include "lib/config/config_keys.h"
#include "lib/config/listener_files.h"
#include "lib/ipc/messages_control.h"
#include "lib/ipc/status_report.h"
#include "lib/net/client_refusal.h"
#include "lib/net/tcp_listener.h"
#include "lib/net/unix_socket.h"
#include "lib/policy/resource_check.h"
#include "lib/smtp/reply_catalogue.h"
#include "lib/tls/tls_credentials.h"

namespace postern {
namespace {

constexpr Duration kServiceStopTimeout = std::chrono::seconds(10);
constexpr int kQueueManagerStartSeconds = 30;

Result<std::pair<IpAddress, uint16_t>> FromSockaddr(const sockaddr_storage& ss) {
  std::optional<IpAddress> address =
      IpAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&ss));
  if (!address) return Status::Error("not an IP socket");
  uint16_t port = ss.ss_family == AF_INET6
                      ? ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port)
                      : ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
  return std::make_pair(address->Unmapped(), port);
}

// The address a client reached: the listening socket's own, unless that is a
// wildcard (0.0.0.0, ::), which only getsockname(2) can resolve.
Result<std::pair<IpAddress, uint16_t>> LocalAddress(int fd, const BindAddress& bound) {
  const IpAddress wildcard{.family = bound.address.family};
  if (!(bound.address == wildcard)) return std::make_pair(bound.address.Unmapped(), bound.port);
  sockaddr_storage ss{};
  socklen_t length = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &length) != 0)
    return Status::Error(strerror(errno));
  return FromSockaddr(ss);
}

// "2026-11-30T12:00:00Z".
std::string FormatUtc(WallTime time) {
  time_t seconds = std::chrono::system_clock::to_time_t(time);
  tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32];
  strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

}  // namespace

Master::Master(event_base* base, std::unique_ptr<Config> config, ChildUsers users)
    : config_(std::move(config)), users_(std::move(users)), base_(base) {
  listeners_ = std::make_unique<ListenerSockets>(
      base_, [this](int fd, const sockaddr_storage& peer, const BindAddress& bound,
                    const std::vector<const ListenerConfig*>& candidates) {
        Accept(fd, peer, bound, candidates);
      });
  pool_ = std::make_unique<WorkerPool>(base_, &clock_, &table_, &resources_,
                                       config_->run_directory + "/qmgr.sock",
                                       config_->run_directory + "/authd.sock");
  pool_->SetConfig(config_.get());
  queue_control_ = std::make_unique<QueueControlClient>(
      base_, QueueControlSocket(config_->run_directory), &clock_);
  metrics_ = std::make_unique<MetricsEndpoint>(
      base_, queue_control_.get(), [this](PrometheusText* text) { WriteMetrics(text); });
  control_ = std::make_unique<ControlServer>(
      base_, [this](const std::string& verb, const std::vector<std::string>& args) {
        return HandleControl(verb, args);
      });
}

Master::~Master() {
  control_.reset();
  listeners_.reset();
  supervisor_.reset();
  pool_.reset();
  metrics_.reset();
  queue_control_.reset();
  for (int fd : {service_sockets_.queue, service_sockets_.queue_control, service_sockets_.auth,
                 service_sockets_.metrics})
    if (fd >= 0) close(fd);
  if (pid_file_written_) fs_.RemoveFile(MasterPidFile(config_->run_directory));
}

Status Master::PrepareDirectories() {
  const Config& c = *config_;
  std::string mail = c.mail_directory.empty() ? c.state_directory + "/mail" : c.mail_directory;
  if (Status s = EnsureDirectory(c.state_directory, 0755, 0, 0); !s.ok()) return s;
  if (Status s =
          EnsureDirectory(c.state_directory + "/queue", 0700, users_.queue.uid, users_.queue.gid);
      !s.ok())
    return s;
  if (Status s = EnsureDirectory(mail, 0700, users_.queue.uid, users_.queue.gid); !s.ok()) return s;
  if (Status s = EnsureDirectory(c.run_directory, 0755, 0, 0); !s.ok()) return s;
  // smtpd's chroot: empty, and not writable by smtpd.
  return EnsureDirectory(c.run_directory + "/empty", 0555, 0, 0);
}

Status Master::CreateServiceSocket(const std::string& path, const UserIdentity* owner, int* fd) {
  Result<int> listening = ListenUnixStream(path, owner);
  if (!listening.ok()) return listening.status();
  *fd = *listening;
  return Status::Ok();
}

Status Master::BindMetricsSocket() {
  if (config_->metrics_listen.empty()) return Status::Ok();
  const BindAddress& address = config_->metrics_listen.front();
  Result<int> fd = BindTcpListener(address, "metrics_listen");
  if (!fd.ok()) return fd.status();
  service_sockets_.metrics = *fd;
  LOG_INFO("metricsd will serve http://%s/metrics", address.ToString().c_str());
  return Status::Ok();
}

Status Master::WritePidFile() {
  if (Status s = WriteMasterPidFile(&fs_, config_->run_directory, getpid()); !s.ok()) return s;
  pid_file_written_ = true;
  return Status::Ok();
}

Result<ResourceReadings> Master::ReadResourcesWithQueue(const Config& config) {
  Result<ResourceReadings> readings = ReadResources(config);
  if (readings.ok())
    if (std::optional<QueueSpace> space = queue_control_->Latest()) readings->queue = *space;
  return readings;
}

Status Master::WaitForQueueManager() {
  // Any answer proves qmgr runs with its queue open; a dead qmgr leaves the
  // request unanswered in the socket that master itself holds.
  Result<int> connected = ConnectUnixStream(QueueControlSocket(config_->run_directory), "qmgr");
  if (!connected.ok()) return connected.status();
  int fd = *connected;
  Status s = ipc::SendFrame(fd, ipc::ControlRequest{"ping", {}});
  // Children exiting meanwhile interrupt poll() with SIGCHLD: wait out the
  // remaining time.
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(kQueueManagerStartSeconds);
  int ready = -1;
  while (s.ok()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    ready = poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (ready >= 0 || errno != EINTR) break;
  }
  Result<ipc::Frame> reply = ready > 0 ? ipc::ReceiveStreamFrame(fd) : Status::Error("timeout");
  close(fd);
  if (!reply.ok())
    return Status::Error("qmgr did not come up within " +
                         std::to_string(kQueueManagerStartSeconds) + "s (" +
                         reply.status().message() + "): see the log");
  return Status::Ok();
}

std::string Master::BlocksFile() const { return config_->state_directory + "/blocks"; }

Status Master::LoadDynamicBlocks() {
  const std::string path = BlocksFile();
  Result<std::optional<std::string>> text = fs_.ReadFile(path);
  if (!text.ok()) return text.status();
  if (!text->has_value()) return Status::Ok();
  return blocks_.Load(**text, path, std::chrono::system_clock::now());
}

Status Master::SaveDynamicBlocks() {
  return WriteFileAtomically(&fs_, BlocksFile(),
                             blocks_.Serialize(std::chrono::system_clock::now()), 0600);
}

void Master::ComputeLimits() {
  server_limits_ = ServerLimits::FromConfig(*config_);
  // Never 0, which would mean no cap: a limit too small to serve anyone
  // refuses everyone.
  uint32_t capacity =
      std::max<uint32_t>(1, ConnectionCapacity(descriptor_limit_, config_->smtpd_workers));
  uint32_t configured = server_limits_.max_connections;
  if (configured != 0 && configured <= capacity) return;
  LOG_WARNING(
      "the file descriptor limit %llu lets %u smtpd worker(s) hold %u connections: "
      "max_server_connections %s is lowered to %u (raise the hard limit, e.g. systemd's "
      "LimitNOFILE, to serve more)",
      static_cast<unsigned long long>(descriptor_limit_), config_->smtpd_workers, capacity,
      configured == 0 ? "0 (no cap)" : std::to_string(configured).c_str(), capacity);
  server_limits_.max_connections = capacity;
}

Status Master::Start() {
  started_at_ = clock_.Now();
  if (Status s = PrepareDirectories(); !s.ok()) return s;
  // Before any child is started: they inherit the limit.
  Result<uint64_t> limit = RaiseDescriptorLimit();
  if (!limit.ok()) return limit.status();
  descriptor_limit_ = *limit;
  ComputeLimits();
  if (Status s = LoadDynamicBlocks(); !s.ok()) return s;
  Result<BlockListFiles> files = ReadBlockListFiles(*config_);
  if (!files.ok()) return files.status();
  block_files_ = std::move(*files);
  // The workers load these themselves; checked here so that a bad file stops
  // `postern start` with its name instead of a crash-looping worker.
  if (Result<std::map<std::string, ListenerFiles>> checked = LoadListenerFiles(*config_);
      !checked.ok())
    return checked.status();
  if (Status s = listeners_->Apply(*config_); !s.ok()) return s;
  if (Status s = WritePidFile(); !s.ok()) return s;
  if (Status s = CreateServiceSocket(config_->run_directory + "/qmgr.sock", &users_.queue,
                                     &service_sockets_.queue);
      !s.ok())
    return s;
  // Root's alone: the queue verbs read and change every message, and smtpd's
  // connections (to qmgr.sock) must not reach them.
  if (Status s = CreateServiceSocket(QueueControlSocket(config_->run_directory), nullptr,
                                     &service_sockets_.queue_control);
      !s.ok())
    return s;
  if (Status s = CreateServiceSocket(config_->run_directory + "/authd.sock", &users_.auth,
                                     &service_sockets_.auth);
      !s.ok())
    return s;
  if (Status s = BindMetricsSocket(); !s.ok()) return s;
  if (Status s = control_->Listen(config_->run_directory + "/master.sock"); !s.ok()) return s;
  // One key for master's lifetime, reloads included: a client resumes its
  // TLS session on any worker of any generation.
  Result<std::string> ticket_key = GenerateTlsTicketKey();
  if (!ticket_key.ok()) return ticket_key.status();
  pool_->SetTlsTicketKey(std::move(*ticket_key));

  Supervisor::Hooks hooks;
  hooks.smtpd_started = [this](pid_t pid, int channel) { pool_->AddWorker(pid, channel); };
  hooks.smtpd_exited = [this](pid_t pid) { SmtpdExited(pid); };
  hooks.metrics_started = [this](pid_t pid, int channel) { metrics_->Started(pid, channel); };
  hooks.all_exited = [this] { event_base_loopexit(base_, nullptr); };
  supervisor_ =
      std::make_unique<Supervisor>(base_, &clock_, users_, service_sockets_, std::move(hooks));
  supervisor_->SetConfig(config_.get());
  Status started = supervisor_->StartAll();
  if (started.ok()) started = WaitForQueueManager();
  if (started.ok() && !queue_control_->Start())
    started = Status::Error("cannot create the timer that asks qmgr for the queue's room");
  if (!started.ok()) {
    supervisor_->TerminateAllAndWait(kServiceStopTimeout);
    return started;
  }
  LOG_INFO("postern started: %zu listener(s), %u smtpd worker(s)", config_->listeners.size(),
           config_->smtpd_workers);
  return Status::Ok();
}

void Master::Accept(int fd, const sockaddr_storage& peer_address, const BindAddress& bound,
                    const std::vector<const ListenerConfig*>& candidates) {
  auto peer = FromSockaddr(peer_address);
  auto local = LocalAddress(fd, bound);
  if (!peer.ok() || !local.ok()) {
    close(fd);
    return;
  }
  Admission admission = AdmitConnection(candidates, peer->first, table_, server_limits_);
  if (admission.listener == nullptr) {
    RefuseClient(fd, peer->first, peer->second, admission.refusal);
    pool_->CountRefusal(candidates.empty() ? "" : candidates.front()->name, admission.refusal);
    return;
  }
  std::string blocked = BlockedReply(*admission.listener, peer->first, blocks_, block_files_);
  if (!blocked.empty()) {
    RefuseClient(fd, peer->first, peer->second, blocked);
    pool_->CountRefusal(admission.listener->name, blocked);
    return;
  }
  if (std::optional<std::string> shortage = resources_.Shortage(*config_)) {
    LOG_WARNING("OutOfResources: %s", shortage->c_str());
    const std::string refusal = FormatReply(reply::kInsufficientSystemResources);
    RefuseClient(fd, peer->first, peer->second, refusal);
    pool_->CountRefusal(admission.listener->name, refusal);
    return;
  }
  ClientConnection connection;
  connection.fd = fd;
  connection.conn_id = next_conn_id_++;
  connection.listener = admission.listener->name;
  connection.peer = peer->first;
  connection.peer_port = peer->second;
  connection.local = local->first;
  connection.local_port = local->second;
  table_.Add(connection.conn_id, connection.listener, connection.peer);
  pool_->Handoff(std::move(connection));
}

ipc::ControlReply Master::HandleControl(const std::string& verb,
                                        const std::vector<std::string>& args) {
  if (verb == "stop" && args.empty()) {
    BeginStop();
    return {true, "postern is stopping"};
  }
  if (verb == "reload" && args.empty()) {
    std::string trouble;
    if (Status s = Reload(&trouble); !s.ok())
      return {false, "configuration not reloaded: " + s.message()};
    LOG_INFO("configuration reloaded");
    if (!trouble.empty()) return {false, "reloaded, but " + trouble};
    return {true, "configuration reloaded"};
  }
  if (verb == "status" && args.empty()) return {true, EncodeStatusReport(Report())};
  if (verb == "block") return HandleBlock(args);
  return {false, "unknown control request \"" + verb + "\""};
}

ipc::ControlReply Master::HandleBlock(const std::vector<std::string>& args) {
  const std::string sub = args.empty() ? "" : args[0];
  if (sub == "list" && args.size() == 1) {
    std::string text;
    auto now = std::chrono::system_clock::now();
    for (const DynamicBlocks::Entry& entry : blocks_.List())
      text += entry.network.ToString() + " " +
              (entry.expiry ? "until " + FormatUtc(blocks_.WallExpiry(entry, now)) : "permanent") +
              "\n";
    return {true, text};
  }
  if ((sub != "add" || (args.size() != 2 && args.size() != 3)) &&
      (sub != "del" || args.size() != 2))
    return {false, "block takes add ADDR [DURATION] | del ADDR | list"};
  Result<Network> network = Network::Parse(args[1]);
  if (!network.ok()) return {false, "block " + sub + ": " + network.status().message()};
  std::string name = network->ToString();
  std::string done;
  if (sub == "del") {
    if (!blocks_.Remove(*network)) return {false, "block del: " + name + " is not blocked"};
    done = "unblocked " + name;
  } else {
    std::optional<Duration> duration;
    if (args.size() == 3) {
      Result<ConfigValue> value = ParseValue(KeyType::kDuration, args[2], "");
      if (!value.ok()) return {false, "block add: --for " + value.status().message()};
      duration = std::get<Duration>(*value);
      if (duration->count() == 0) return {false, "block add: --for must be longer than 0"};
    }
    blocks_.Add(*network, duration);
    done = "blocked " + name +
           (duration ? " for " + FormatValue(*duration) : std::string(" until removed"));
  }
  LOG_INFO("%s", done.c_str());
  if (Status s = SaveDynamicBlocks(); !s.ok())
    return {false, done + " in master, but the change will not survive a restart: " + s.message()};
  return {true, done};
}

StatusReport Master::Report() const {
  StatusReport report;
  report.version = kPosternVersion;
  report.uptime_seconds = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now() - started_at_).count());
  report.processes.push_back({"master", getpid(), std::nullopt, false});
  for (const Supervisor::ChildEntry& child : supervisor_->Children()) {
    ProcessStatus process{child.name, child.pid, std::nullopt, false};
    if (child.kind == ChildKind::kSmtpd) {
      std::optional<WorkerPool::WorkerLoad> load = pool_->LoadOf(child.pid);
      process.sessions = static_cast<uint32_t>(load ? load->sessions : 0);
      process.draining = load && load->draining;
    }
    report.processes.push_back(std::move(process));
  }
  for (const ListenerConfig& listener : config_->listeners) {
    ListenerStatus status{listener.name, {}, table_.CountForListener(listener.name)};
    for (const BindAddress& bind : listener.bind) status.bind.push_back(bind.ToString());
    report.listeners.push_back(std::move(status));
  }
  report.connections = table_.size();
  report.messages_last_minute = pool_->MessagesLastMinute();
  report.rejections_last_minute = pool_->RejectionsLastMinute();
  report.log = LogDestination();
  return report;
}

void Master::WriteMetrics(PrometheusText* text) const {
  using Type = PrometheusText::Type;
  text->Family("postern_build_info", Type::kGauge, "postern's version, as a label; always 1.");
  text->Sample("postern_build_info", {{"version", kPosternVersion}}, 1);
  text->Family("postern_uptime_seconds", Type::kGauge, "Seconds since master started.");
  text->Sample("postern_uptime_seconds", {},
               std::chrono::duration<double>(clock_.Now() - started_at_).count());
  std::map<std::string, uint32_t> sessions;
  for (const ListenerConfig& listener : config_->listeners)
    sessions[listener.name] = table_.CountForListener(listener.name);
  pool_->traffic().Write(text, sessions);
}

Status Master::Reload(std::string* trouble) {
  if (stopping_) return Status::Error("postern is stopping");
  Result<Config> fresh = LoadConfig(config_->config_dir);
  if (!fresh.ok()) return fresh.status();
  auto config = std::make_unique<Config>(std::move(*fresh));
  Result<BlockListFiles> files = ReadBlockListFiles(*config);
  if (!files.ok()) return files.status();
  if (Result<std::map<std::string, ListenerFiles>> checked = LoadListenerFiles(*config);
      !checked.ok())
    return checked.status();
  if (Status s = listeners_->Apply(*config); !s.ok()) return s;
  block_files_ = std::move(*files);
  if (config->metrics_listen != config_->metrics_listen)
    LOG_WARNING("metrics_listen changed: metricsd keeps serving %s until postern is restarted",
                config_->metrics_listen.empty()
                    ? "nothing"
                    : config_->metrics_listen.front().ToString().c_str());
  pool_->DrainAll();
  config_ = std::move(config);
  ComputeLimits();
  pool_->SetConfig(config_.get());
  supervisor_->SetConfig(config_.get());
  Status started = supervisor_->StartSmtpdGeneration();
  supervisor_->SignalServices(SIGHUP);
  if (!started.ok()) *trouble = started.message();
  return Status::Ok();
}

void Master::BeginStop() {
  if (stopping_) return;
  stopping_ = true;
  LOG_INFO("stopping: no new connections; waiting up to %lld ms for %zu session(s)",
           static_cast<long long>(config_->shutdown_grace.count()), table_.size());
  listeners_->CloseAll();
  supervisor_->StopRestarting();
  pool_->DrainAll();
  grace_timer_.reset(evtimer_new(base_, OnGraceExpired, this));
  timeval tv = ToTimeval(config_->shutdown_grace);
  evtimer_add(grace_timer_.get(), &tv);
  if (supervisor_->CountKind(ChildKind::kSmtpd) == 0) supervisor_->SignalServices(SIGTERM);
}

void Master::OnGraceExpired(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<Master*>(self_ptr);
  if (self->supervisor_->CountKind(ChildKind::kSmtpd) > 0) {
    LOG_WARNING("shutdown_grace expired: ending the remaining sessions");
    self->supervisor_->SignalKind(ChildKind::kSmtpd, SIGTERM);
    timeval tv = ToTimeval(kServiceStopTimeout);
    evtimer_add(self->grace_timer_.get(), &tv);
    return;
  }
  LOG_WARNING("children did not stop in time; killing them");
  self->supervisor_->SignalKind(ChildKind::kSmtpd, SIGKILL);
  self->supervisor_->SignalServices(SIGKILL);
}

void Master::SmtpdExited(pid_t pid) {
  pool_->WorkerExited(pid);
  if (stopping_ && supervisor_->CountKind(ChildKind::kSmtpd) == 0) {
    supervisor_->SignalServices(SIGTERM);
    timeval tv = ToTimeval(kServiceStopTimeout);
    evtimer_add(grace_timer_.get(), &tv);
  }
}

}  // namespace postern
