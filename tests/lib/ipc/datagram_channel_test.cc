// tests/lib/ipc/datagram_channel_test.cc — the master↔smtpd channel loses no frame.
//
// Real SOCK_SEQPACKET socketpairs on a real libevent loop: a burst larger
// than the socket buffer arrives whole and in order, descriptors queued
// behind a full socket still arrive and work, a peer that stops reading
// fails the channel at the bound instead of growing it without end, and a
// peer that closes is reported as closed.
#define BOOST_TEST_DYN_LINK
#include "lib/ipc/datagram_channel.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "lib/ipc/messages_worker.h"

using namespace postern;

namespace {

struct Pair {
  Pair() { BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0); }
  int fds[2];
};

// A channel whose received frames and failure are recorded.
struct Recorder {
  std::vector<ipc::Datagram> received;
  std::string failure;
  bool peer_closed = false;
  int failures = 0;
  DatagramChannel::Handlers Handlers() {
    return {.frame = [this](ipc::Datagram& d) { received.push_back(std::move(d)); },
            .failed =
                [this](const std::string& why, bool closed) {
                  failure = why;
                  peer_closed = closed;
                  ++failures;
                }};
  }
};

// Runs the loop until done() or a few seconds have passed.
template <typename Done>
void RunUntil(event_base* base, Done done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline)
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

std::string Numbered(size_t i) { return std::to_string(i) + std::string(900, 'x'); }

}  // namespace

BOOST_AUTO_TEST_SUITE(datagram_channel)

BOOST_AUTO_TEST_CASE(a_burst_larger_than_the_socket_arrives_whole_and_in_order) {
  EventBasePtr base(event_base_new());
  Pair pair;
  Recorder sender_side, receiver_side;
  DatagramChannel sender(base.get(), pair.fds[0], "receiver", sender_side.Handlers());
  // 12 MB: more than the socket buffer the channel asks for (4 MB), less
  // than the queue's bound (16 MB).
  constexpr size_t kFrames = 12000;
  for (size_t i = 0; i < kFrames; ++i)
    BOOST_REQUIRE(sender.Send(ipc::MsgType::kConnClosed, Numbered(i)).ok());
  BOOST_TEST(sender.queued_frames() > 0u);  // the socket could not take them all
  DatagramChannel receiver(base.get(), pair.fds[1], "sender", receiver_side.Handlers());
  RunUntil(base.get(), [&] { return receiver_side.received.size() == kFrames; });
  BOOST_REQUIRE(receiver_side.received.size() == kFrames);
  for (size_t i = 0; i < kFrames; ++i)
    BOOST_REQUIRE(receiver_side.received[i].frame.payload == Numbered(i));
  BOOST_TEST(sender.queued_frames() == 0u);
  BOOST_TEST(sender_side.failures == 0);
}

BOOST_AUTO_TEST_CASE(descriptors_queued_behind_a_full_socket_still_arrive) {
  EventBasePtr base(event_base_new());
  Pair pair;
  Recorder sender_side, receiver_side;
  DatagramChannel sender(base.get(), pair.fds[0], "receiver", sender_side.Handlers());
  size_t filler = 0;
  while (sender.queued_frames() == 0) {
    BOOST_REQUIRE(sender.Send(ipc::MsgType::kConnClosed, Numbered(filler++)).ok());
  }
  int pipe_fds[2];
  BOOST_REQUIRE(pipe(pipe_fds) == 0);
  BOOST_REQUIRE(sender.Send(ipc::MsgType::kHandoff, "with fd", pipe_fds[1]).ok());
  close(pipe_fds[1]);  // the caller keeps its copy; the queue has its own
  DatagramChannel receiver(base.get(), pair.fds[1], "sender", receiver_side.Handlers());
  RunUntil(base.get(), [&] { return receiver_side.received.size() == filler + 1; });
  BOOST_REQUIRE(receiver_side.received.size() == filler + 1);
  ipc::Datagram& last = receiver_side.received.back();
  BOOST_TEST(last.frame.payload == "with fd");
  BOOST_REQUIRE(last.fd >= 0);
  BOOST_REQUIRE(write(last.fd, "y", 1) == 1);
  close(last.fd);
  char c = 0;
  BOOST_REQUIRE(read(pipe_fds[0], &c, 1) == 1);
  BOOST_TEST(c == 'y');
  close(pipe_fds[0]);
}

