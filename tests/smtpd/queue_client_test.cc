// tests/smtpd/queue_client_test.cc — smtpd's QueueClient against a fake qmgr
// on the other end of a socketpair, in one process: a message's content
// reaches qmgr whole and in order, in frames no larger than the piece size,
// however the session hands it over, and the result comes back to the stream.
#define BOOST_TEST_DYN_LINK
#include "smtpd/queue_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "lib/ipc/frame.h"

namespace postern {
namespace {

struct Fixture {
  Fixture() : base(event_base_new()) {
    client = std::make_unique<QueueClient>(base.get(), [this] { ++requests; });
  }
  ~Fixture() {
    client.reset();
    if (qmgr >= 0) close(qmgr);
  }

  void Connect() {
    int pair[2];
    BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) == 0);
    qmgr = pair[1];
    client->Attach(pair[0]);
  }

  // Runs the loop and reads what qmgr was sent, turn by turn, until a
  // frame of type `last` has arrived or two seconds have passed: the
  // client's writes may wait for the socket to drain, as they do in smtpd.
  std::vector<ipc::Frame> ReceiveThrough(ipc::MsgType last) {
    std::vector<ipc::Frame> frames;
    ipc::FrameDecoder decoder;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
      event_base_loop(base.get(), EVLOOP_NONBLOCK);
      char buffer[65536];
      ssize_t n;
      while ((n = recv(qmgr, buffer, sizeof buffer, 0)) > 0)
        decoder.Feed(std::string_view(buffer, static_cast<size_t>(n)));
      for (;;) {
        auto next = decoder.Next();
        BOOST_REQUIRE_MESSAGE(next.ok(), next.status().message());
        if (!next->has_value()) break;
        frames.push_back(std::move(**next));
        if (frames.back().type == last) return frames;
      }
    }
    BOOST_FAIL("no " << ipc::MsgTypeName(last) << " within two seconds; " << frames.size()
                     << " frames came");
    return frames;
  }

  EventBasePtr base;
  std::unique_ptr<QueueClient> client;
  int qmgr = -1;
  int requests = 0;
};

// Text whose every 10-byte window differs, so a lost, doubled or moved
// piece shows.
std::string Pattern(size_t size) {
  std::string text;
  for (size_t i = 0; text.size() < size; ++i) text += std::to_string(i) + ",";
  text.resize(size);
  return text;
}

template <typename Message>
Message Parse(const ipc::Frame& frame) {
  Result<Message> message = ipc::DecodeAs<Message>(frame);
  BOOST_REQUIRE_MESSAGE(message.ok(), message.status().message());
  return *message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(queue_client)

BOOST_FIXTURE_TEST_CASE(content_reaches_qmgr_whole_in_bounded_frames, Fixture) {
  Connect();
  Envelope envelope;
  envelope.sender = "alice@example.test";
  envelope.recipients.emplace_back();
  envelope.recipients.back().address = "bob@example.test";
  std::vector<std::pair<ipc::QueueOutcome, std::string>> results;
  uint64_t stream =
      client->Begin(envelope, [&](ipc::QueueOutcome outcome, const std::string& text) {
        results.emplace_back(outcome, text);
      });
  // Pieces of every size the session hands over: empty, one byte, one just
  // over a frame's 256 KB, and one of several frames.
  const std::string content = Pattern(1 + 262145 + 700000);
  client->Data(stream, std::string_view(content).substr(0, 0));
  client->Data(stream, std::string_view(content).substr(0, 1));
  client->Data(stream, std::string_view(content).substr(1, 262145));
  client->Data(stream, std::string_view(content).substr(262146));
  client->End(stream);

  std::vector<ipc::Frame> frames = ReceiveThrough(ipc::MsgType::kMessageEnd);
  BOOST_REQUIRE(frames.size() >= 3);
  ipc::MessageBegin begin = Parse<ipc::MessageBegin>(frames.front());
  BOOST_TEST(begin.stream_id == stream);
  Result<Envelope> sent = Envelope::Decode(begin.envelope);
  BOOST_REQUIRE(sent.ok());
  BOOST_TEST(sent->sender == "alice@example.test");
  std::string received;
  for (size_t i = 1; i + 1 < frames.size(); ++i) {
    ipc::MessageData data = Parse<ipc::MessageData>(frames[i]);
    BOOST_TEST(data.stream_id == stream);
    BOOST_TEST(data.content.size() <= 256u * 1024, data.content.size() << " bytes in one frame");
    received += data.content;
  }
  BOOST_TEST(received.size() == content.size());
  BOOST_TEST((received == content));
  ipc::MessageEnd end = Parse<ipc::MessageEnd>(frames.back());
  BOOST_TEST(end.stream_id == stream);
  BOOST_TEST(!end.report_first_attempt);

  std::string reply =
      ipc::EncodeFrame(ipc::MessageResult{stream, ipc::QueueOutcome::kQueued, "4A2B"});
  BOOST_REQUIRE(send(qmgr, reply.data(), reply.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(reply.size()));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (results.empty() && std::chrono::steady_clock::now() < deadline)
    event_base_loop(base.get(), EVLOOP_NONBLOCK);
  BOOST_REQUIRE(results.size() == 1u);
  BOOST_TEST((results[0].first == ipc::QueueOutcome::kQueued));
  BOOST_TEST(results[0].second == "4A2B");
  BOOST_TEST(requests == 0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
