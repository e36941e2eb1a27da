// qmgr/queue_server.cc — connections, frames and streams of qmgr/queue_server.h.
#include "qmgr/queue_server.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cinttypes>
#include <cstring>
#include <ctime>

#include "lib/base/log.h"
#include "lib/queue/queue_id.h"
#include "qmgr/queue_control.h"

namespace postern {
namespace {

// One read takes at most this much, so one busy connection cannot keep the
// loop (and the group commit behind it) from the others.
constexpr size_t kReadSize = 256 * 1024;

ipc::QueueOutcome OutcomeOf(const Status& status) {
  if (status.ok()) return ipc::QueueOutcome::kQueued;
  return status.is_resource_exhausted() ? ipc::QueueOutcome::kInsufficientResources
                                        : ipc::QueueOutcome::kTemporaryFailure;
}

}  // namespace

QueueServer::Connection::~Connection() {
  read_event.reset();
  write_event.reset();
  close(fd);
}

QueueServer::QueueServer(event_base* base, int listen_fd, QueueManager* manager)
    : base_(base), listen_fd_(listen_fd), manager_(manager), read_buffer_(kReadSize) {}

QueueServer::~QueueServer() {
  CloseAll();
  accept_event_.reset();
  close(listen_fd_);
}

Status QueueServer::Start() {
  manager_->SetBatchFailedCallback(
      [this](uint64_t generation, const Status& failure) { OnBatchFailed(generation, failure); });
  manager_->SetStreamGivenUpCallback(
      [this](const std::string& queue_id, const Status& why) { OnStreamGivenUp(queue_id, why); });
  accept_event_.reset(event_new(base_, listen_fd_, EV_READ | EV_PERSIST, OnAccept, this));
  housekeeping_event_.reset(event_new(base_, -1, 0, OnHousekeeping, this));
  if (!accept_event_ || !housekeeping_event_ || event_add(accept_event_.get(), nullptr) != 0)
    return Status::Error("cannot watch the queue socket");
  return Status::Ok();
}

void QueueServer::StopAccepting() { event_del(accept_event_.get()); }

void QueueServer::CloseAll() {
  // Unfinished streams keep their committed chunks; Recover() removes them
  // at the next start.
  for (auto& [key, stream] : streams_) {
    manager_->ForgetContent(&stream.chunker);
    if (stream.reserved) manager_->Release(stream.envelope.queue_id);
  }
  streams_.clear();
  connections_.clear();
}

// --- connections

void QueueServer::OnAccept(evutil_socket_t, short, void* self) {
  static_cast<QueueServer*>(self)->Accept();
}

void QueueServer::Accept() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        LOG_WARNING("accept on the queue socket: %s", strerror(errno));
      return;
    }
    auto c = std::make_unique<Connection>();
    c->server = this;
    c->id = next_connection_id_++;
    c->fd = fd;
    c->read_event.reset(event_new(base_, fd, EV_READ | EV_PERSIST, OnReadable, c.get()));
    c->write_event.reset(event_new(base_, fd, EV_WRITE | EV_PERSIST, OnWritable, c.get()));
    if (!c->read_event || !c->write_event || event_add(c->read_event.get(), nullptr) != 0) {
      LOG_ERROR("cannot watch a queue connection");
      continue;
    }
    connections_[c->id] = std::move(c);
  }
}

void QueueServer::OnReadable(evutil_socket_t, short, void* arg) {
  Connection* c = static_cast<Connection*>(arg);
  c->server->Read(c);
}

void QueueServer::OnWritable(evutil_socket_t, short, void* arg) {
  Connection* c = static_cast<Connection*>(arg);
  c->server->Flush(c);
}

void QueueServer::Read(Connection* c) {
  ssize_t n = read(c->fd, read_buffer_.data(), read_buffer_.size());
  if (n == 0) {
    CloseLater(c, "");
    return;
  }
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      CloseLater(c, std::string("read: ") + strerror(errno));
    return;
  }
  c->decoder.Feed(std::string_view(read_buffer_.data(), static_cast<size_t>(n)));
  while (!c->closing) {
    Result<std::optional<ipc::Frame>> frame = c->decoder.Next();
    if (!frame.ok()) return CloseLater(c, frame.status().message());
    if (!frame->has_value()) return;
    if (Status s = HandleFrame(c, **frame); !s.ok()) return CloseLater(c, s.message());
  }
}

