// master/worker_pool.cc — see master/worker_pool.h.
#include "master/worker_pool.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/reply_catalogue.h"
#include "lib/unix_socket.h"

namespace postern {

WorkerPool::WorkerPool(event_base* base, ConnectionTable* table, ResourceMonitor* resources,
                       std::string queue_socket_path, std::string auth_socket_path)
    : base_(base),
      table_(table),
      queue_socket_path_(std::move(queue_socket_path)),
      auth_socket_path_(std::move(auth_socket_path)),
      resources_(resources) {}

WorkerPool::~WorkerPool() {
  for (auto& [id, pending] : pending_) close(pending.connection.fd);
  for (auto& [pid, worker] : workers_) CloseWorker(&worker);
  explicit_bzero(tls_ticket_key_.data(), tls_ticket_key_.size());
}

void WorkerPool::AddWorker(pid_t pid, int channel) {
  evutil_make_socket_nonblocking(channel);
  Worker& worker = workers_[pid];
  worker.pool = this;
  worker.pid = pid;
  worker.channel = channel;
  worker.event.reset(event_new(base_, channel, EV_READ | EV_PERSIST, OnChannelReadable, &worker));
  event_add(worker.event.get(), nullptr);
  // The channel keeps datagrams in order, so the key is there before the
  // first hand-off. A worker that misses it still works, without tickets.
  Status s = ipc::SendFrame(channel, ipc::MsgType::kTlsTicketKey,
                            ipc::PayloadWriter().Str(tls_ticket_key_).Take());
  if (!s.ok())
    LOG_WARNING("cannot send the TLS ticket key to smtpd %d: %s", pid, s.message().c_str());
}

void WorkerPool::CloseWorker(Worker* worker) {
  worker->event.reset();
  if (worker->channel >= 0) close(worker->channel);
  worker->channel = -1;
}

void WorkerPool::WorkerExited(pid_t pid) {
  auto it = workers_.find(pid);
  if (it == workers_.end()) return;
  for (uint64_t conn_id : it->second.sessions) table_->Remove(conn_id);
  CloseWorker(&it->second);
  workers_.erase(it);
  // Connections it never acknowledged are still ours: give them to another.
  std::vector<uint64_t> orphaned;
  for (auto& [id, pending] : pending_)
    if (pending.worker == pid) orphaned.push_back(id);
  for (uint64_t id : orphaned) {
    ClientConnection connection = pending_[id].connection;
    pending_.erase(id);
    Handoff(connection);
  }
}

void WorkerPool::DrainAll() {
  for (auto& [pid, worker] : workers_) {
    if (worker.draining) continue;
    worker.draining = true;
    Status s = ipc::SendFrame(worker.channel, ipc::MsgType::kDrain, "");
    if (!s.ok()) LOG_WARNING("cannot tell smtpd %d to drain: %s", pid, s.message().c_str());
  }
}

size_t WorkerPool::live_workers() const {
  size_t n = 0;
  for (auto& [pid, worker] : workers_) n += !worker.draining;
  return n;
}

std::string WorkerPool::Describe() const {
  std::string text;
  for (auto& [pid, worker] : workers_)
    text += "smtpd pid " + std::to_string(pid) + ": " + std::to_string(worker.sessions.size()) +
            " session(s)" + (worker.draining ? ", draining" : "") + "\n";
  return text;
}

WorkerPool::Worker* WorkerPool::PickWorker(pid_t exclude) {
  Worker* best = nullptr;
  size_t best_load = 0;
  std::map<pid_t, size_t> pending_load;
  for (auto& [id, pending] : pending_) ++pending_load[pending.worker];
  for (auto& [pid, worker] : workers_) {
    if (worker.draining || pid == exclude) continue;
    size_t load = worker.sessions.size() + pending_load[pid];
    if (best == nullptr || load < best_load) {
      best = &worker;
      best_load = load;
    }
  }
  return best;
}

bool WorkerPool::TrySend(Worker* worker, const ClientConnection& c) {
  std::string payload = ipc::PayloadWriter()
                            .U64(c.conn_id)
                            .Str(c.listener)
                            .Str(c.peer.ToString())
                            .U16(c.peer_port)
                            .Str(c.local.ToString())
                            .U16(c.local_port)
                            .Take();
  Status s = ipc::SendFrame(worker->channel, ipc::MsgType::kHandoff, payload, c.fd);
  if (!s.ok()) LOG_WARNING("hand-off to smtpd %d failed: %s", worker->pid, s.message().c_str());
  return s.ok();
}

void WorkerPool::Handoff(ClientConnection connection) {
  pid_t tried = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Worker* worker = PickWorker(tried);
    if (worker == nullptr) break;
    if (!TrySend(worker, connection)) {
      tried = worker->pid;
      continue;
    }
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
  Refuse(connection, FormatReply(reply::kConnectionDropped));
}

void WorkerPool::Refuse(ClientConnection connection, const std::string& reply) {
  ssize_t ignored = send(connection.fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)ignored;
  // shutdown() reaches every copy of the socket, including one a hanging
  // worker may still hold.
  shutdown(connection.fd, SHUT_RDWR);
  close(connection.fd);
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
  ClientConnection connection = it->second.connection;
  self->pending_.erase(it);
  self->Refuse(connection, FormatReply(reply::kConnectionDropped));
}

void WorkerPool::OnChannelReadable(evutil_socket_t fd, short, void* worker_ptr) {
  auto* worker = static_cast<Worker*>(worker_ptr);
  for (;;) {
    int passed = -1;
    Result<ipc::Frame> frame = ipc::ReceiveDatagram(fd, &passed);
    if (passed >= 0) close(passed);  // workers never send descriptors
    if (!frame.ok()) {
      if (frame.status().message() == ipc::kWouldBlock) return;
      if (frame.status().message() != ipc::kEof)
        LOG_ERROR("channel from smtpd %d: %s", worker->pid, frame.status().message().c_str());
      // The worker is gone or broken; SIGCHLD cleans up. Stop listening to it.
      event_del(worker->event.get());
      return;
    }
    worker->pool->Dispatch(worker, *frame);
  }
}

void WorkerPool::Dispatch(Worker* worker, const ipc::Frame& frame) {
  ipc::PayloadReader reader(frame.payload);
  uint64_t conn_id = 0;
  switch (frame.type) {
    case ipc::MsgType::kHandoffAck:
      if (reader.U64(&conn_id) && reader.Done()) return Acknowledged(worker, conn_id);
      break;
    case ipc::MsgType::kConnClosed:
      if (reader.U64(&conn_id) && reader.Done()) return SessionClosed(worker, conn_id);
      break;
    case ipc::MsgType::kServiceConnect:
      return ConnectService(worker, frame.payload);
    case ipc::MsgType::kRateCheck:
      if (CheckMail(worker, frame.payload)) return;
      break;
    default:
      break;
  }
  LOG_ERROR("smtpd %d sent a malformed or unexpected message (type %d)", worker->pid,
            static_cast<int>(frame.type));
}

void WorkerPool::Acknowledged(Worker* worker, uint64_t conn_id) {
  auto it = pending_.find(conn_id);
  if (it == pending_.end() || it->second.worker != worker->pid) {
    // Acknowledged too late: master already answered 421 and shut it down.
    return;
  }
  close(it->second.connection.fd);
  pending_.erase(it);
  worker->sessions.insert(conn_id);
}

void WorkerPool::SessionClosed(Worker* worker, uint64_t conn_id) {
  if (worker->sessions.erase(conn_id)) table_->Remove(conn_id);
}

bool WorkerPool::CheckMail(Worker* worker, const std::string& payload) {
  ipc::PayloadReader reader(payload);
  uint64_t request_id;
  std::string listener, rate_key;
  if (!reader.U64(&request_id) || !reader.Str(&listener) || !reader.Str(&rate_key) ||
      !reader.Done())
    return false;
  // The thresholds and limits in force are master's: after a reload they
  // apply at once to every worker.
  std::string shortage;
  ipc::MailVerdict verdict =
      config_ == nullptr
          ? ipc::MailVerdict::kAllowed
          : DecideMail(*resources_, rates_, *config_, listener, rate_key, clock_.Now(), &shortage);
  if (verdict == ipc::MailVerdict::kInsufficientResources)
    LOG_WARNING("OutOfResources at MAIL FROM (%s, listener %s): %s", rate_key.c_str(),
                listener.c_str(), shortage.c_str());
  std::string reply = ipc::PayloadWriter().U64(request_id).U8(static_cast<uint8_t>(verdict)).Take();
  Status s = ipc::SendFrame(worker->channel, ipc::MsgType::kRateReply, reply);
  if (!s.ok())
    LOG_WARNING("cannot answer smtpd %d's MAIL check: %s", worker->pid, s.message().c_str());
  return true;
}

void WorkerPool::ConnectService(Worker* worker, const std::string& payload) {
  ipc::PayloadReader reader(payload);
  uint8_t service;
  if (!reader.U8(&service) || !reader.Done() ||
      (service != static_cast<uint8_t>(ipc::Service::kQueue) &&
       service != static_cast<uint8_t>(ipc::Service::kAuth))) {
    LOG_ERROR("smtpd %d asked for an unknown service", worker->pid);
    return;
  }
  bool queue = service == static_cast<uint8_t>(ipc::Service::kQueue);
  Result<int> connected = queue ? ConnectUnixStream(queue_socket_path_, "qmgr")
                                : ConnectUnixStream(auth_socket_path_, "authd");
  if (!connected.ok()) LOG_WARNING("%s", connected.status().message().c_str());
  int fd = connected.ok() ? *connected : -1;
  std::string reply = ipc::PayloadWriter().U8(service).U8(fd >= 0).Take();
  Status s = ipc::SendFrame(worker->channel, ipc::MsgType::kServiceSocket, reply, fd);
  if (!s.ok()) LOG_WARNING("cannot answer smtpd %d: %s", worker->pid, s.message().c_str());
  if (fd >= 0) close(fd);
}

}  // namespace postern
