// master/worker_pool.cc — see master/worker_pool.h.
#include "master/worker_pool.h"

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/base/log.h"
#include "lib/base/syslog_socket.h"
#include "lib/net/client_refusal.h"
#include "lib/net/unix_socket.h"

namespace postern {

WorkerPool::WorkerPool(event_base* base, const Clock* clock, ConnectionTable* table,
                       ResourceMonitor* resources, std::string queue_socket_path,
                       std::string auth_socket_path)
    : base_(base),
      clock_(clock),
      table_(table),
      queue_socket_path_(std::move(queue_socket_path)),
      auth_socket_path_(std::move(auth_socket_path)),
      resources_(resources) {
  policy_timer_.reset(event_new(base_, -1, EV_PERSIST, OnPolicyTimer, this));
  timeval every = ToTimeval(kPolicyInterval);
  evtimer_add(policy_timer_.get(), &every);
}

WorkerPool::~WorkerPool() {
  for (auto& [id, pending] : pending_) close(pending.connection.fd);
  workers_.clear();
  explicit_bzero(tls_ticket_key_.data(), tls_ticket_key_.size());
}

void WorkerPool::AddWorker(pid_t pid, int channel) {
  Worker& worker = workers_[pid];
  worker.pid = pid;
  Worker* self = &worker;
  worker.channel = std::make_unique<DatagramChannel>(
      base_, channel, "smtpd " + std::to_string(pid),
      DatagramChannel::Handlers{
          .frame = [this, self](ipc::Datagram& datagram) { Dispatch(self, datagram); },
          .failed = [this, self](const std::string& why,
                                 bool peer_closed) { ChannelFailed(self, why, peer_closed); }});
  // The channel keeps datagrams in order, so the key is there before the
  // first hand-off. A worker that misses it still works, without tickets.
  Send(&worker, ipc::TlsTicketKey{tls_ticket_key_}, "the TLS ticket key");
  Send(&worker, mail_policy_, "the MAIL check policy");
}

void WorkerPool::SetConfig(const Config* config) {
  config_ = config;
  // From the loop: master may still be putting itself together.
  event_active(policy_timer_.get(), EV_TIMEOUT, 0);
}

void WorkerPool::OnPolicyTimer(evutil_socket_t, short, void* self) {
  static_cast<WorkerPool*>(self)->RefreshMailCheckPolicy();
}

void WorkerPool::RefreshMailCheckPolicy() {
  if (config_ == nullptr) return;
  ipc::MailCheckPolicy policy =
      MailCheckPolicyFor(*config_, !resources_->Shortage(*config_).has_value());
  if (policy == mail_policy_) return;
  mail_policy_ = std::move(policy);
  for (auto& [pid, worker] : workers_)
    if (!worker.draining) Send(&worker, mail_policy_, "the MAIL check policy");
}

void WorkerPool::LogSendFailure(Worker* worker, const Status& sent, const char* what) {
  if (!sent.ok())
    LOG_WARNING("cannot send %s to smtpd %d: %s", what, worker->pid, sent.message().c_str());
}

// A worker that closed its channel is exiting; one that stopped reading it,
// or broke its framing, can no longer be told anything nor report its
// sessions' ends, so its counts would drift: it is ended, and the
// supervisor starts another.
void WorkerPool::ChannelFailed(Worker* worker, const std::string& why, bool peer_closed) {
  worker->draining = true;
  if (peer_closed) {
    LOG_INFO("%s", why.c_str());
  } else {
    LOG_ERROR("%s; killing smtpd %d", why.c_str(), worker->pid);
    kill(worker->pid, SIGKILL);
  }
  ReassignPending(worker->pid);
}

void WorkerPool::WorkerExited(pid_t pid) {
  auto it = workers_.find(pid);
  if (it == workers_.end()) return;
  for (uint64_t conn_id : it->second.sessions) table_->Remove(conn_id);
  it->second.draining = true;
  ReassignPending(pid);
  workers_.erase(pid);
}

// Connections a worker never acknowledged are still master's.
void WorkerPool::ReassignPending(pid_t worker) {
  std::vector<uint64_t> orphaned;
  for (auto& [id, pending] : pending_)
    if (pending.worker == worker) orphaned.push_back(id);
  for (uint64_t id : orphaned)
    HandoffExcept(TakePending(pending_.find(id)), worker, reply::kConnectionDropped);
}

ClientConnection WorkerPool::TakePending(std::map<uint64_t, Pending>::iterator it) {
  auto worker = workers_.find(it->second.worker);
  if (worker != workers_.end()) --worker->second.handoffs_in_flight;
  ClientConnection connection = std::move(it->second.connection);
  pending_.erase(it);
  return connection;
}

void WorkerPool::DrainAll() {
  for (auto& [pid, worker] : workers_) {
    if (worker.draining) continue;
    worker.draining = true;
    // Its remaining sessions ask master at every MAIL, so a reload's new
    // limits reach them too.
    Send(&worker, ipc::MailCheckPolicy{}, "the MAIL check policy");
    Send(&worker, ipc::Drain{}, "the drain request");
  }
}

size_t WorkerPool::live_workers() const {
  size_t n = 0;
  for (auto& [pid, worker] : workers_) n += !worker.draining;
  return n;
}

std::optional<WorkerPool::WorkerLoad> WorkerPool::LoadOf(pid_t pid) const {
  auto it = workers_.find(pid);
  if (it == workers_.end()) return std::nullopt;
  return WorkerLoad{it->second.sessions.size(), it->second.draining};
}

WorkerPool::Worker* WorkerPool::PickWorker(pid_t exclude) {
  Worker* best = nullptr;
  size_t best_load = 0;
  for (auto& [pid, worker] : workers_) {
    if (worker.draining || pid == exclude) continue;
    size_t load = worker.sessions.size() + worker.handoffs_in_flight;
    if (best == nullptr || load < best_load) {
      best = &worker;
      best_load = load;
    }
  }
  return best;
}

bool WorkerPool::TrySend(Worker* worker, const ClientConnection& c) {
  ipc::Handoff handoff{.conn_id = c.conn_id,
                       .listener = c.listener,
                       .peer_address = c.peer.ToString(),
                       .peer_port = c.peer_port,
                       .local_address = c.local.ToString(),
                       .local_port = c.local_port};
  Status s = worker->channel->Send(handoff, c.fd);
  if (!s.ok()) LOG_WARNING("hand-off to smtpd %d failed: %s", worker->pid, s.message().c_str());
  return s.ok();
}

void WorkerPool::Handoff(ClientConnection connection) {
  HandoffExcept(std::move(connection), 0, reply::kConnectionDropped);
}

void WorkerPool::HandoffExcept(ClientConnection connection, pid_t exclude, const Reply& reply) {
  pid_t tried = exclude;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Worker* worker = PickWorker(tried);
    if (worker == nullptr) break;
    if (!TrySend(worker, connection)) {
      tried = worker->pid;
      continue;
    }
    ++worker->handoffs_in_flight;
    Pending& pending = pending_[connection.conn_id];
    pending.connection = connection;
    pending.worker = worker->pid;
    pending.context.reset(new TimeoutContext{this, connection.conn_id});
    pending.timeout.reset(evtimer_new(base_, OnHandoffTimeout, pending.context.get()));
    timeval tv = ToTimeval(config_->handoff_timeout);
    evtimer_add(pending.timeout.get(), &tv);
    return;
  }
  LOG_WARNING("no smtpd worker can take the connection from [%s]",
              connection.peer.ToString().c_str());
  Refuse(connection, FormatReply(reply));
}

