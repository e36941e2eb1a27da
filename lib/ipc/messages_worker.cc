// lib/ipc/messages_worker.cc — payload layouts of lib/ipc/messages_worker.h.
#include "lib/ipc/messages_worker.h"

#include "lib/ipc/payload.h"

namespace postern::ipc {
namespace {

// The three messages that name one connection and nothing else.
std::string EncodeConnId(uint64_t conn_id) { return PayloadWriter().U64(conn_id).Take(); }

template <typename Message>
Result<Message> DecodeConnId(std::string_view payload) {
  Message m;
  PayloadReader r(payload);
  r.U64(&m.conn_id);
  if (Status s = r.Finish(MsgTypeName(Message::kType)); !s.ok()) return s;
  return m;
}

}  // namespace

std::string Handoff::Encode() const {
  return PayloadWriter()
      .U64(conn_id)
      .Str(listener)
      .Str(peer_address)
      .U16(peer_port)
      .Str(local_address)
      .U16(local_port)
      .Take();
}

Result<Handoff> Handoff::Decode(std::string_view payload) {
  Handoff m;
  PayloadReader r(payload);
  r.U64(&m.conn_id);
  r.Str(&m.listener);
  r.Str(&m.peer_address);
  r.U16(&m.peer_port);
  r.Str(&m.local_address);
  r.U16(&m.local_port);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

std::string HandoffAck::Encode() const { return EncodeConnId(conn_id); }
Result<HandoffAck> HandoffAck::Decode(std::string_view payload) {
  return DecodeConnId<HandoffAck>(payload);
}

std::string HandoffRefused::Encode() const { return EncodeConnId(conn_id); }
Result<HandoffRefused> HandoffRefused::Decode(std::string_view payload) {
  return DecodeConnId<HandoffRefused>(payload);
}

std::string ConnClosed::Encode() const { return EncodeConnId(conn_id); }
Result<ConnClosed> ConnClosed::Decode(std::string_view payload) {
  return DecodeConnId<ConnClosed>(payload);
}

std::string Drain::Encode() const { return ""; }
Result<Drain> Drain::Decode(std::string_view payload) {
  if (Status s = PayloadReader(payload).Finish(MsgTypeName(kType)); !s.ok()) return s;
  return Drain{};
}

std::string MailCheck::Encode() const {
  return PayloadWriter().U64(request_id).Str(listener).Str(rate_key).Take();
}

Result<MailCheck> MailCheck::Decode(std::string_view payload) {
  MailCheck m;
  PayloadReader r(payload);
  r.U64(&m.request_id);
  r.Str(&m.listener);
  r.Str(&m.rate_key);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

std::string MailCheckReply::Encode() const {
  return PayloadWriter().U64(request_id).Enum(verdict).Take();
}

Result<MailCheckReply> MailCheckReply::Decode(std::string_view payload) {
  MailCheckReply m;
  PayloadReader r(payload);
  r.U64(&m.request_id);
  r.Enum(&m.verdict, MailVerdict::kRateLimitExceeded, MailVerdict::kInsufficientResources);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

std::string ServiceConnect::Encode() const { return PayloadWriter().Enum(service).Take(); }

Result<ServiceConnect> ServiceConnect::Decode(std::string_view payload) {
  ServiceConnect m;
  PayloadReader r(payload);
  r.Enum(&m.service, Service::kQueue, Service::kSyslog);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

std::string ServiceSocket::Encode() const {
  return PayloadWriter().Enum(service).Bool(connected).Take();
}

Result<ServiceSocket> ServiceSocket::Decode(std::string_view payload) {
  ServiceSocket m;
  PayloadReader r(payload);
  r.Enum(&m.service, Service::kQueue, Service::kSyslog);
  r.Bool(&m.connected);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

std::string TlsTicketKey::Encode() const { return PayloadWriter().Str(key).Take(); }

Result<TlsTicketKey> TlsTicketKey::Decode(std::string_view payload) {
  TlsTicketKey m;
  PayloadReader r(payload);
  r.Str(&m.key);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

std::string SessionTally::Encode() const {
  PayloadWriter w;
  w.Str(listener).U32(messages).U32(rejections).U64(bytes);
  w.U32(static_cast<uint32_t>(refused.size()));
  for (const Refusal& refusal : refused)
    w.Str(refusal.command).U16(refusal.code).Str(refusal.enhanced).U32(refusal.count);
  return w.Take();
}

Result<SessionTally> SessionTally::Decode(std::string_view payload) {
  // Names longer than these are no command or enhanced code postern sends.
  constexpr size_t kMaxName = 16;
  SessionTally m;
  uint32_t kinds = 0;
  PayloadReader r(payload);
  r.Str(&m.listener);
  r.U32(&m.messages);
  r.U32(&m.rejections);
  r.U64(&m.bytes);
  if (r.U32(&kinds) && kinds > kMaxRefusalKinds)
    return Status::Error("malformed kSessionTally: " + std::to_string(kinds) +
                         " kinds of refusal, more than " + std::to_string(kMaxRefusalKinds));
  for (uint32_t i = 0; i < kinds; ++i) {
    Refusal& refusal = m.refused.emplace_back();
    if (!r.Str(&refusal.command) || !r.U16(&refusal.code) || !r.Str(&refusal.enhanced) ||
        !r.U32(&refusal.count))
      break;
    if (refusal.command.size() > kMaxName || refusal.enhanced.size() > kMaxName)
      return Status::Error("malformed kSessionTally: a refusal's name is longer than " +
                           std::to_string(kMaxName) + " octets");
  }
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

std::string MailCheckPolicy::Encode() const {
  PayloadWriter w;
  w.Bool(resources_ample).U32(static_cast<uint32_t>(unlimited_listeners.size()));
  for (const std::string& listener : unlimited_listeners) w.Str(listener);
  return w.Take();
}

Result<MailCheckPolicy> MailCheckPolicy::Decode(std::string_view payload) {
  MailCheckPolicy m;
  uint32_t count = 0;
  PayloadReader r(payload);
  r.Bool(&m.resources_ample);
  if (r.U32(&count) && count > kMaxListeners)
    return Status::Error("malformed kMailCheckPolicy: " + std::to_string(count) +
                         " listeners, more than " + std::to_string(kMaxListeners));
  for (uint32_t i = 0; i < count; ++i) {
    if (!r.Str(&m.unlimited_listeners.emplace_back())) break;
    if (m.unlimited_listeners.back().size() > kMaxListenerName)
      return Status::Error("malformed kMailCheckPolicy: a listener name is longer than " +
                           std::to_string(kMaxListenerName) + " octets");
  }
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

}  // namespace postern::ipc
