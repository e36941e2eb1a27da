// lib/ipc/messages_auth.cc — payload layouts of lib/ipc/messages_auth.h.
#include "lib/ipc/messages_auth.h"

#include "lib/ipc/payload.h"

namespace postern::ipc {

std::string Ping::Encode() const { return ""; }
Result<Ping> Ping::Decode(std::string_view payload) {
  if (Status s = PayloadReader(payload).Finish(MsgTypeName(kType)); !s.ok()) return s;
  return Ping{};
}

std::string Pong::Encode() const { return ""; }
Result<Pong> Pong::Decode(std::string_view payload) {
  if (Status s = PayloadReader(payload).Finish(MsgTypeName(kType)); !s.ok()) return s;
  return Pong{};
}

std::string AuthStart::Encode() const {
  return PayloadWriter()
      .U64(auth_id)
      .Str(mechanism)
      .Str(client_address)
      .Bool(initial_response.has_value())
      .Str(initial_response.value_or(""))
      .Take();
}

Result<AuthStart> AuthStart::Decode(std::string_view payload) {
  AuthStart m;
  bool has_initial_response = false;
  std::string initial_response;
  PayloadReader r(payload);
  r.U64(&m.auth_id);
  r.Str(&m.mechanism);
  r.Str(&m.client_address);
  r.Bool(&has_initial_response);
  r.Str(&initial_response);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  if (!has_initial_response && !initial_response.empty())
    return Status::Error("malformed kAuthStart: no initial response, yet " +
                         std::to_string(initial_response.size()) + " bytes of one");
  if (has_initial_response) m.initial_response = std::move(initial_response);
  return m;
}

std::string AuthStep::Encode() const { return PayloadWriter().U64(auth_id).Str(response).Take(); }

Result<AuthStep> AuthStep::Decode(std::string_view payload) {
  AuthStep m;
  PayloadReader r(payload);
  r.U64(&m.auth_id);
  r.Str(&m.response);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

std::string AuthCancel::Encode() const { return PayloadWriter().U64(auth_id).Take(); }

Result<AuthCancel> AuthCancel::Decode(std::string_view payload) {
  AuthCancel m;
  PayloadReader r(payload);
  r.U64(&m.auth_id);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

std::string AuthReply::Encode() const {
  return PayloadWriter().U64(auth_id).Enum(outcome).Str(data).Take();
}

Result<AuthReply> AuthReply::Decode(std::string_view payload) {
  AuthReply m;
  PayloadReader r(payload);
  r.U64(&m.auth_id);
  r.Enum(&m.outcome, AuthOutcome::kContinue, AuthOutcome::kTemporaryFailure);
  r.Str(&m.data);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

std::string RecipientQuery::Encode() const {
  return PayloadWriter().U64(query_id).Str(address).Take();
}

Result<RecipientQuery> RecipientQuery::Decode(std::string_view payload) {
  RecipientQuery m;
  PayloadReader r(payload);
  r.U64(&m.query_id);
  r.Str(&m.address);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

std::string RecipientAnswer::Encode() const {
  return PayloadWriter().U64(query_id).Enum(verdict).Str(known_as).Take();
}

Result<RecipientAnswer> RecipientAnswer::Decode(std::string_view payload) {
  RecipientAnswer m;
  PayloadReader r(payload);
  r.U64(&m.query_id);
  r.Enum(&m.verdict, RecipientVerdict::kKnown, RecipientVerdict::kUnavailable);
  r.Str(&m.known_as);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

}  // namespace postern::ipc
