// tests/lib/net/client_stream_test.cc — lib/net/client_stream over real
// sockets: replies go out at once, output the kernel cannot take waits and is
// delivered whole, input pauses and resumes without loss, a half-close
// still gets its replies, and a reset is reported once.
#define BOOST_TEST_DYN_LINK
#include "lib/net/client_stream.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <functional>
#include <string>

namespace postern {
namespace {

struct Fixture {
  Fixture() : base(event_base_new()) {
    int pair[2];
    BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    peer = pair[1];
    // A small send buffer, so that the EAGAIN path is reached with little data.
    int size = 4096;
    setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    stream = std::make_unique<ClientStream>(
        base.get(), pair[0], pair[0],
        ClientStream::Callbacks{
            .on_input = [this](std::string_view bytes) { input.append(bytes); },
            .on_drained = [this] { ++drained; },
            .on_end_of_input = [this] { ++ended; },
            .on_error = [this] { ++errors; },
        });
  }
  ~Fixture() {
    stream.reset();
    if (peer >= 0) close(peer);
  }

  // Runs the loop until done() or two seconds have passed.
  bool RunUntil(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      event_base_loop(base.get(), EVLOOP_NONBLOCK);
      usleep(1000);
    }
    return true;
  }

  // What the peer can read now, without waiting.
  std::string PeerReads() {
    std::string got;
    char buffer[65536];
    for (;;) {
      ssize_t n = recv(peer, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n <= 0) return got;
      got.append(buffer, static_cast<size_t>(n));
    }
  }

  void PeerSends(const std::string& bytes) {
    BOOST_REQUIRE(send(peer, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
  }

  EventBasePtr base;
  int peer = -1;
  std::unique_ptr<ClientStream> stream;
  std::string input;
  int drained = 0;
  int ended = 0;
  int errors = 0;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(client_stream)

BOOST_FIXTURE_TEST_CASE(a_flush_writes_at_once_without_the_loop, Fixture) {
  stream->Send("220 ready\r\n");
  stream->Send("250 OK\r\n");
  BOOST_TEST(stream->unsent() == 19u);
  stream->Flush();
  BOOST_TEST(stream->unsent() == 0u);
  // The bytes are in the peer's socket before the loop has run once.
  BOOST_TEST(PeerReads() == "220 ready\r\n250 OK\r\n");
  BOOST_TEST(drained == 0);  // nothing waited, so nothing is announced
}

BOOST_FIXTURE_TEST_CASE(output_the_socket_cannot_take_waits_and_arrives_whole, Fixture) {
  std::string big;
  for (int i = 0; big.size() < 2'000'000; ++i) big += "line " + std::to_string(i) + "\r\n";
  stream->Send(big);
  stream->Flush();
  BOOST_TEST(stream->unsent() > 0u);  // the kernel took only part
  std::string got;
  BOOST_TEST(RunUntil([&] {
    got += PeerReads();
    return got.size() == big.size();
  }));
  BOOST_TEST((got == big));
  BOOST_TEST(RunUntil([&] { return drained == 1; }));
  BOOST_TEST(stream->unsent() == 0u);
  // Flush with nothing queued changes nothing.
  stream->Flush();
  BOOST_TEST(drained == 1);
}

BOOST_FIXTURE_TEST_CASE(input_is_read_only_while_wanted_and_none_is_lost, Fixture) {
  PeerSends("EHLO a\r\n");
  BOOST_TEST(!RunUntil([&] { return !input.empty(); }));  // reading starts paused
  stream->SetReading(true);
  BOOST_TEST(RunUntil([&] { return input == "EHLO a\r\n"; }));
  stream->SetReading(false);
  PeerSends("MAIL FROM:<a@b>\r\n");
  BOOST_TEST(!RunUntil([&] { return input.size() > 8; }));  // paused: nothing delivered
  stream->SetReading(true);
  BOOST_TEST(RunUntil([&] { return input == "EHLO a\r\nMAIL FROM:<a@b>\r\n"; }));
}

BOOST_FIXTURE_TEST_CASE(a_half_closed_client_still_gets_its_replies, Fixture) {
  stream->SetReading(true);
  PeerSends("QUIT\r\n");
  BOOST_REQUIRE(shutdown(peer, SHUT_WR) == 0);
  BOOST_TEST(RunUntil([&] { return ended == 1; }));
  BOOST_TEST(input == "QUIT\r\n");
  stream->Send("221 bye\r\n");
  stream->Flush();
  BOOST_TEST(PeerReads() == "221 bye\r\n");
  BOOST_TEST(errors == 0);
}

BOOST_FIXTURE_TEST_CASE(a_vanished_client_is_reported_once_from_the_loop, Fixture) {
  close(peer);
  peer = -1;
  stream->Send("250 OK\r\n");
  stream->Flush();  // EPIPE: not reported from inside Flush()
  BOOST_TEST(errors == 0);
  BOOST_TEST(RunUntil([&] { return errors == 1; }));
  stream->Send("more\r\n");
  stream->Flush();
  BOOST_TEST(!RunUntil([&] { return errors > 1 || drained > 0 || ended > 0; }));
}

BOOST_FIXTURE_TEST_CASE(a_stopped_stream_calls_nothing_back, Fixture) {
  stream->SetReading(true);
  stream->Send(std::string(1'000'000, 'x'));
  stream->Flush();
  stream->Stop();
  BOOST_TEST(stream->unsent() == 0u);  // dropped
  PeerSends("NOOP\r\n");
  BOOST_REQUIRE(shutdown(peer, SHUT_WR) == 0);
  BOOST_TEST(!RunUntil([&] { return !input.empty() || drained > 0 || ended > 0 || errors > 0; }));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
