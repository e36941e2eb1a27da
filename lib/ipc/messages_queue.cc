// lib/ipc/messages_queue.cc — payload layouts of lib/ipc/messages_queue.h.
#include "lib/ipc/messages_queue.h"

#include "lib/ipc/payload.h"

namespace postern::ipc {
namespace {

// The message that names one stream and nothing else.
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

// Str(content) is its u32 length and then its bytes: EncodeHead stops before
// the bytes. Encode() stays in the one form that tests/system/postern_wire.py
// reads the layout from; ipc_messages/layouts_typed_out holds the two together.
std::string MessageData::EncodeHead(uint64_t stream_id, size_t content_size) {
  return PayloadWriter().U64(stream_id).U32(static_cast<uint32_t>(content_size)).Take();
}

Result<MessageData> MessageData::Decode(std::string_view payload) {
  MessageData m;
  PayloadReader r(payload);
  r.U64(&m.stream_id);
  r.Str(&m.content);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

std::string MessageEnd::Encode() const {
  return PayloadWriter().U64(stream_id).Bool(report_first_attempt).Take();
}

Result<MessageEnd> MessageEnd::Decode(std::string_view payload) {
  MessageEnd m;
  PayloadReader r(payload);
  r.U64(&m.stream_id);
  r.Bool(&m.report_first_attempt);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
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

const char* AttemptSummaryName(AttemptSummary summary) {
  switch (summary) {
    case AttemptSummary::kDelivered:
      return "delivered";
    case AttemptSummary::kDeferred:
      return "deferred";
    case AttemptSummary::kFailed:
      return "failed";
    case AttemptSummary::kNotAttempted:
      return "not attempted";
  }
  return "unknown";
}

std::string FirstAttemptEnded::Encode() const {
  return PayloadWriter().U64(stream_id).Enum(summary).Take();
}

Result<FirstAttemptEnded> FirstAttemptEnded::Decode(std::string_view payload) {
  FirstAttemptEnded m;
  PayloadReader r(payload);
  r.U64(&m.stream_id);
  r.Enum(&m.summary, AttemptSummary::kDelivered, AttemptSummary::kNotAttempted);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

}  // namespace postern::ipc
