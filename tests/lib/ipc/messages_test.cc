// tests/lib/ipc/messages_test.cc — every IPC message of lib/ipc/messages_*.h.
//
// For each message type: a sample survives Encode() and Decode(), every
// truncation of its payload and a trailing byte fail to decode, and enum
// and bool fields refuse values outside their range. A few payloads are
// typed out byte by byte, so a layout cannot change without this test (and
// the protocol version) changing with it.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <string>
#include <tuple>

#include "lib/ipc/messages_auth.h"
#include "lib/ipc/messages_control.h"
#include "lib/ipc/messages_queue.h"
#include "lib/ipc/messages_worker.h"

using namespace postern;
using namespace postern::ipc;

namespace {

// One sample of each message, every field set to something other than its
// default, strings with an embedded NUL where a string is free.
Handoff Sample(Handoff*) {
  return {.conn_id = 42,
          .listener = "submission",
          .peer_address = "2001:db8::1",
          .peer_port = 50123,
          .local_address = "192.0.2.1",
          .local_port = 587};
}
HandoffAck Sample(HandoffAck*) { return {7}; }
HandoffRefused Sample(HandoffRefused*) { return {8}; }
ConnClosed Sample(ConnClosed*) { return {9}; }
Drain Sample(Drain*) { return {}; }
MailCheck Sample(MailCheck*) { return {3, "smtp", "ip:192.0.2.10"}; }
MailCheckReply Sample(MailCheckReply*) { return {3, MailVerdict::kInsufficientResources}; }
ServiceConnect Sample(ServiceConnect*) { return {Service::kAuth}; }
ServiceSocket Sample(ServiceSocket*) { return {Service::kAuth, true}; }
TlsTicketKey Sample(TlsTicketKey*) { return {std::string("k\0ey", 4)}; }
SessionTally Sample(SessionTally*) {
  return {.listener = "submission",
          .messages = 2,
          .rejections = 3,
          .bytes = 4096,
          .refused = {{"RCPT", 550, "5.1.1", 2}, {"CONNECT", 421, "", 1}}};
}
MailCheckPolicy Sample(MailCheckPolicy*) { return {true, {"smtp", "submission"}}; }
MessageBegin Sample(MessageBegin*) { return {5, std::string("env\0elope", 9)}; }
MessageData Sample(MessageData*) { return {5, "Subject: hi\r\n\r\nbody\r\n"}; }
MessageEnd Sample(MessageEnd*) { return {5, true}; }
MessageAbort Sample(MessageAbort*) { return {6}; }
MessageResult Sample(MessageResult*) { return {5, QueueOutcome::kTemporaryFailure, "no"}; }
FirstAttemptEnded Sample(FirstAttemptEnded*) { return {5, AttemptSummary::kFailed}; }
Ping Sample(Ping*) { return {}; }
Pong Sample(Pong*) { return {}; }
AuthStart Sample(AuthStart*) { return {1, "PLAIN", "192.0.2.7", std::string("\0u\0p", 4)}; }
AuthStep Sample(AuthStep*) { return {1, "secret"}; }
AuthCancel Sample(AuthCancel*) { return {1}; }
AuthReply Sample(AuthReply*) { return {1, AuthOutcome::kSuccess, "alice"}; }
RecipientQuery Sample(RecipientQuery*) { return {2, std::string("bob\0@example.test", 17)}; }
RecipientAnswer Sample(RecipientAnswer*) {
  return {2, RecipientVerdict::kKnown, "alice@example.test"};
}
ControlRequest Sample(ControlRequest*) { return {"queue", {"show", "5F3A9C2B1D4"}}; }
ControlReply Sample(ControlReply*) { return {true, "1 message\n", "5F3A9C2B1D4"}; }

template <typename Message>
Message Sample() {
  return Sample(static_cast<Message*>(nullptr));
}

using AllMessages =
    std::tuple<Handoff, HandoffAck, HandoffRefused, ConnClosed, Drain, MailCheck, MailCheckReply,
               ServiceConnect, ServiceSocket, TlsTicketKey, SessionTally, MailCheckPolicy,
               MessageBegin, MessageData, MessageEnd, MessageAbort, MessageResult,
               FirstAttemptEnded, Ping, Pong, AuthStart, AuthStep, AuthCancel, AuthReply,
               RecipientQuery, RecipientAnswer, ControlRequest, ControlReply>;

std::string U64(uint64_t v) {
  std::string s;
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
  return s;
}

std::string Str(const std::string& text) {
  uint32_t n = static_cast<uint32_t>(text.size());
  return std::string{static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                     static_cast<char>(n >> 8), static_cast<char>(n)} +
         text;
}

std::string Byte(uint8_t b) { return std::string(1, static_cast<char>(b)); }
std::string U32(uint32_t v) { return U64(v).substr(4); }
std::string U16(uint16_t v) { return U64(v).substr(6); }

}  // namespace