void QueueServer::Flush(Connection* c) {
  size_t sent = 0;
  while (sent < c->output.size()) {
    ssize_t n =
        send(c->fd, c->output.data() + sent, c->output.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      c->output.clear();
      return CloseLater(c, std::string("write: ") + strerror(errno));
    }
    sent += static_cast<size_t>(n);
  }
  c->output.erase(0, sent);
  if (c->output.empty())
    event_del(c->write_event.get());
  else
    event_add(c->write_event.get(), nullptr);
}

void QueueServer::SendFrame(uint64_t connection_id, const std::string& frame) {
  auto found = connections_.find(connection_id);
  if (found == connections_.end() || found->second->closing) return;
  Connection* c = found->second.get();
  c->output += frame;
  Flush(c);
}

void QueueServer::CloseLater(Connection* c, const std::string& why) {
  if (c->closing) return;
  c->closing = true;
  if (!why.empty()) LOG_WARNING("closing queue connection %" PRIu64 ": %s", c->id, why.c_str());
  event_del(c->read_event.get());
  event_del(c->write_event.get());
  event_active(housekeeping_event_.get(), EV_TIMEOUT, 1);
}

void QueueServer::DiscardLater(const std::string& queue_id) {
  to_discard_.push_back(queue_id);
  event_active(housekeeping_event_.get(), EV_TIMEOUT, 1);
}

void QueueServer::OnHousekeeping(evutil_socket_t, short, void* self) {
  static_cast<QueueServer*>(self)->Housekeeping();
}

void QueueServer::Housekeeping() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (!it->second->closing) {
      ++it;
      continue;
    }
    const uint64_t id = it->first;
    auto first = streams_.lower_bound(StreamKey(id, 0));
    std::vector<StreamKey> keys;
    for (auto s = first; s != streams_.end() && s->first.first == id; ++s) keys.push_back(s->first);
    for (const StreamKey& key : keys) DropStream(key);
    it = connections_.erase(it);
  }
  std::vector<std::string> ids = std::move(to_discard_);
  to_discard_.clear();
  for (const std::string& id : ids) manager_->DiscardContent(id);
}

// --- frames

Status QueueServer::HandleFrame(Connection* c, const ipc::Frame& frame) {
  switch (frame.type) {
    case ipc::MsgType::kMessageBegin:
      return ipc::DecodeThen<ipc::MessageBegin>(
          frame, [&](const ipc::MessageBegin& m) { return Begin(c, m); });
    case ipc::MsgType::kMessageData:
      return ipc::DecodeThen<ipc::MessageData>(
          frame, [&](const ipc::MessageData& m) { return Data(c, m); });
    case ipc::MsgType::kMessageEnd:
      return ipc::DecodeThen<ipc::MessageEnd>(frame,
                                              [&](const ipc::MessageEnd& m) { return End(c, m); });
    case ipc::MsgType::kMessageAbort:
      return ipc::DecodeThen<ipc::MessageAbort>(frame,
                                                [&](const ipc::MessageAbort& m) { Abort(c, m); });
    case ipc::MsgType::kControlRequest:
      return ipc::DecodeThen<ipc::ControlRequest>(
          frame, [&](const ipc::ControlRequest& m) { Control(c, m); });
    default:
      return Status::Error(ipc::MsgTypeName(frame.type) + ", which qmgr does not serve");
  }
}

Status QueueServer::RefusalOf(const Envelope& envelope) {
  if (!IsValidQueueId(envelope.queue_id))
    return Status::Error("queue id \"" + envelope.queue_id + "\" is not valid");
  if (envelope.recipients.empty())
    return Status::Error(envelope.queue_id + ": envelope has no recipients");
  return Status::Ok();
}

