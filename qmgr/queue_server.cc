// qmgr/queue_server.cc — connections, frames and streams of qmgr/queue_server.h.
#include "qmgr/queue_server.h"

#include <ctime>

#include "lib/base/log.h"
#include "lib/queue/queue_id.h"
#include "qmgr/queue_control.h"

namespace postern {
namespace {

ipc::QueueOutcome OutcomeOf(const Status& status) {
  if (status.ok()) return ipc::QueueOutcome::kQueued;
  return status.is_resource_exhausted() ? ipc::QueueOutcome::kInsufficientResources
                                        : ipc::QueueOutcome::kTemporaryFailure;
}

}  // namespace

QueueServer::QueueServer(event_base* base, int message_fd, int control_fd, QueueManager* manager)
    : base_(base),
      manager_(manager),
      // One read takes at most Limits::read_size, so one busy connection
      // cannot keep the loop (and the group commit behind it) from the others.
      server_(base, "queue socket", message_fd,
              FramedServer::Handlers{
                  .frame = [this](PeerId peer,
                                  const ipc::Frame& frame) { return HandleFrame(peer, frame); },
                  .closed = [this](PeerId peer) { Closed(peer); }},
              FramedServer::Limits{}),
      control_(base, "queue control socket", control_fd,
               FramedServer::Handlers{.frame =
                                          [this](PeerId peer, const ipc::Frame& frame) {
                                            return HandleControlFrame(peer, frame);
                                          },
                                      .closed = nullptr},
               FramedServer::Limits{}) {}

QueueServer::~QueueServer() { CloseAll(); }

Status QueueServer::Start() {
  manager_->SetBatchFailedCallback(
      [this](uint64_t generation, const Status& failure) { OnBatchFailed(generation, failure); });
  manager_->SetStreamGivenUpCallback(
      [this](const std::string& queue_id, const Status& why) { OnStreamGivenUp(queue_id, why); });
  manager_->SetAttemptEndedCallback(
      [this](const std::string& queue_id, ipc::AttemptSummary summary) {
        OnAttemptEnded(queue_id, summary);
      });
  housekeeping_event_.reset(event_new(base_, -1, 0, OnHousekeeping, this));
  if (!housekeeping_event_) return Status::Error("cannot create qmgr's housekeeping event");
  if (Status s = server_.Start(); !s.ok()) return s;
  return control_.Start();
}

void QueueServer::StopAccepting() {
  server_.StopAccepting();
  control_.StopAccepting();
}

void QueueServer::CloseAll() {
  // Unfinished streams keep their committed chunks; Recover() removes them
  // at the next start.
  for (auto& [key, stream] : streams_) {
    manager_->ForgetContent(&stream.chunker);
    if (stream.reserved) manager_->Release(stream.envelope.queue_id);
  }
  streams_.clear();
  attempt_waiters_.clear();
  server_.CloseAll();
  control_.CloseAll();
}

// --- connections

void QueueServer::DiscardLater(const std::string& queue_id) {
  to_discard_.push_back(queue_id);
  event_active(housekeeping_event_.get(), EV_TIMEOUT, 1);
}

void QueueServer::OnHousekeeping(evutil_socket_t, short, void* self) {
  static_cast<QueueServer*>(self)->Housekeeping();
}

void QueueServer::Housekeeping() {
  std::vector<std::string> ids = std::move(to_discard_);
  to_discard_.clear();
  for (const std::string& id : ids) manager_->DiscardContent(id);
}

void QueueServer::Closed(PeerId peer) {
  std::vector<StreamKey> keys;
  for (auto s = streams_.lower_bound(StreamKey(peer, 0));
       s != streams_.end() && s->first.first == peer; ++s)
    keys.push_back(s->first);
  for (const StreamKey& key : keys) DropStream(key);
  std::erase_if(attempt_waiters_, [peer](const auto& w) { return w.second.first == peer; });
}

// --- frames

Status QueueServer::HandleFrame(PeerId peer, const ipc::Frame& frame) {
  switch (frame.type) {
    case ipc::MsgType::kMessageBegin:
      return ipc::DecodeThen<ipc::MessageBegin>(
          frame, [&](const ipc::MessageBegin& m) { return Begin(peer, m); });
    case ipc::MsgType::kMessageData:
      return ipc::DecodeThen<ipc::MessageData>(
          frame, [&](const ipc::MessageData& m) { return Data(peer, m); });
    case ipc::MsgType::kMessageEnd:
      return ipc::DecodeThen<ipc::MessageEnd>(
          frame, [&](const ipc::MessageEnd& m) { return End(peer, m); });
    case ipc::MsgType::kMessageAbort:
      return ipc::DecodeThen<ipc::MessageAbort>(
          frame, [&](const ipc::MessageAbort& m) { Abort(peer, m); });
    case ipc::MsgType::kControlRequest:
      return Status::Error(
          "kControlRequest on the message socket (queue verbs are served on "
          "qmgr-control.sock only)");
    default:
      return Status::Error(ipc::MsgTypeName(frame.type) + ", which qmgr does not serve");
  }
}

Status QueueServer::HandleControlFrame(PeerId peer, const ipc::Frame& frame) {
  if (frame.type != ipc::MsgType::kControlRequest)
    return Status::Error(ipc::MsgTypeName(frame.type) + " on the control socket, which serves " +
                         "kControlRequest only");
  return ipc::DecodeThen<ipc::ControlRequest>(frame, [&](const ipc::ControlRequest& m) {
    control_.Send(peer, RunControl(manager_, m.verb, m.args));
  });
}

Status QueueServer::RefusalOf(const Envelope& envelope) {
  if (!IsValidQueueId(envelope.queue_id))
    return Status::Error("queue id \"" + envelope.queue_id + "\" is not valid");
  if (envelope.recipients.empty())
    return Status::Error(envelope.queue_id + ": envelope has no recipients");
  return Status::Ok();
}

Status QueueServer::Begin(PeerId peer, const ipc::MessageBegin& begin) {
  const uint64_t stream_id = begin.stream_id;
  StreamKey key(peer, stream_id);
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

Status QueueServer::Data(PeerId peer, const ipc::MessageData& data) {
  const uint64_t stream_id = data.stream_id;
  auto found = streams_.find(StreamKey(peer, stream_id));
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

Status QueueServer::End(PeerId peer, const ipc::MessageEnd& end) {
  const uint64_t stream_id = end.stream_id;
  StreamKey key(peer, stream_id);
  auto found = streams_.find(key);
  if (found == streams_.end())
    return Status::Error("end of stream " + std::to_string(stream_id) + ", which is not open");
  Stream& stream = found->second;
  if (!stream.failure.ok()) {
    FinishFailed(key, &stream);
    return Status::Ok();
  }
  const std::string queue_id = stream.envelope.queue_id;
  // Before the commit: a message with nothing due is announced right after it.
  if (end.report_first_attempt) attempt_waiters_[queue_id] = key;
  manager_->QueueMessage(stream.envelope, &stream.chunker,
                         [this, peer, stream_id, queue_id](const Status& outcome) {
                           Answer(peer, stream_id, outcome, queue_id);
                           if (outcome.ok()) return;
                           attempt_waiters_.erase(queue_id);
                           DiscardLater(queue_id);
                         });
  streams_.erase(key);
  return Status::Ok();
}

void QueueServer::Abort(PeerId peer, const ipc::MessageAbort& abort) {
  // A stream that already ended keeps its outcome: nothing to abort.
  StreamKey key(peer, abort.stream_id);
  if (streams_.count(key) != 0) DropStream(key);
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

void QueueServer::Answer(PeerId peer, uint64_t stream_id, const Status& outcome,
                         const std::string& queue_id) {
  if (!outcome.ok()) LOG_WARNING("%s: not queued: %s", queue_id.c_str(), outcome.message().c_str());
  server_.Send(peer, ipc::MessageResult{stream_id, OutcomeOf(outcome),
                                        outcome.ok() ? queue_id : outcome.message()});
}

void QueueServer::OnBatchFailed(uint64_t generation, const Status& failure) {
  for (auto& [key, stream] : streams_) {
    if (stream.generation != generation || !stream.failure.ok()) continue;
    stream.failure = failure;
    manager_->ForgetContent(&stream.chunker);  // its partial chunk is of no use now
  }
}

void QueueServer::OnAttemptEnded(const std::string& queue_id, ipc::AttemptSummary summary) {
  auto waiter = attempt_waiters_.find(queue_id);
  if (waiter == attempt_waiters_.end()) return;
  const auto [peer, stream_id] = waiter->second;
  attempt_waiters_.erase(waiter);
  server_.Send(peer, ipc::FirstAttemptEnded{stream_id, summary});
}

void QueueServer::OnStreamGivenUp(const std::string& queue_id, const Status& why) {
  for (auto& [key, stream] : streams_) {
    if (!stream.reserved || stream.envelope.queue_id != queue_id) continue;
    if (stream.failure.ok()) stream.failure = why;
    return;
  }
}

}  // namespace postern
