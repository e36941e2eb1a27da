// tests/lib/net/connection_stream_test.cc — a client connection's bytes on an
// event loop, as smtpd's sessions use them.
//
// Real socketpairs and pipes on a real libevent loop: input reaches the owner
// only while reading is on, output leaves from the loop and its draining is
// reported, a peer that reads slowly gets every byte in order, the end of
// input still lets replies out, a peer gone is an error (not a SIGPIPE), and
// an idle connection holds no output buffer.
#define BOOST_TEST_DYN_LINK
#include "lib/net/connection_stream.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>

using namespace postern;

namespace {

// Records what the stream reports.
struct Recorder : ConnectionStream::Owner {
  std::string data;
  int drained = 0;
  int ended = 0;
  bool ended_in_error = false;
  void OnData(std::string_view bytes) override { data.append(bytes); }
  void OnDrained() override { ++drained; }
  void OnEnded(bool error) override {
    ++ended;
    ended_in_error = error;
  }
};

// Runs the loop until done() or a few seconds have passed.
template <typename Done>
void RunUntil(event_base* base, Done done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline)
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

// A few rounds of the loop, for what must not happen.
void RunBriefly(event_base* base) {
  for (int i = 0; i < 20; ++i) event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

// A stream on one end of a socketpair; the test is the client on the other.
struct Connected {
  Connected() {
    BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    BOOST_REQUIRE(stream.Open(base.get(), fds[0], fds[0], &owner).ok());
  }
  ~Connected() {
    if (fds[1] >= 0) close(fds[1]);
  }
  // What the client has received so far (non-blocking).
  std::string ClientReads() {
    std::string got;
    char buffer[65536];
    ssize_t n;
    while ((n = recv(fds[1], buffer, sizeof buffer, MSG_DONTWAIT)) > 0)
      got.append(buffer, static_cast<size_t>(n));
    return got;
  }
  EventBasePtr base{event_base_new()};
  int fds[2] = {-1, -1};
  Recorder owner;
  ConnectionStream stream;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(connection_stream)

BOOST_AUTO_TEST_CASE(input_reaches_the_owner_only_while_reading_is_on) {
  Connected c;
  BOOST_REQUIRE(send(c.fds[1], "EHLO a\r\n", 8, 0) == 8);
  RunBriefly(c.base.get());
  BOOST_TEST(c.owner.data.empty());
  c.stream.SetReading(true);
  BOOST_TEST(c.stream.reading());
  RunUntil(c.base.get(), [&] { return !c.owner.data.empty(); });
  BOOST_TEST(c.owner.data == "EHLO a\r\n");
  c.stream.SetReading(false);
  BOOST_REQUIRE(send(c.fds[1], "QUIT\r\n", 6, 0) == 6);
  RunBriefly(c.base.get());
  BOOST_TEST(c.owner.data == "EHLO a\r\n");
}

BOOST_AUTO_TEST_CASE(output_leaves_from_the_loop_and_its_draining_is_reported) {
  Connected c;
  c.stream.Write("220 ready\r\n");
  // Nothing is written, and nothing reported, inside Write().
  BOOST_TEST(c.stream.unsent() == 11u);
  BOOST_TEST(c.owner.drained == 0);
  RunUntil(c.base.get(), [&] { return c.owner.drained > 0; });
  BOOST_TEST(c.owner.drained == 1);
  BOOST_TEST(c.stream.unsent() == 0u);
  BOOST_TEST(c.ClientReads() == "220 ready\r\n");
  RunBriefly(c.base.get());
  BOOST_TEST(c.owner.drained == 1);  // once per drained output
}

BOOST_AUTO_TEST_CASE(a_client_that_reads_slowly_gets_every_byte_in_order) {
  Connected c;
  int small = 4096;
  BOOST_REQUIRE(setsockopt(c.fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
  BOOST_REQUIRE(setsockopt(c.fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
  std::string sent;
  for (int i = 0; i < 20000; ++i) sent += "250-line " + std::to_string(i) + "\r\n";
  // Written in pieces while the client takes 4 KB at a time, as replies come
  // while earlier ones wait: the stream holds what the client has not taken.
  std::string received;
  size_t offset = 0, most_unsent = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (received.size() < sent.size() && std::chrono::steady_clock::now() < deadline) {
    if (offset < sent.size()) {
      c.stream.Write(std::string_view(sent).substr(offset, 7000));
      offset += 7000;
    }
    RunBriefly(c.base.get());
    most_unsent = std::max(most_unsent, c.stream.unsent());
    char buffer[4096];
    ssize_t n = recv(c.fds[1], buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) received.append(buffer, static_cast<size_t>(n));
  }
  BOOST_TEST(most_unsent > 100000u);
  BOOST_TEST(received.size() == sent.size());
  BOOST_TEST((received == sent));
  BOOST_TEST(c.stream.unsent() == 0u);
  BOOST_TEST(c.owner.drained >= 1);
}

BOOST_AUTO_TEST_CASE(after_the_end_of_input_the_replies_still_go_out) {
  Connected c;
  c.stream.SetReading(true);
  BOOST_REQUIRE(send(c.fds[1], "QUIT\r\n", 6, 0) == 6);
  BOOST_REQUIRE(shutdown(c.fds[1], SHUT_WR) == 0);
  RunUntil(c.base.get(), [&] { return c.owner.ended > 0; });
  BOOST_TEST(c.owner.data == "QUIT\r\n");
  BOOST_TEST(c.owner.ended == 1);
  BOOST_TEST(!c.owner.ended_in_error);
  BOOST_TEST(!c.stream.reading());
  c.stream.SetReading(true);  // the input is over for good
  BOOST_TEST(!c.stream.reading());
  c.stream.Write("221 bye\r\n");
  RunUntil(c.base.get(), [&] { return c.owner.drained > 0; });
  BOOST_TEST(c.ClientReads() == "221 bye\r\n");
  BOOST_TEST(c.owner.ended == 1);
}

BOOST_AUTO_TEST_CASE(a_client_gone_is_an_error_and_stops_the_stream) {
  Connected c;
  close(c.fds[1]);
  c.fds[1] = -1;
  // EPIPE: reported to the owner, not raised as SIGPIPE (which would end
  // this test process).
  c.stream.Write("250 ok\r\n");
  RunUntil(c.base.get(), [&] { return c.owner.ended > 0; });
  BOOST_TEST(c.owner.ended == 1);
  BOOST_TEST(c.owner.ended_in_error);
  BOOST_TEST(c.owner.drained == 0);
  c.stream.Write("more");
  c.stream.SetReading(true);
  RunBriefly(c.base.get());
  BOOST_TEST(c.owner.ended == 1);
  BOOST_TEST(!c.stream.reading());
}

BOOST_AUTO_TEST_CASE(stopped_streams_move_nothing) {
  Connected c;
  c.stream.SetReading(true);
  c.stream.Stop();
  BOOST_REQUIRE(send(c.fds[1], "NOOP\r\n", 6, 0) == 6);
  c.stream.Write("250 ok\r\n");
  RunBriefly(c.base.get());
  BOOST_TEST(c.owner.data.empty());
  BOOST_TEST(c.ClientReads().empty());
  BOOST_TEST(c.owner.drained == 0);
  BOOST_TEST(c.owner.ended == 0);
}

// smtpd -S: input from one descriptor (stdin), output to another (stdout);
// both are closed with the stream.
BOOST_AUTO_TEST_CASE(input_and_output_may_be_two_pipes) {
  EventBasePtr base(event_base_new());
  int in[2], out[2];
  BOOST_REQUIRE(pipe2(in, O_CLOEXEC) == 0);
  BOOST_REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  Recorder owner;
  {
    ConnectionStream stream;
    BOOST_REQUIRE(stream.Open(base.get(), in[0], out[1], &owner).ok());
    stream.SetReading(true);
    BOOST_REQUIRE(write(in[1], "HELO a\r\n", 8) == 8);
    RunUntil(base.get(), [&] { return !owner.data.empty(); });
    BOOST_TEST(owner.data == "HELO a\r\n");
    stream.Write("250 hello\r\n");
    RunUntil(base.get(), [&] { return owner.drained > 0; });
    char buffer[64];
    ssize_t n = read(out[0], buffer, sizeof buffer);
    BOOST_TEST(std::string(buffer, n > 0 ? static_cast<size_t>(n) : 0) == "250 hello\r\n");
  }
  // The stream closed its ends: the reader of out sees the end, and in's
  // read end is gone.
  char c;
  BOOST_TEST(read(out[0], &c, 1) == 0);
  BOOST_TEST(fcntl(in[0], F_GETFD) == -1);
  close(in[1]);
  close(out[0]);
}

BOOST_AUTO_TEST_SUITE_END()