BOOST_AUTO_TEST_SUITE(ipc_messages)

BOOST_AUTO_TEST_CASE_TEMPLATE(round_trip, Message, AllMessages) {
  Message sample = Sample<Message>();
  Result<Message> decoded = Message::Decode(sample.Encode());
  BOOST_REQUIRE_MESSAGE(decoded.ok(), decoded.status().message());
  BOOST_TEST((*decoded == sample));
  Result<Message> from_frame = DecodeAs<Message>(Frame{Message::kType, sample.Encode()});
  BOOST_TEST((from_frame.ok() && *from_frame == sample));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(every_truncation_fails, Message, AllMessages) {
  std::string payload = Sample<Message>().Encode();
  for (size_t n = 0; n < payload.size(); ++n) {
    Result<Message> decoded = Message::Decode(payload.substr(0, n));
    BOOST_TEST(!decoded.ok(), MsgTypeName(Message::kType)
                                  << " decoded from " << n << " of " << payload.size() << " bytes");
    if (!decoded.ok())
      BOOST_TEST(decoded.status().message().find("malformed " + MsgTypeName(Message::kType)) == 0u,
                 decoded.status().message());
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_trailing_byte_fails, Message, AllMessages) {
  BOOST_TEST(!Message::Decode(Sample<Message>().Encode() + "x").ok());
}

BOOST_AUTO_TEST_CASE(a_mail_check_policy_has_its_layout_and_is_bounded) {
  MailCheckPolicy policy = Sample<MailCheckPolicy>();
  BOOST_TEST(policy.Encode() == Byte(1) + U32(2) + Str("smtp") + Str("submission"));
  MailCheckPolicy many;
  many.unlimited_listeners.assign(MailCheckPolicy::kMaxListeners + 1, "smtp");
  Result<MailCheckPolicy> decoded = MailCheckPolicy::Decode(many.Encode());
  BOOST_TEST(!decoded.ok());
  BOOST_TEST(decoded.status().message() ==
             "malformed kMailCheckPolicy: 1001 listeners, more than 1000");
  MailCheckPolicy longer;
  longer.unlimited_listeners = {std::string(256, 'l')};
  BOOST_TEST(!MailCheckPolicy::Decode(longer.Encode()).ok());
}

BOOST_AUTO_TEST_CASE(a_session_tally_is_bounded) {
  SessionTally many = Sample<SessionTally>();
  many.refused.assign(SessionTally::kMaxRefusalKinds + 1, {"RCPT", 550, "5.1.1", 1});
  Result<SessionTally> decoded = SessionTally::Decode(many.Encode());
  BOOST_TEST(!decoded.ok());
  BOOST_TEST(decoded.status().message() ==
             "malformed kSessionTally: 65 kinds of refusal, more than 64");
  SessionTally longer = Sample<SessionTally>();
  longer.refused[0].enhanced = std::string(17, '5');
  BOOST_TEST(!SessionTally::Decode(longer.Encode()).ok());
}

BOOST_AUTO_TEST_CASE(layouts_typed_out) {
  BOOST_TEST(Sample<Handoff>().Encode() == U64(42) + Str("submission") + Str("2001:db8::1") +
                                               "\xC3\xCB" + Str("192.0.2.1") + "\x02\x4B");
  BOOST_TEST(Sample<MailCheck>().Encode() == U64(3) + Str("smtp") + Str("ip:192.0.2.10"));
  BOOST_TEST(Sample<MailCheckReply>().Encode() == U64(3) + Byte(2));
  BOOST_TEST(Sample<ServiceSocket>().Encode() == Byte(2) + Byte(1));
  BOOST_TEST(Sample<SessionTally>().Encode() ==
             Str("submission") + U32(2) + U32(3) + U64(4096) + U32(2) + Str("RCPT") + U16(550) +
                 Str("5.1.1") + U32(2) + Str("CONNECT") + U16(421) + Str("") + U32(1));
  BOOST_TEST(Sample<MessageResult>().Encode() == U64(5) + Byte(2) + Str("no"));
  BOOST_TEST(Sample<MessageData>().Encode() == U64(5) + Str("Subject: hi\r\n\r\nbody\r\n"));
  BOOST_TEST(MessageData::EncodeHead(5, 21) + "Subject: hi\r\n\r\nbody\r\n" ==
             Sample<MessageData>().Encode());
  BOOST_TEST(Sample<MessageEnd>().Encode() == U64(5) + Byte(1));
  BOOST_TEST(Sample<FirstAttemptEnded>().Encode() == U64(5) + Byte(2));
  BOOST_TEST(Sample<AuthStart>().Encode() ==
             U64(1) + Str("PLAIN") + Str("192.0.2.7") + Byte(1) + Str(std::string("\0u\0p", 4)));
  BOOST_TEST(Sample<AuthReply>().Encode() == U64(1) + Byte(1) + Str("alice"));
  BOOST_TEST(Sample<RecipientQuery>().Encode() ==
             U64(2) + Str(std::string("bob\0@example.test", 17)));
  BOOST_TEST(Sample<RecipientAnswer>().Encode() == U64(2) + Byte(0) + Str("alice@example.test"));
  BOOST_TEST(Sample<ControlRequest>().Encode() ==
             Str("queue") + std::string("\0\0\0\x02", 4) + Str("show") + Str("5F3A9C2B1D4"));
  BOOST_TEST(Sample<ControlReply>().Encode() == Byte(1) + Str("1 message\n") + Str("5F3A9C2B1D4"));
  BOOST_TEST(Drain{}.Encode().empty());
}

BOOST_AUTO_TEST_CASE(enums_out_of_range_fail) {
  BOOST_TEST(MailCheckReply::Decode(U64(3) + Byte(2)).ok());
  BOOST_TEST(!MailCheckReply::Decode(U64(3) + Byte(3)).ok());
  BOOST_TEST(ServiceConnect::Decode(Byte(1)).ok());
  BOOST_TEST(ServiceConnect::Decode(Byte(3)).ok());
  for (uint8_t service : {0, 4, 255}) {
    BOOST_TEST(!ServiceConnect::Decode(Byte(service)).ok());
    BOOST_TEST(!ServiceSocket::Decode(Byte(service) + Byte(1)).ok());
  }
  BOOST_TEST(MessageResult::Decode(U64(5) + Byte(2) + Str("")).ok());
  BOOST_TEST(!MessageResult::Decode(U64(5) + Byte(3) + Str("")).ok());
  BOOST_TEST(FirstAttemptEnded::Decode(U64(5) + Byte(3)).ok());
  BOOST_TEST(!FirstAttemptEnded::Decode(U64(5) + Byte(4)).ok());
  BOOST_TEST(AuthReply::Decode(U64(1) + Byte(4) + Str("")).ok());
  Result<AuthReply> five = AuthReply::Decode(U64(1) + Byte(5) + Str(""));
  BOOST_REQUIRE(!five.ok());
  BOOST_TEST(five.status().message() == "malformed kAuthReply: value 5 is outside 0..4");
  BOOST_TEST(RecipientAnswer::Decode(U64(2) + Byte(2) + Str("")).ok());
  BOOST_TEST(!RecipientAnswer::Decode(U64(2) + Byte(3) + Str("")).ok());
}

BOOST_AUTO_TEST_CASE(bools_other_than_zero_or_one_fail) {
  BOOST_TEST(!ServiceSocket::Decode(Byte(1) + Byte(2)).ok());
  BOOST_TEST(!MessageEnd::Decode(U64(5) + Byte(2)).ok());
  BOOST_TEST(!ControlReply::Decode(Byte(2) + Str("") + Str("")).ok());
  BOOST_TEST(!AuthStart::Decode(U64(1) + Str("PLAIN") + Str("a") + Byte(2) + Str("")).ok());
}

BOOST_AUTO_TEST_CASE(an_auth_start_without_initial_response_carries_none) {
  AuthStart none{1, "LOGIN", "192.0.2.7", std::nullopt};
  std::string payload = none.Encode();
  BOOST_TEST(payload == U64(1) + Str("LOGIN") + Str("192.0.2.7") + Byte(0) + Str(""));
  Result<AuthStart> decoded = AuthStart::Decode(payload);
  BOOST_REQUIRE(decoded.ok());
  BOOST_TEST(!decoded->initial_response.has_value());
  // An empty initial response ("=") is not the same as none.
  AuthStart empty{1, "PLAIN", "192.0.2.7", std::string()};
  BOOST_TEST(
      (AuthStart::Decode(empty.Encode())->initial_response == std::optional<std::string>("")));
  // "None" with bytes of a response is refused.
  BOOST_TEST(!AuthStart::Decode(U64(1) + Str("LOGIN") + Str("a") + Byte(0) + Str("x")).ok());
}

BOOST_AUTO_TEST_CASE(a_control_request_has_at_most_64_arguments) {
  ControlRequest request{"block", std::vector<std::string>(64, "x")};
  BOOST_TEST(ControlRequest::Decode(request.Encode()).ok());
  request.args.push_back("x");
  Result<ControlRequest> decoded = ControlRequest::Decode(request.Encode());
  BOOST_REQUIRE(!decoded.ok());
  BOOST_TEST(decoded.status().message() == "malformed kControlRequest: 65 arguments, more than 64");
  // A count far beyond the bytes that follow fails without reserving for it.
  BOOST_TEST(!ControlRequest::Decode(Str("ping") + "\xff\xff\xff\xff").ok());
}

BOOST_AUTO_TEST_SUITE_END()
