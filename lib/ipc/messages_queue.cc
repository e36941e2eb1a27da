// lib/ipc/messages_queue.cc — payload layouts of lib/ipc/messages_queue.h.
#include "lib/ipc/messages_queue.h"

#include "lib/ipc/payload.h"

namespace postern::ipc {
namespace {

// The two messages that name one stream and nothing else.
std::string EncodeStreamId(uint64_t stream_id) { return PayloadWriter().U64(stream_id).Take(); }

template <typename Message>
Result<Message> DecodeStreamId(std::string_view payload) {
  Message m;
  PayloadReader r(payload);
  r.U64(&m.stream_id);
  if (Status s = r.Finish(MsgTypeName(Message::kType)); !s.ok()) return s;
  return m;
}

}  // namespace

std::string MessageBegin::Encode() const {
  return PayloadWriter().U64(stream_id).Str(envelope).Take();
}

Result<MessageBegin> MessageBegin::Decode(std::string_view payload) {
  MessageBegin m;
  PayloadReader r(payload);
  r.U64(&m.stream_id);
  r.Str(&m.envelope);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

std::string MessageData::Encode() const {
  return PayloadWriter().U64(stream_id).Str(content).Take();
}

Result<MessageData> MessageData::Decode(std::string_view payload) {
  MessageData m;
  PayloadReader r(payload);
  r.U64(&m.stream_id);
  r.Str(&m.content);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

std::string MessageEnd::Encode() const { return EncodeStreamId(stream_id); }
Result<MessageEnd> MessageEnd::Decode(std::string_view payload) {
  return DecodeStreamId<MessageEnd>(payload);
}

std::string MessageAbort::Encode() const { return EncodeStreamId(stream_id); }
Result<MessageAbort> MessageAbort::Decode(std::string_view payload) {
  return DecodeStreamId<MessageAbort>(payload);
}

std::string MessageResult::Encode() const {
  return PayloadWriter().U64(stream_id).Enum(outcome).Str(text).Take();
}

Result<MessageResult> MessageResult::Decode(std::string_view payload) {
  MessageResult m;
  PayloadReader r(payload);
  r.U64(&m.stream_id);
  r.Enum(&m.outcome, QueueOutcome::kQueued, QueueOutcome::kTemporaryFailure);
  r.Str(&m.text);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

}  // namespace postern::ipc
