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
// Decode() never guesses: short input, left-over bytes, an unknown version,
// or a bool, enum or NOTIFY value outside its range is an error that names
// the field.
#include "lib/queue/envelope.h"

#include <string>
#include <string_view>

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
  w->Str(r.status).Str(r.remote_mta).Bool(r.smtp_reply).U32(r.attempts);
  w->U64(static_cast<uint64_t>(r.last_attempt));
}

// The reader of one envelope: every field goes through one
// ipc::PayloadReader (whose Bool and Enum are the range checks of every bool
// and enum), and At() names the field being read, so that an error says
// which field was cut short or out of range.
class FieldReader {
 public:
  explicit FieldReader(std::string_view bytes) : reader_(bytes) {}
  ipc::PayloadReader& At(std::string_view field) {
    field_ = field;
    return reader_;
  }
  // After a failed read: what failed, and in which field.
  Status Error() const {
    return Status::Error(reader_.Finish("envelope").message() + " (at " + std::string(field_) +
                         ")");
  }
  // After the last field: Ok, or the bytes left over.
  Status Finish() const { return reader_.Finish("envelope"); }

 private:
  ipc::PayloadReader reader_;
  std::string_view field_;
};

// Reads one recipient of format `version`.
bool DecodeRecipient(FieldReader* f, uint8_t version, Recipient* out) {
  if (!f->At("recipient address").Str(&out->address) ||
      !f->At("recipient orcpt").Str(&out->orcpt) || !f->At("recipient notify").U8(&out->notify) ||
      !f->At("recipient state")
           .Enum(&out->state, RecipientState::kPending, RecipientState::kFailed) ||
      !f->At("recipient last_error").Str(&out->last_error))
    return false;
  if (version < kFirstVersionWithOutcomes) return true;
  uint64_t last_attempt = 0;
  if (!f->At("recipient status").Str(&out->status) ||
      !f->At("recipient remote_mta").Str(&out->remote_mta) ||
      !f->At("recipient smtp_reply").Bool(&out->smtp_reply) ||
      !f->At("recipient attempts").U32(&out->attempts) ||
      !f->At("recipient last_attempt").U64(&last_attempt))
    return false;
  out->last_attempt = static_cast<int64_t>(last_attempt);
  return true;
}

}  // namespace

std::string Envelope::Encode() const {
  ipc::PayloadWriter w;
  w.U8(kFormatVersion).Str(queue_id).Str(sender).U32(static_cast<uint32_t>(recipients.size()));
  for (const Recipient& r : recipients) EncodeRecipient(r, &w);
  w.U8(static_cast<uint8_t>(body)).U8(static_cast<uint8_t>(ret)).Str(envid).U64(size);
  w.U64(static_cast<uint64_t>(arrival_time));
  w.Str(client_address).Str(client_helo).Str(auth_user).Str(listener).Str(auth_mailbox);
  w.Bool(delay_warning_sent);
  return w.Take();
}

Result<Envelope> Envelope::Decode(std::string_view bytes) {
  FieldReader f(bytes);
  uint8_t version = 0;
  if (!f.At("version").U8(&version)) return Status::Error("envelope is empty");
  if (version < kOldestFormatVersion || version > kFormatVersion)
    return Status::Error("envelope format version " + std::to_string(version) +
                         " is unknown (this build reads versions " +
                         std::to_string(kOldestFormatVersion) + " to " +
                         std::to_string(kFormatVersion) + ")");
  Envelope e;
  uint32_t count = 0;
  if (!f.At("queue_id").Str(&e.queue_id) || !f.At("sender").Str(&e.sender) ||
      !f.At("recipient count").U32(&count))
    return f.Error();
  for (uint32_t i = 0; i < count; ++i) {
    Recipient rcpt;
    if (!DecodeRecipient(&f, version, &rcpt)) return f.Error();
    // NOTIFY is a set of bits, not an enum: no bit outside RFC 3461's four.
    if ((rcpt.notify & ~kAllNotifyBits) != 0)
      return Status::Error("malformed envelope: recipient NOTIFY bits " +
                           std::to_string(rcpt.notify) + " name no RFC 3461 NOTIFY value");
    e.recipients.push_back(std::move(rcpt));
  }
  uint64_t arrival = 0;
  if (!f.At("BODY type").Enum(&e.body, BodyType::k7Bit, BodyType::kBinaryMime) ||
      !f.At("RET value").Enum(&e.ret, DsnRet::kUnspecified, DsnRet::kHeaders) ||
      !f.At("envid").Str(&e.envid) || !f.At("size").U64(&e.size) ||
      !f.At("arrival_time").U64(&arrival) || !f.At("client_address").Str(&e.client_address) ||
      !f.At("client_helo").Str(&e.client_helo) || !f.At("auth_user").Str(&e.auth_user) ||
      !f.At("listener").Str(&e.listener) ||
      (version >= kFirstVersionWithAuthMailbox && !f.At("auth_mailbox").Str(&e.auth_mailbox)) ||
      (version >= kFirstVersionWithOutcomes &&
       !f.At("delay_warning_sent").Bool(&e.delay_warning_sent)))
    return f.Error();
  if (Status s = f.Finish(); !s.ok()) return s;
  e.arrival_time = static_cast<int64_t>(arrival);
  return e;
}

}  // namespace postern