Status QueueServer::Begin(Connection* c, const ipc::MessageBegin& begin) {
  const uint64_t stream_id = begin.stream_id;
  StreamKey key(c->id, stream_id);
  if (streams_.count(key) != 0)
    return Status::Error("stream " + std::to_string(stream_id) + " begun twice");
  Result<Envelope> envelope = Envelope::Decode(begin.envelope);
  if (!envelope.ok())
    return Status::Error("stream " + std::to_string(stream_id) + ": " +
                         envelope.status().message());
  for (Recipient& r : envelope->recipients) {
    r.state = RecipientState::kPending;
    r.last_error.clear();
  }
  envelope->size = 0;
  if (envelope->arrival_time == 0) envelope->arrival_time = time(nullptr);
  Stream stream{*envelope, ContentChunker(envelope->queue_id), false, 0, Status::Ok()};
  stream.failure = RefusalOf(*envelope);
  if (stream.failure.ok()) {
    stream.reserved = manager_->Reserve(envelope->queue_id);
    if (!stream.reserved)
      stream.failure = Status::Error("queue id " + envelope->queue_id + " is already in use");
  }
  if (!stream.failure.ok()) LOG_WARNING("refusing a message: %s", stream.failure.message().c_str());
  Stream& begun = streams_.emplace(key, std::move(stream)).first->second;
  if (begun.reserved) manager_->BeginContent(&begun.chunker);
  return Status::Ok();
}

Status QueueServer::Data(Connection* c, const ipc::MessageData& data) {
  const uint64_t stream_id = data.stream_id;
  auto found = streams_.find(StreamKey(c->id, stream_id));
  if (found == streams_.end())
    return Status::Error("data for stream " + std::to_string(stream_id) + ", which is not open");
  Stream& stream = found->second;
  if (!stream.failure.ok()) return Status::Ok();
  if (Status s = manager_->AppendContent(&stream.chunker, data.content); !s.ok()) {
    stream.failure = s;
    return Status::Ok();
  }
  stream.generation = manager_->generation();
  return Status::Ok();
}

Status QueueServer::End(Connection* c, const ipc::MessageEnd& end) {
  const uint64_t stream_id = end.stream_id;
  StreamKey key(c->id, stream_id);
  auto found = streams_.find(key);
  if (found == streams_.end())
    return Status::Error("end of stream " + std::to_string(stream_id) + ", which is not open");
  Stream& stream = found->second;
  if (!stream.failure.ok()) {
    FinishFailed(key, &stream);
    return Status::Ok();
  }
  const uint64_t connection_id = c->id;
  const std::string queue_id = stream.envelope.queue_id;
  manager_->QueueMessage(stream.envelope, &stream.chunker,
                         [this, connection_id, stream_id, queue_id](const Status& outcome) {
                           Answer(connection_id, stream_id, outcome, queue_id);
                           if (!outcome.ok()) DiscardLater(queue_id);
                         });
  streams_.erase(key);
  return Status::Ok();
}

void QueueServer::Abort(Connection* c, const ipc::MessageAbort& abort) {
  // A stream that already ended keeps its outcome: nothing to abort.
  StreamKey key(c->id, abort.stream_id);
  if (streams_.count(key) != 0) DropStream(key);
}

void QueueServer::Control(Connection* c, const ipc::ControlRequest& request) {
  Send(c->id, RunControl(manager_, request.verb, request.args));
}

// --- streams

void QueueServer::FinishFailed(const StreamKey& key, Stream* stream) {
  Answer(key.first, key.second, stream->failure, stream->envelope.queue_id);
  DropStream(key);
}

void QueueServer::DropStream(const StreamKey& key) {
  auto found = streams_.find(key);
  Stream& stream = found->second;
  manager_->ForgetContent(&stream.chunker);
  if (stream.reserved) {
    manager_->Release(stream.envelope.queue_id);
    if (stream.generation != 0) DiscardLater(stream.envelope.queue_id);
  }
  streams_.erase(found);
}

void QueueServer::Answer(uint64_t connection_id, uint64_t stream_id, const Status& outcome,
                         const std::string& queue_id) {
  if (!outcome.ok()) LOG_WARNING("%s: not queued: %s", queue_id.c_str(), outcome.message().c_str());
  Send(connection_id, ipc::MessageResult{stream_id, OutcomeOf(outcome),
                                         outcome.ok() ? queue_id : outcome.message()});
}

void QueueServer::OnBatchFailed(uint64_t generation, const Status& failure) {
  for (auto& [key, stream] : streams_) {
    if (stream.generation != generation || !stream.failure.ok()) continue;
    stream.failure = failure;
    manager_->ForgetContent(&stream.chunker);  // its partial chunk is of no use now
  }
}

void QueueServer::OnStreamGivenUp(const std::string& queue_id, const Status& why) {
  for (auto& [key, stream] : streams_) {
    if (!stream.reserved || stream.envelope.queue_id != queue_id) continue;
    if (stream.failure.ok()) stream.failure = why;
    return;
  }
}

}  // namespace postern
