// lib/queue/envelope.cc — the byte form of an Envelope (lib/queue/envelope.h).
//
// The same bytes travel on the queue socket and sit in LMDB, so a queue
// written by one build must be readable by the next: the first byte is a
// format version, and a layout change gets a new version number and a
// decoder for the old one. Layout of version 2, with the ipc::PayloadWriter
// encodings (integers big-endian, str = u32 length + bytes):
//
//   u8 version (2), str queue_id, str sender, u32 recipient count, then per
//   recipient: str address, str orcpt, u8 notify, u8 state, str last_error;
//   then u8 body, u8 ret, str envid, u64 size, u64 arrival_time (two's
//   complement), str client_address, str client_helo, str auth_user,
//   str listener, str auth_mailbox.
//
// Version 1 (written before AUTH= was kept) is the same without
// auth_mailbox; it is read with auth_mailbox empty (no AUTH= given).
//
// Decode() never guesses: short input, left-over bytes, an unknown version
// or an enum value outside its range is an error that says which.
#include "lib/queue/envelope.h"

#include <string>

#include "lib/ipc/payload.h"

namespace postern {
namespace {

constexpr uint8_t kFormatVersion = 2;
constexpr uint8_t kOldestFormatVersion = 1;  // without auth_mailbox
constexpr uint8_t kAllNotifyBits = kNotifyNever | kNotifySuccess | kNotifyFailure | kNotifyDelay;

void EncodeRecipient(const Recipient& r, ipc::PayloadWriter* w) {
  w->Str(r.address).Str(r.orcpt).U8(r.notify).U8(static_cast<uint8_t>(r.state)).Str(r.last_error);
}

// Reads one recipient; false when the bytes ran out or a field is out of range
// (*range_error then names the field).
bool DecodeRecipient(ipc::PayloadReader* r, Recipient* out, std::string* range_error) {
  uint8_t state = 0;
  if (!r->Str(&out->address) || !r->Str(&out->orcpt) || !r->U8(&out->notify) || !r->U8(&state) ||
      !r->Str(&out->last_error))
    return false;
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
    if (!DecodeRecipient(&r, &rcpt, &range_error))
      return range_error.empty() ? Truncated() : OutOfRange(range_error);
    e.recipients.push_back(std::move(rcpt));
  }
  uint8_t body = 0, ret = 0;
  uint64_t arrival = 0;
  if (!r.U8(&body) || !r.U8(&ret) || !r.Str(&e.envid) || !r.U64(&e.size) || !r.U64(&arrival) ||
      !r.Str(&e.client_address) || !r.Str(&e.client_helo) || !r.Str(&e.auth_user) ||
      !r.Str(&e.listener) || (version >= 2 && !r.Str(&e.auth_mailbox)))
    return Truncated();
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
