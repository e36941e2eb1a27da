// lib/queue/envelope.cc — the byte form of an Envelope (lib/queue/envelope.h).
//
// The same bytes travel on the queue socket and sit in LMDB, so a queue
// written by one build must be readable by the next: the first byte is a
// format version, and a layout change gets a new version number and a
// decoder for the old one. Layout of version 3, with the ipc::PayloadWriter
// encodings (integers big-endian, str = u32 length + bytes, bool = u8 0/1):
//
//   u8 version (3), str queue_id, str sender, u32 recipient count, then per
//   recipient: str address, str orcpt, u8 notify, u8 state, str last_error,
//   str status, str remote_mta, bool smtp_reply, u32 attempts,
//   u64 last_attempt (two's complement); then u8 body, u8 ret, str envid,
//   u64 size, u64 arrival_time (two's complement), str client_address,
//   str client_helo, str auth_user, str listener, str auth_mailbox,
//   bool delay_warning_sent.
//
// Version 2 (written before delivery kept its outcomes) has recipients that
// end with last_error and no delay_warning_sent; it is read with those
// fields at their defaults (no attempt recorded, no warning sent).
// Version 1 (written before AUTH= was kept) is version 2 without
// auth_mailbox; it is read with auth_mailbox empty (no AUTH= given).
//
// Decode() never guesses: short input, left-over bytes, an unknown version
// or an enum value outside its range is an error that says which.
#include "lib/queue/envelope.h"

#include <string>

#include "lib/ipc/payload.h"

namespace postern {
namespace {

constexpr uint8_t kFormatVersion = 3;
constexpr uint8_t kOldestFormatVersion = 1;  // without auth_mailbox
constexpr uint8_t kFirstVersionWithAuthMailbox = 2;
constexpr uint8_t kFirstVersionWithOutcomes = 3;
constexpr uint8_t kAllNotifyBits = kNotifyNever | kNotifySuccess | kNotifyFailure | kNotifyDelay;

void EncodeRecipient(const Recipient& r, ipc::PayloadWriter* w) {
  w->Str(r.address).Str(r.orcpt).U8(r.notify).U8(static_cast<uint8_t>(r.state)).Str(r.last_error);
  w->Str(r.status).Str(r.remote_mta).U8(r.smtp_reply ? 1 : 0).U32(r.attempts);
  w->U64(static_cast<uint64_t>(r.last_attempt));
}

// A bool field: 0 or 1, anything else is out of range.
bool DecodeBool(ipc::PayloadReader* r, bool* out, const char* name, std::string* range_error) {
  uint8_t value = 0;
  if (!r->U8(&value)) return false;
  if (value > 1) {
    *range_error = std::string(name) + " value " + std::to_string(value);
    return false;
  }
  *out = value == 1;
  return true;
}

// The fields version 3 added to a recipient.
bool DecodeOutcome(ipc::PayloadReader* r, Recipient* out, std::string* range_error) {
  uint64_t last_attempt = 0;
  if (!r->Str(&out->status) || !r->Str(&out->remote_mta) ||
      !DecodeBool(r, &out->smtp_reply, "recipient smtp_reply", range_error) ||
      !r->U32(&out->attempts) || !r->U64(&last_attempt))
    return false;
  out->last_attempt = static_cast<int64_t>(last_attempt);
  return true;
}

// Reads one recipient of format `version`; false when the bytes ran out or a
// field is out of range (*range_error then names the field).
bool DecodeRecipient(ipc::PayloadReader* r, uint8_t version, Recipient* out,
                     std::string* range_error) {
  uint8_t state = 0;
  if (!r->Str(&out->address) || !r->Str(&out->orcpt) || !r->U8(&out->notify) || !r->U8(&state) ||
      !r->Str(&out->last_error))
    return false;
  if (version >= kFirstVersionWithOutcomes && !DecodeOutcome(r, out, range_error)) return false;
  if ((out->notify & ~kAllNotifyBits) != 0) {
    *range_error = "recipient NOTIFY bits " + std::to_string(out->notify);
    return false;
  }
  if (state > static_cast<uint8_t>(RecipientState::kFailed)) {
    *range_error = "recipient state " + std::to_string(state);
    return false;
  }
  out->state = static_cast<RecipientState>(state);
  return true;
}

Status Truncated() { return Status::Error("envelope is truncated"); }

Status OutOfRange(const std::string& what) {
  return Status::Error("envelope has an unknown " + what);
}

}  // namespace

std::string Envelope::Encode() const {
  ipc::PayloadWriter w;
  w.U8(kFormatVersion).Str(queue_id).Str(sender).U32(static_cast<uint32_t>(recipients.size()));
  for (const Recipient& r : recipients) EncodeRecipient(r, &w);
  w.U8(static_cast<uint8_t>(body)).U8(static_cast<uint8_t>(ret)).Str(envid).U64(size);
  w.U64(static_cast<uint64_t>(arrival_time));
  w.Str(client_address).Str(client_helo).Str(auth_user).Str(listener).Str(auth_mailbox);
  w.U8(delay_warning_sent ? 1 : 0);
  return w.Take();
}

Result<Envelope> Envelope::Decode(std::string_view bytes) {
  ipc::PayloadReader r(bytes);
  uint8_t version = 0;
  if (!r.U8(&version)) return Status::Error("envelope is empty");
  if (version < kOldestFormatVersion || version > kFormatVersion)
    return Status::Error("envelope format version " + std::to_string(version) +
                         " is unknown (this build reads versions " +
                         std::to_string(kOldestFormatVersion) + " to " +
                         std::to_string(kFormatVersion) + ")");
  Envelope e;
  uint32_t count = 0;
  if (!r.Str(&e.queue_id) || !r.Str(&e.sender) || !r.U32(&count)) return Truncated();
  for (uint32_t i = 0; i < count; ++i) {
    Recipient rcpt;
    std::string range_error;
    if (!DecodeRecipient(&r, version, &rcpt, &range_error))
      return range_error.empty() ? Truncated() : OutOfRange(range_error);
    e.recipients.push_back(std::move(rcpt));
  }
  uint8_t body = 0, ret = 0;
  uint64_t arrival = 0;
  if (!r.U8(&body) || !r.U8(&ret) || !r.Str(&e.envid) || !r.U64(&e.size) || !r.U64(&arrival) ||
      !r.Str(&e.client_address) || !r.Str(&e.client_helo) || !r.Str(&e.auth_user) ||
      !r.Str(&e.listener) || (version >= kFirstVersionWithAuthMailbox && !r.Str(&e.auth_mailbox)))
    return Truncated();
  std::string range_error;
  if (version >= kFirstVersionWithOutcomes &&
      !DecodeBool(&r, &e.delay_warning_sent, "delay_warning_sent", &range_error))
    return range_error.empty() ? Truncated() : OutOfRange(range_error);
  if (!r.Done()) return Status::Error("envelope has trailing bytes after its last field");
  if (body > static_cast<uint8_t>(BodyType::kBinaryMime))
    return OutOfRange("BODY type " + std::to_string(body));
  if (ret > static_cast<uint8_t>(DsnRet::kHeaders))
    return OutOfRange("RET value " + std::to_string(ret));
  e.body = static_cast<BodyType>(body);
  e.ret = static_cast<DsnRet>(ret);
  e.arrival_time = static_cast<int64_t>(arrival);
  return e;
}

}  // namespace postern
