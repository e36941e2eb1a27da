// smtpd/queue_client.cc — see smtpd/queue_client.h.
#include "smtpd/queue_client.h"

#include "lib/base/log.h"

namespace postern {
namespace {

// Above this many bytes queued for qmgr, sessions stop reading clients.
constexpr size_t kCongestionBytes = 8 << 20;

}  // namespace

QueueClient::QueueClient(event_base* base, std::function<void()> request_connection)
    : request_connection_(std::move(request_connection)),
      connection_(base, "queue manager",
                  {.frame = [this](const ipc::Frame& frame) { HandleFrame(frame); },
                   .failed = [this](const std::string& why) { FailAll(why); },
                   .written = [this] { Written(); }}) {}

QueueClient::~QueueClient() = default;

void QueueClient::Attach(int fd) {
  connection_requested_ = false;
  connection_.Open(fd);
}

uint64_t QueueClient::Begin(const Envelope& envelope, ResultCallback on_result) {
  uint64_t id = next_stream_++;
  Stream& stream = streams_[id];
  stream.on_result = std::move(on_result);
  if (!connected()) {
    stream.failed = true;
    if (!connection_requested_) {
      connection_requested_ = true;
      request_connection_();
    }
    return id;
  }
  connection_.Send(ipc::MessageBegin{id, envelope.Encode()});
  return id;
}

void QueueClient::Data(uint64_t stream, std::string_view bytes) {
  auto it = streams_.find(stream);
  if (it == streams_.end() || it->second.failed) return;
  // Frames stay well below ipc::kMaxPayload whatever the session hands us.
  // Each piece is copied once, from where it lies into the connection's queue.
  constexpr size_t kPiece = 256 * 1024;
  for (size_t off = 0; off < bytes.size(); off += kPiece) {
    std::string_view piece = bytes.substr(off, kPiece);
    connection_.Send(ipc::MessageData::kType, ipc::MessageData::EncodeHead(stream, piece.size()),
                     piece);
  }
}

void QueueClient::End(uint64_t stream, AttemptCallback on_attempt) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  it->second.ended = true;
  if (it->second.failed) {
    Finish(stream, ipc::QueueOutcome::kTemporaryFailure, "queue manager unavailable");
    return;
  }
  const bool report = static_cast<bool>(on_attempt);
  it->second.on_attempt = std::move(on_attempt);
  connection_.Send(ipc::MessageEnd{stream, report});
}

void QueueClient::Forget(uint64_t stream) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  if (!it->second.ended && !it->second.failed) connection_.Send(ipc::MessageAbort{stream});
  streams_.erase(it);
}

bool QueueClient::congested() const { return connection_.unsent() > kCongestionBytes; }

void QueueClient::WhenUncongested(const void* key, std::function<void()> wake) {
  CancelWait(key);
  waiting_.emplace_back(key, std::move(wake));
}

void QueueClient::CancelWait(const void* key) {
  std::erase_if(waiting_, [key](const auto& w) { return w.first == key; });
}

void QueueClient::WakeWaiters() {
  std::vector<std::pair<const void*, std::function<void()>>> wake;
  wake.swap(waiting_);
  for (auto& w : wake) w.second();
}

void QueueClient::Finish(uint64_t stream, ipc::QueueOutcome outcome, const std::string& text) {
  auto it = streams_.find(stream);
  if (it == streams_.end() || it->second.queued) return;
  ResultCallback callback = std::move(it->second.on_result);
  if (outcome == ipc::QueueOutcome::kQueued && it->second.on_attempt)
    it->second.queued = true;  // the stream lives on for its report
  else
    streams_.erase(it);
  callback(outcome, text);
}

void QueueClient::AttemptEnded(uint64_t stream, ipc::AttemptSummary summary) {
  // A report for a stream forgotten meanwhile (its session ended, or its
  // delay ran out) is for nobody.
  auto it = streams_.find(stream);
  if (it == streams_.end() || !it->second.queued) return;
  AttemptCallback callback = std::move(it->second.on_attempt);
  streams_.erase(it);
  callback(summary);
}

void QueueClient::HandleFrame(const ipc::Frame& frame) {
  Status handled;
  switch (frame.type) {
    case ipc::MsgType::kMessageResult:
      handled = ipc::DecodeThen<ipc::MessageResult>(
          frame, [this](const ipc::MessageResult& m) { Finish(m.stream_id, m.outcome, m.text); });
      break;
    case ipc::MsgType::kFirstAttemptEnded:
      handled = ipc::DecodeThen<ipc::FirstAttemptEnded>(
          frame, [this](const ipc::FirstAttemptEnded& m) { AttemptEnded(m.stream_id, m.summary); });
      break;
    default:
      handled = Status::Error(ipc::MsgTypeName(frame.type) + ", which smtpd does not expect");
      break;
  }
  if (!handled.ok()) FailAll("queue manager sent " + handled.message());
}

void QueueClient::Written() {
  if (!congested()) WakeWaiters();
}

void QueueClient::FailAll(const std::string& why) {
  LOG_WARNING("%s; failing %zu open message stream(s) and reconnecting", why.c_str(),
              streams_.size());
  connection_.Close();
  // Queued messages stay queued; their reports will not come.
  std::erase_if(streams_, [](const auto& entry) { return entry.second.queued; });
  std::vector<uint64_t> ended;
  for (auto& [id, stream] : streams_) {
    stream.failed = true;
    if (stream.ended) ended.push_back(id);
  }
  for (uint64_t id : ended)
    Finish(id, ipc::QueueOutcome::kTemporaryFailure, "queue manager unavailable");
  WakeWaiters();
  if (!connection_requested_) {
    connection_requested_ = true;
    request_connection_();
  }
}

}  // namespace postern
