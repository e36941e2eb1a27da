// tests/lib/smtp/message_stream_test.cc — lib/smtp/message_stream: one
// message's content on its way to qmgr, without a session: what it asks of
// qmgr, in which pieces, and when it gives the stream up.
#define BOOST_TEST_DYN_LINK
#include "lib/smtp/message_stream.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <variant>
#include <vector>

namespace postern {
namespace {

const std::string kReceived = "Received: from client.example.net\r\n";

ListenerConfig Listener() {
  ListenerConfig l;
  l.max_message_size = 200000;
  l.max_header_size = 65536;
  l.max_hop_count = 3;
  l.max_local_hop_count = 1;
  return l;
}

Envelope EnvelopeWith(BodyType body = BodyType::k7Bit) {
  Envelope envelope;
  envelope.queue_id = "4XyZ0a1b2c";
  envelope.sender = "alice@example.org";
  envelope.body = body;
  return envelope;
}

// What the stream asked of qmgr: one letter per action (B D E A), and the
// content of every MessageData.
struct Record {
  std::string letters;
  std::string content;
  std::vector<size_t> pieces;
};

Record Replay(const std::vector<Action>& actions) {
  Record record;
  for (const Action& action : actions) {
    if (std::holds_alternative<action::BeginMessage>(action)) record.letters += 'B';
    if (const auto* data = std::get_if<action::MessageData>(&action)) {
      record.letters += 'D';
      record.content += data->bytes;
      record.pieces.push_back(data->bytes.size());
    }
    if (std::holds_alternative<action::EndMessage>(action)) record.letters += 'E';
    if (std::holds_alternative<action::AbortMessage>(action)) record.letters += 'A';
  }
  return record;
}

BOOST_AUTO_TEST_SUITE(message_stream)

BOOST_AUTO_TEST_CASE(opens_with_the_envelope_and_the_received_field_first) {
  ListenerConfig l = Listener();
  std::vector<Action> actions;
  MessageStream stream(l, "mail.example.test", EnvelopeWith(), kReceived, &actions);
  BOOST_REQUIRE(actions.size() == 1u);
  BOOST_TEST(std::get<action::BeginMessage>(actions[0]).envelope.sender == "alice@example.org");
  BOOST_TEST(stream.queue_id() == "4XyZ0a1b2c");
  bool complete = false;
  std::string data = "Subject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n";
  BOOST_TEST(stream.ReadData(data, &complete) == data.size() - 6);
  BOOST_TEST(complete);
  BOOST_TEST(Replay(actions).letters == "B");  // nothing handed out short of a piece
  BOOST_TEST((stream.Finish() == ContentVerdict::kAccepted));
  Record record = Replay(actions);
  BOOST_TEST(record.letters == "BDE");
  BOOST_TEST(record.content == kReceived + "Subject: hi\r\n\r\n.dot\r\n");
  stream.Abandon();  // ended: nothing to abort
  BOOST_TEST(Replay(actions).letters == "BDE");
}

BOOST_AUTO_TEST_CASE(content_leaves_in_pieces_of_64_kilobytes) {
  ListenerConfig l = Listener();
  std::vector<Action> actions;
  MessageStream stream(l, "mail.example.test", EnvelopeWith(), kReceived, &actions);
  std::string line(998, 'x');
  line += "\r\n";
  std::string body = "Subject: big\r\n\r\n";
  while (body.size() < 150000) body += line;
  stream.ReadChunk(body);
  BOOST_TEST(Replay(actions).pieces == (std::vector<size_t>{65536, 65536}),
             boost::test_tools::per_element());
  BOOST_TEST((stream.Finish() == ContentVerdict::kAccepted));
  Record record = Replay(actions);
  BOOST_TEST(record.letters == "BDDDE");
  BOOST_TEST(record.pieces.back() == kReceived.size() + body.size() - 2 * 65536);
  BOOST_TEST(record.content == kReceived + body);
}

BOOST_AUTO_TEST_CASE(a_crossed_bound_gives_the_stream_up_at_once_and_reads_on) {
  ListenerConfig l = Listener();
  l.max_message_size = 100;
  std::vector<Action> actions;
  MessageStream stream(l, "mail.example.test", EnvelopeWith(), kReceived, &actions);
  bool complete = false;
  std::string data = "Subject: x\r\n\r\n" + std::string(200, 'y') + "\r\n";
  BOOST_TEST(stream.ReadData(data, &complete) == data.size());
  BOOST_TEST(!complete);
  BOOST_TEST((stream.verdict() == ContentVerdict::kMessageSizeExceeded));
  BOOST_TEST(Replay(actions).letters == "BA");
  BOOST_TEST(stream.ReadData("more\r\n.\r\n", &complete) == 9u);
  BOOST_TEST(complete);
  BOOST_TEST((stream.Finish() == ContentVerdict::kMessageSizeExceeded));
  stream.Abandon();
  BOOST_TEST(Replay(actions).letters == "BA");
}

BOOST_AUTO_TEST_CASE(the_received_field_is_not_counted) {
  ListenerConfig l = Listener();
  l.max_hop_count = 1;
  std::vector<Action> actions;
  MessageStream stream(l, "mail.example.test", EnvelopeWith(), kReceived, &actions);
  stream.ReadChunk("Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nbody\r\n");
  BOOST_TEST((stream.Finish() == ContentVerdict::kAccepted));
}

BOOST_AUTO_TEST_CASE(abandon_aborts_an_open_stream_once) {
  ListenerConfig l = Listener();
  std::vector<Action> actions;
  MessageStream stream(l, "mail.example.test", EnvelopeWith(), kReceived, &actions);
  stream.ReadChunk("Subject: x\r\n");
  stream.Abandon();
  stream.Abandon();
  BOOST_TEST(Replay(actions).letters == "BA");
}

BOOST_AUTO_TEST_CASE(a_bare_line_ending_refuses_text_but_not_binarymime) {
  ListenerConfig l = Listener();
  std::vector<Action> actions;
  MessageStream text(l, "mail.example.test", EnvelopeWith(), kReceived, &actions);
  text.ReadChunk("Subject: x\r\n\r\nbare\nlf\r\n");
  BOOST_TEST((text.Finish() == ContentVerdict::kBareLineEnding));
  std::vector<Action> binary_actions;
  MessageStream binary(l, "mail.example.test", EnvelopeWith(BodyType::kBinaryMime), kReceived,
                       &binary_actions);
  binary.ReadChunk("Subject: x\r\n\r\nbare\nlf\r");
  BOOST_TEST((binary.Finish() == ContentVerdict::kAccepted));
  BOOST_TEST(Replay(binary_actions).content == kReceived + "Subject: x\r\n\r\nbare\nlf\r");
}

BOOST_AUTO_TEST_CASE(the_listener_sets_the_content_bounds) {
  ContentLimits limits = ListenerContentLimits(Listener());
  BOOST_TEST(limits.max_message_size == 200000u);
  BOOST_TEST(limits.max_header_size == 65536u);
  BOOST_TEST(limits.max_hop_count == 3u);
  BOOST_TEST(limits.max_local_hop_count == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
