// tests/lib/queue/envelope_test.cc — Envelope::Encode/Decode (lib/queue/envelope.h).
//
// The byte layout is pinned by a hand-written expected encoding, because the
// same bytes live in queues written by earlier builds.
#define BOOST_TEST_DYN_LINK
#include "lib/queue/envelope.h"

#include <boost/test/unit_test.hpp>
#include <string>

namespace postern {
namespace {

Envelope FullEnvelope() {
  Envelope e;
  e.queue_id = "5F3A9C2B1D4E.1A2B.3";
  e.sender = "alice@example.test";
  e.recipients.push_back(Recipient{"bob@example.test", "rfc822;bob@example.test",
                                   kNotifySuccess | kNotifyFailure, RecipientState::kPending, ""});
  Recipient carol{"carol@remote.test", "", 0, RecipientState::kFailed, "550 5.1.1 no such user"};
  carol.status = "5.1.1";
  carol.remote_mta = "mx.remote.test";
  carol.smtp_reply = true;
  carol.attempts = 1;
  carol.last_attempt = 1732960060;
  e.recipients.push_back(carol);
  e.body = BodyType::k8BitMime;
  e.ret = DsnRet::kHeaders;
  e.envid = "QQ314159";
  e.size = 10485760;
  e.arrival_time = 1732960000;
  e.client_address = "192.0.2.7";
  e.client_helo = "client.example.test";
  e.auth_user = "alice";
  e.listener = "submission";
  e.auth_mailbox = "alice@example.test";
  e.delay_warning_sent = true;
  return e;
}

std::string Bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s.push_back(static_cast<char>(v));
  return s;
}

BOOST_AUTO_TEST_SUITE(envelope)

// The envelope of the layout tests: what versions 1 and 2 could hold.
Envelope SmallEnvelope() {
  Envelope e;
  e.queue_id = "Q";
  e.sender = "";
  e.recipients.push_back(Recipient{"b@x", "", kNotifyDelay, RecipientState::kDelivered, ""});
  e.body = BodyType::kBinaryMime;
  e.ret = DsnRet::kFull;
  e.size = 258;
  e.arrival_time = -1;
  e.listener = "L";
  return e;
}

// clang-format off
const std::string kVersion1Head = Bytes({1,                   // version
                                         0, 0, 0, 1, 'Q',     // queue id
                                         0, 0, 0, 0,          // sender <>
                                         0, 0, 0, 1,          // one recipient
                                         0, 0, 0, 3, 'b', '@', 'x', 0, 0, 0, 0, 8, 1, 0, 0, 0, 0});
const std::string kVersion1Tail = Bytes({2, 1,                // BINARYMIME, RET=FULL
                                         0, 0, 0, 0,          // envid
                                         0, 0, 0, 0, 0, 0, 1, 2,  // size 258
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // -1
                                         0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // client, helo, auth
                                         0, 0, 0, 1, 'L'});
// clang-format on
// Version 1 as earlier builds wrote it: version 2 without auth_mailbox.
const std::string kVersion1Bytes = kVersion1Head + kVersion1Tail;
// Version 2: version 1 and auth_mailbox "<>".
std::string Version2Bytes() {
  std::string bytes = kVersion1Bytes + Bytes({0, 0, 0, 2, '<', '>'});
  bytes[0] = 2;
  return bytes;
}

BOOST_AUTO_TEST_CASE(encodes_version_3_layout) {
  Envelope e = SmallEnvelope();
  e.auth_mailbox = "<>";
  Recipient& r = e.recipients[0];
  r.status = "2.0.0";
  r.remote_mta = "m";
  r.smtp_reply = true;
  r.attempts = 258;
  r.last_attempt = 1732960000;  // 0x674ADF00
  e.delay_warning_sent = true;
  // clang-format off
  std::string expected = kVersion1Head +
                         Bytes({0, 0, 0, 5, '2', '.', '0', '.', '0',  // status
                                0, 0, 0, 1, 'm',                      // remote MTA
                                1,                                    // smtp_reply
                                0, 0, 1, 2,                           // attempts 258
                                0, 0, 0, 0, 0x67, 0x4a, 0xdf, 0x00}) +  // last attempt
                         kVersion1Tail +
                         Bytes({0, 0, 0, 2, '<', '>',                 // auth_mailbox
                                1});                                  // delay warning sent
  // clang-format on
  expected[0] = 3;
  BOOST_TEST(e.Encode() == expected);
}

BOOST_AUTO_TEST_CASE(decodes_version_2) {
  Result<Envelope> decoded = Envelope::Decode(Version2Bytes());
  BOOST_TEST_REQUIRE(decoded.ok(), decoded.status().message());
  Envelope expected = SmallEnvelope();
  expected.auth_mailbox = "<>";
  BOOST_TEST((*decoded == expected));
  // No attempt recorded, no warning sent.
  BOOST_TEST(decoded->recipients[0].attempts == 0u);
  BOOST_TEST(decoded->recipients[0].last_attempt == 0);
  BOOST_TEST(!decoded->delay_warning_sent);
  // A version 2 envelope ends after auth_mailbox.
  BOOST_TEST(!Envelope::Decode(Version2Bytes() + Bytes({0})).ok());
}

BOOST_AUTO_TEST_CASE(decodes_version_1) {
  Result<Envelope> decoded = Envelope::Decode(kVersion1Bytes);
  BOOST_TEST_REQUIRE(decoded.ok(), decoded.status().message());
  BOOST_TEST((*decoded == SmallEnvelope()));
  BOOST_TEST(decoded->auth_mailbox.empty());
  // A version 1 envelope ends after the listener.
  BOOST_TEST(!Envelope::Decode(kVersion1Bytes + Bytes({0, 0, 0, 0})).ok());
}

BOOST_AUTO_TEST_CASE(round_trips_every_field) {
  Envelope e = FullEnvelope();
  Result<Envelope> decoded = Envelope::Decode(e.Encode());
  BOOST_TEST_REQUIRE(decoded.ok(), decoded.status().message());
  BOOST_TEST((*decoded == e));
}

BOOST_AUTO_TEST_CASE(round_trips_binary_strings) {
  Envelope e;
  e.queue_id = "5F3A9C2B1D4E.1A2B.3";
  e.client_helo = std::string("a\0b\r\n\xff", 6);
  Result<Envelope> decoded = Envelope::Decode(e.Encode());
  BOOST_TEST_REQUIRE(decoded.ok(), decoded.status().message());
  BOOST_TEST(decoded->client_helo == e.client_helo);
}

BOOST_AUTO_TEST_CASE(rejects_every_truncation) {
  std::string bytes = FullEnvelope().Encode();
  for (size_t length = 0; length < bytes.size(); ++length) {
    Result<Envelope> decoded = Envelope::Decode(std::string_view(bytes).substr(0, length));
    BOOST_TEST_REQUIRE(!decoded.ok(), "a prefix of " << length << " bytes was accepted");
    BOOST_TEST((decoded.status().message().find("truncated") != std::string::npos ||
                decoded.status().message().find("empty") != std::string::npos),
               decoded.status().message());
  }
}

BOOST_AUTO_TEST_CASE(rejects_trailing_bytes) {
  Result<Envelope> decoded = Envelope::Decode(FullEnvelope().Encode() + "x");
  BOOST_TEST_REQUIRE(!decoded.ok());
  BOOST_TEST(decoded.status().message().find("trailing") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(rejects_unknown_version) {
  for (char version : {0, 4}) {
    std::string bytes = FullEnvelope().Encode();
    bytes[0] = version;
    Result<Envelope> decoded = Envelope::Decode(bytes);
    BOOST_TEST_REQUIRE(!decoded.ok());
    BOOST_TEST(
        decoded.status().message().find("version " + std::to_string(version)) != std::string::npos,
        decoded.status().message());
  }
}

BOOST_AUTO_TEST_CASE(rejects_out_of_range_enums_and_bools) {
  Envelope e;
  e.recipients.push_back(Recipient{"b@x", "", 0, RecipientState::kPending, ""});
  std::string bytes = e.Encode();
  // Offsets from the layout: version 1, queue id 4, sender 4, count 4, then
  // the recipient's address 4+3, orcpt 4, notify 1, state 1, last_error 4,
  // status 4, remote_mta 4, smtp_reply 1, attempts 4, last_attempt 8; body.
  const size_t notify = 1 + 4 + 4 + 4 + 7 + 4;
  const size_t smtp_reply = notify + 1 + 1 + 4 + 4 + 4;
  const size_t body = smtp_reply + 1 + 4 + 8;
  auto rejected_naming = [&](size_t offset, char value, const std::string& field) {
    std::string bad = bytes;
    bad[offset] = value;
    Result<Envelope> decoded = Envelope::Decode(bad);
    BOOST_TEST_REQUIRE(!decoded.ok(), field << " " << int(value) << " was accepted");
    BOOST_TEST(decoded.status().message().find(field) != std::string::npos,
               decoded.status().message());
  };
  rejected_naming(notify + 1, 3, "state");
  rejected_naming(notify, 16, "NOTIFY");
  rejected_naming(smtp_reply, 2, "smtp_reply");
  rejected_naming(body, 3, "BODY");
  rejected_naming(bytes.size() - 1, 2, "delay_warning_sent");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
