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
  constexpr size_t kPiece = 256 * 1024;
  for (size_t off = 0; off < bytes.size(); off += kPiece)
    connection_.Send(ipc::MessageData{stream, std::string(bytes.substr(off, kPiece))});
}

void QueueClient::End(uint64_t stream) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  it->second.ended = true;
  if (it->second.failed) {
    Finish(stream, ipc::QueueOutcome::kTemporaryFailure, "queue manager unavailable");
    return;
  }
  connection_.Send(ipc::MessageEnd{stream});
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
  if (it == streams_.end()) return;
  ResultCallback callback = std::move(it->second.on_result);
  streams_.erase(it);
  callback(outcome, text);
}

void QueueClient::HandleFrame(const ipc::Frame& frame) {
  Result<ipc::MessageResult> result = ipc::DecodeAs<ipc::MessageResult>(frame);
  if (!result.ok()) {
    FailAll("queue manager sent " + result.status().message());
    return;
  }
  Finish(result->stream_id, result->outcome, result->text);
}

void QueueClient::Written() {
  if (!congested()) WakeWaiters();
}

void QueueClient::FailAll(const std::string& why) {
  LOG_WARNING("%s; failing %zu open message stream(s) and reconnecting", why.c_str(),
              streams_.size());
  connection_.Close();
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
