// lib/ipc/messages_queue.h — the messages between an smtpd worker and qmgr.
//
// One stream socket per worker (connected by master, lib/ipc/messages_worker.h
// ServiceSocket), many messages multiplexed by stream id: MessageBegin, then
// MessageData pieces, then MessageEnd or MessageAbort; qmgr answers each
// MessageEnd with one MessageResult once the message is synced. A
// MessageEnd that asks for it (a listener with an acknowledgement_delay)
// is followed, after a MessageResult kQueued, by one FirstAttemptEnded on
// the same stream id once the message's first delivery attempt is over;
// qmgr keeps that promise only while the connection lasts. Decode()
// fails, saying why, on a payload that is cut short, carries an out-of-range
// value or has bytes left over; qmgr then closes the connection, smtpd fails
// its open streams and reconnects.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/base/status.h"
#include "lib/ipc/frame.h"

namespace postern::ipc {

enum class QueueOutcome : uint8_t {
  kQueued = 0,                 // text: queue id; synced to disk
  kInsufficientResources = 1,  // map full, disk full
  kTemporaryFailure = 2,       // any other local problem
};

// smtpd -> qmgr: u64 stream_id, str envelope (lib/queue/envelope.h Encode).
struct MessageBegin {
  static constexpr MsgType kType = MsgType::kMessageBegin;
  uint64_t stream_id = 0;
  std::string envelope;

  std::string Encode() const;
  static Result<MessageBegin> Decode(std::string_view payload);
  bool operator==(const MessageBegin&) const = default;
};

// smtpd -> qmgr: u64 stream_id, str content (already un-dot-stuffed).
struct MessageData {
  static constexpr MsgType kType = MsgType::kMessageData;
  uint64_t stream_id = 0;
  std::string content;

  std::string Encode() const;
  // The payload bytes before the content of size content_size: Encode() is
  // these followed by the content, which a sender may write from where it
  // lies instead of copying it into a MessageData.
  static std::string EncodeHead(uint64_t stream_id, size_t content_size);
  static Result<MessageData> Decode(std::string_view payload);
  bool operator==(const MessageData&) const = default;
};

// What the first delivery attempt of a message came to, recipient by
// recipient as the queue records them after it.
enum class AttemptSummary : uint8_t {
  kDelivered = 0,     // every recipient delivered into its Maildir or relayed
  kDeferred = 1,      // some recipient waits for a retry
  kFailed = 2,        // none waits; some failed
  kNotAttempted = 3,  // nothing was due (held, removed, no route yet)
};

// "delivered", "deferred", "failed", "not attempted", for logs.
const char* AttemptSummaryName(AttemptSummary summary);

// smtpd -> qmgr: u64 stream_id, bool report_first_attempt. Commit the
// message durably; with report_first_attempt, send FirstAttemptEnded too.
struct MessageEnd {
  static constexpr MsgType kType = MsgType::kMessageEnd;
  uint64_t stream_id = 0;
  bool report_first_attempt = false;

  std::string Encode() const;
  static Result<MessageEnd> Decode(std::string_view payload);
  bool operator==(const MessageEnd&) const = default;
};

// smtpd -> qmgr: u64 stream_id. Forget the message.
struct MessageAbort {
  static constexpr MsgType kType = MsgType::kMessageAbort;
  uint64_t stream_id = 0;

  std::string Encode() const;
  static Result<MessageAbort> Decode(std::string_view payload);
  bool operator==(const MessageAbort&) const = default;
};

// qmgr -> smtpd: u64 stream_id, u8 QueueOutcome, str text: the queue id
// when queued, the reason otherwise.
struct MessageResult {
  static constexpr MsgType kType = MsgType::kMessageResult;
  uint64_t stream_id = 0;
  QueueOutcome outcome = QueueOutcome::kQueued;
  std::string text;

  std::string Encode() const;
  static Result<MessageResult> Decode(std::string_view payload);
  bool operator==(const MessageResult&) const = default;
};

// qmgr -> smtpd: u64 stream_id, u8 AttemptSummary. The first delivery
// attempt of the message that stream committed has ended for every
// recipient (nothing will change before the next retry).
struct FirstAttemptEnded {
  static constexpr MsgType kType = MsgType::kFirstAttemptEnded;
  uint64_t stream_id = 0;
  AttemptSummary summary = AttemptSummary::kDelivered;

  std::string Encode() const;
  static Result<FirstAttemptEnded> Decode(std::string_view payload);
  bool operator==(const FirstAttemptEnded&) const = default;
};

}  // namespace postern::ipc