BOOST_AUTO_TEST_CASE(a_peer_that_stops_reading_fails_the_channel_at_the_bound) {
  EventBasePtr base(event_base_new());
  Pair pair;
  Recorder side;
  DatagramChannel sender(base.get(), pair.fds[0], "smtpd 42", side.Handlers());
  size_t sent = 0;
  while (sender.Send(ipc::MsgType::kConnClosed, Numbered(sent)).ok()) {
    ++sent;
    BOOST_REQUIRE(sent < 100000);  // the bound stops it long before
  }
  // Less than the socket buffer plus the bound was accepted.
  BOOST_TEST(sent * 908 < (DatagramChannel::kMaxQueuedBytes + (8u << 20)));
  BOOST_TEST(side.failures == 0);  // reported from the loop, not inside Send()
  RunUntil(base.get(), [&] { return side.failures > 0; });
  BOOST_TEST(side.failures == 1);
  BOOST_TEST(!side.peer_closed);
  BOOST_TEST(side.failure.find("smtpd 42 has stopped reading") != std::string::npos);
  BOOST_TEST(!sender.open());
  BOOST_TEST(!sender.Send(ipc::MsgType::kConnClosed, "late").ok());
  close(pair.fds[1]);
}

BOOST_AUTO_TEST_CASE(a_peer_that_closes_is_reported_closed) {
  EventBasePtr base(event_base_new());
  Pair pair;
  Recorder side;
  DatagramChannel channel(base.get(), pair.fds[0], "master", side.Handlers());
  close(pair.fds[1]);
  RunUntil(base.get(), [&] { return side.failures > 0; });
  BOOST_TEST(side.failures == 1);
  BOOST_TEST(side.peer_closed);
  BOOST_TEST(side.failure == "master closed the channel");
}

// The owner's verdict on a frame that does not decode: the frames behind it
// are not delivered, and the failure is reported once, from the loop.
BOOST_AUTO_TEST_CASE(fail_from_the_frame_handler_stops_delivery) {
  EventBasePtr base(event_base_new());
  Pair pair;
  Recorder side;
  DatagramChannel* self = nullptr;
  int frames = 0;
  DatagramChannel channel(base.get(), pair.fds[0], "smtpd 7",
                          {.frame =
                               [&](ipc::Datagram&) {
                                 ++frames;
                                 self->Fail("smtpd 7 sent garbage");
                               },
                           .failed = side.Handlers().failed});
  self = &channel;
  Recorder peer_side;
  DatagramChannel peer(base.get(), pair.fds[1], "master", peer_side.Handlers());
  BOOST_REQUIRE(peer.Send(ipc::ConnClosed{1}).ok());
  BOOST_REQUIRE(peer.Send(ipc::ConnClosed{2}).ok());
  RunUntil(base.get(), [&] { return side.failures > 0; });
  BOOST_TEST(frames == 1);
  BOOST_TEST(side.failures == 1);
  BOOST_TEST(!side.peer_closed);
  BOOST_TEST(side.failure == "smtpd 7 sent garbage");
  BOOST_TEST(!channel.open());
}

BOOST_AUTO_TEST_CASE(a_datagram_that_is_not_a_frame_fails_the_channel) {
  EventBasePtr base(event_base_new());
  Pair pair;
  Recorder side;
  DatagramChannel channel(base.get(), pair.fds[0], "smtpd 7", side.Handlers());
  BOOST_REQUIRE(send(pair.fds[1], "junk", 4, 0) == 4);
  RunUntil(base.get(), [&] { return side.failures > 0; });
  BOOST_TEST(side.failures == 1);
  BOOST_TEST(!side.peer_closed);
  BOOST_TEST(side.received.empty());
  close(pair.fds[1]);
}

BOOST_AUTO_TEST_SUITE_END()