void WorkerPool::Refuse(ClientConnection connection, const std::string& reply) {
  RefuseClient(connection.fd, connection.peer, connection.peer_port, reply);
  CountRefusal(connection.listener, reply);
  table_->Remove(connection.conn_id);
}

void WorkerPool::OnHandoffTimeout(evutil_socket_t, short, void* context_ptr) {
  auto* context = static_cast<TimeoutContext*>(context_ptr);
  WorkerPool* self = context->pool;
  auto it = self->pending_.find(context->conn_id);
  if (it == self->pending_.end()) return;
  LOG_WARNING("smtpd %d did not take connection %llu within handoff_timeout",
              static_cast<int>(it->second.worker),
              static_cast<unsigned long long>(context->conn_id));
  self->Refuse(self->TakePending(it), FormatReply(reply::kConnectionDropped));
}

void WorkerPool::Dispatch(Worker* worker, ipc::Datagram& datagram) {
  if (datagram.fd >= 0) close(datagram.fd);  // workers never send descriptors
  if (Status s = Serve(worker, datagram.frame); !s.ok())
    worker->channel->Fail("smtpd " + std::to_string(worker->pid) + " sent " + s.message());
}

Status WorkerPool::Serve(Worker* worker, const ipc::Frame& frame) {
  switch (frame.type) {
    case ipc::MsgType::kHandoffAck:
      return ipc::DecodeThen<ipc::HandoffAck>(
          frame, [&](const ipc::HandoffAck& m) { Acknowledged(worker, m.conn_id); });
    case ipc::MsgType::kHandoffRefused:
      return ipc::DecodeThen<ipc::HandoffRefused>(
          frame, [&](const ipc::HandoffRefused& m) { HandoffRefused(worker, m.conn_id); });
    case ipc::MsgType::kConnClosed:
      return ipc::DecodeThen<ipc::ConnClosed>(
          frame, [&](const ipc::ConnClosed& m) { SessionClosed(worker, m.conn_id); });
    case ipc::MsgType::kServiceConnect:
      return ipc::DecodeThen<ipc::ServiceConnect>(
          frame, [&](const ipc::ServiceConnect& m) { ConnectService(worker, m.service); });
    case ipc::MsgType::kMailCheck:
      return ipc::DecodeThen<ipc::MailCheck>(
          frame, [&](const ipc::MailCheck& m) { ServeMailCheck(worker, m); });
    case ipc::MsgType::kSessionTally:
      return ipc::DecodeThen<ipc::SessionTally>(frame, [&](const ipc::SessionTally& m) {
        messages_.Add(clock_->Now(), m.messages);
        rejections_.Add(clock_->Now(), m.rejections);
        traffic_.Add(m);
      });
    default:
      return Status::Error(ipc::MsgTypeName(frame.type) + ", which master does not serve");
  }
}

