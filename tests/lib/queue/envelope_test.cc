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
  e.recipients.push_back(
      Recipient{"carol@remote.test", "", 0, RecipientState::kFailed, "550 5.1.1 no such user"});
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
  return e;
}

std::string Bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s.push_back(static_cast<char>(v));
  return s;
}

BOOST_AUTO_TEST_SUITE(envelope)

// The envelope of encodes_version_2_layout and decodes_version_1.
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

// Version 1 as earlier builds wrote it: version 2 without auth_mailbox.
// clang-format off
const std::string kVersion1Bytes = Bytes({1,                  // version
                                          0, 0, 0, 1, 'Q',    // queue id
                                          0, 0, 0, 0,         // sender <>
                                          0, 0, 0, 1,         // one recipient
                                          0, 0, 0, 3, 'b', '@', 'x', 0, 0, 0, 0, 8, 1, 0, 0, 0, 0,
                                          2, 1,               // BINARYMIME, RET=FULL
                                          0, 0, 0, 0,         // envid
                                          0, 0, 0, 0, 0, 0, 1, 2,  // size 258
                                          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // -1
                                          0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // client, helo, auth
                                          0, 0, 0, 1, 'L'});
// clang-format on

BOOST_AUTO_TEST_CASE(encodes_version_2_layout) {
  Envelope e = SmallEnvelope();
  e.auth_mailbox = "<>";
  std::string expected = kVersion1Bytes;
  expected[0] = 2;
  expected += Bytes({0, 0, 0, 2, '<', '>'});  // auth_mailbox
  BOOST_TEST(e.Encode() == expected);
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
  for (char version : {0, 3}) {
    std::string bytes = FullEnvelope().Encode();
    bytes[0] = version;
    Result<Envelope> decoded = Envelope::Decode(bytes);
    BOOST_TEST_REQUIRE(!decoded.ok());
    BOOST_TEST(
        decoded.status().message().find("version " + std::to_string(version)) != std::string::npos,
        decoded.status().message());
  }
}

BOOST_AUTO_TEST_CASE(rejects_out_of_range_enums) {
  Envelope e;
  e.recipients.push_back(Recipient{"b@x", "", 0, RecipientState::kPending, ""});
  std::string bytes = e.Encode();
  // Offsets from the layout: version 1, queue id 4, sender 4, count 4, then
  // the recipient's address 4+3, orcpt 4, notify 1, state 1.
  std::string bad_state = bytes;
  bad_state[1 + 4 + 4 + 4 + 7 + 4 + 1] = 3;
  BOOST_TEST(!Envelope::Decode(bad_state).ok());
  std::string bad_notify = bytes;
  bad_notify[1 + 4 + 4 + 4 + 7 + 4] = 16;
  BOOST_TEST(!Envelope::Decode(bad_notify).ok());
  std::string bad_body = bytes;
  bad_body[1 + 4 + 4 + 4 + 7 + 4 + 1 + 1 + 4] = 3;
  Result<Envelope> decoded = Envelope::Decode(bad_body);
  BOOST_TEST_REQUIRE(!decoded.ok());
  BOOST_TEST(decoded.status().message().find("BODY") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