void WorkerPool::Acknowledged(Worker* worker, uint64_t conn_id) {
  auto it = pending_.find(conn_id);
  if (it == pending_.end() || it->second.worker != worker->pid) {
    // Acknowledged too late: master already answered 421 and shut it down.
    return;
  }
  ClientConnection connection = TakePending(it);
  close(connection.fd);
  traffic_.Connected(connection.listener);
  worker->sessions.insert(conn_id);
}

void WorkerPool::HandoffRefused(Worker* worker, uint64_t conn_id) {
  auto it = pending_.find(conn_id);
  if (it == pending_.end() || it->second.worker != worker->pid) return;
  LOG_WARNING("smtpd %d has no descriptor left for connection %llu; trying another worker",
              worker->pid, static_cast<unsigned long long>(conn_id));
  HandoffExcept(TakePending(it), worker->pid, reply::kConnectionCountExceeded);
}

void WorkerPool::SessionClosed(Worker* worker, uint64_t conn_id) {
  if (worker->sessions.erase(conn_id)) table_->Remove(conn_id);
}

void WorkerPool::ServeMailCheck(Worker* worker, const ipc::MailCheck& check) {
  // The thresholds and limits in force are master's: after a reload they
  // apply at once to every worker.
  std::string shortage;
  ipc::MailVerdict verdict = config_ == nullptr
                                 ? ipc::MailVerdict::kAllowed
                                 : AnswerMailCheck(*resources_, rates_, *config_, check.listener,
                                                   check.rate_key, clock_->Now(), &shortage);
  if (verdict == ipc::MailVerdict::kInsufficientResources)
    LOG_WARNING("OutOfResources at MAIL FROM (%s, listener %s): %s", check.rate_key.c_str(),
                check.listener.c_str(), shortage.c_str());
  Send(worker, ipc::MailCheckReply{check.request_id, verdict}, "the answer to a MAIL check");
}

Result<int> WorkerPool::ConnectServiceSocket(ipc::Service service) const {
  switch (service) {
    case ipc::Service::kQueue:
      return ConnectUnixStream(queue_socket_path_, "qmgr");
    case ipc::Service::kAuth:
      return ConnectUnixStream(auth_socket_path_, "authd");
    case ipc::Service::kSyslog:
      // The socket master's own lines go to: the log settings of its start.
      return ConnectSyslog(LogCurrentSettings().syslog_socket);
  }
  return Status::Error("unknown service");
}

void WorkerPool::ConnectService(Worker* worker, ipc::Service service) {
  Result<int> connected = ConnectServiceSocket(service);
  // A missing syslogd is already said, once, where master's lines go.
  if (!connected.ok() && service != ipc::Service::kSyslog)
    LOG_WARNING("%s", connected.status().message().c_str());
  int fd = connected.ok() ? *connected : -1;
  Status s = worker->channel->Send(ipc::ServiceSocket{service, fd >= 0}, fd);
  if (!s.ok()) LOG_WARNING("cannot answer smtpd %d: %s", worker->pid, s.message().c_str());
  if (fd >= 0) close(fd);
}

}  // namespace postern
