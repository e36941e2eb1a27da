// tests/lib/ipc/framed_server_test.cc — the accept loop, frames and output
// bound that authd, qmgr and master's control socket share.
//
// A real listening Unix socket in a temporary directory, real clients and a
// real libevent loop: frames in (whole, batched, split) and replies out;
// a malformed frame or a frame the handler refuses drops only that peer;
// replies the socket cannot take at once wait for it and arrive whole, and a
// peer that leaves more than the bound unread is dropped; out of
// descriptors (RLIMIT_NOFILE lowered inside the test) accepting pauses and
// resumes when a connection gives a descriptor back, or after the pause.
#define BOOST_TEST_DYN_LINK
#include "lib/ipc/framed_server.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <set>
#include <string>
#include <thread>

#include "lib/net/unix_socket.h"

using namespace postern;

namespace {

// Wire bytes typed out: length 0, version 4, type 40 (kPing) / 41 (kPong).
const std::string kPing("\0\0\0\0\0\x04\0\x28", 8);
const std::string kPong("\0\0\0\0\0\x04\0\x29", 8);

// Runs the loop until done() or `limit` has passed; false on the latter.
template <typename Done>
bool RunUntil(event_base* base, Done done,
              std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A server whose handler answers kPing with kPong, refuses every other type,
// and on kAuthCancel sends `burst` frames of 32 KiB.
struct Fixture {
  Fixture() : base(event_base_new()) {
    char pattern[] = "/tmp/framed-server-test-XXXXXX";
    BOOST_REQUIRE(mkdtemp(pattern) != nullptr);
    directory = pattern;
    path = directory + "/test.sock";
  }
  ~Fixture() {
    server.reset();
    unlink(path.c_str());
    rmdir(directory.c_str());
  }

  void Start(FramedServer::Limits limits) {
    Result<int> fd = ListenUnixStream(path, nullptr);
    BOOST_REQUIRE(fd.ok());
    FramedServer::Handlers handlers{
        .frame = [this](FramedServer::PeerId peer, const ipc::Frame& frame) -> Status {
          if (frame.type == ipc::MsgType::kPing) {
            server->SendFrame(peer, ipc::EncodeFrame(ipc::MsgType::kPong, ""));
            return Status::Ok();
          }
          if (frame.type == ipc::MsgType::kAuthCancel) {
            for (int i = 0; i < burst; ++i)
              server->SendFrame(peer,
                                ipc::EncodeFrame(ipc::MsgType::kPong, std::string(32768, 'r')));
            return Status::Ok();
          }
          return Status::Error("not served here");
        },
        .closed = [this](FramedServer::PeerId peer) { closed.insert(peer); }};
    server = std::make_unique<FramedServer>(base.get(), "test socket", *fd, handlers, limits);
    BOOST_REQUIRE(server->Start().ok());
  }

  int Connect() {
    Result<int> fd = ConnectUnixStream(path, "test");
    BOOST_REQUIRE(fd.ok());
    return *fd;
  }

  // Runs the loop until `want` bytes arrived on fd, it closed, or `limit`
  // has passed.
  std::string Receive(int fd, size_t want,
                      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::string got;
    bool closed_by_peer = false;
    RunUntil(
        base.get(),
        [&] {
          char buffer[65536];
          ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
          if (n > 0) got.append(buffer, static_cast<size_t>(n));
          if (n == 0 || (n < 0 && errno == ECONNRESET)) closed_by_peer = true;
          return closed_by_peer || got.size() >= want;
        },
        limit);
    return got;
  }

  // What arrives on fd within a fifth of a second.
  std::string Quiet(int fd) { return Receive(fd, 1, std::chrono::milliseconds(200)); }

  // True when the server closed fd (after whatever it had sent).
  bool ClosedByServer(int fd) {
    bool closed_by_peer = false;
    RunUntil(base.get(), [&] {
      char buffer[65536];
      ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) closed_by_peer = true;
      return closed_by_peer;
    });
    return closed_by_peer;
  }

  void SendAll(int fd, const std::string& bytes) {
    BOOST_REQUIRE(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
                  static_cast<ssize_t>(bytes.size()));
  }

  EventBasePtr base;
  std::string directory;
  std::string path;
  std::unique_ptr<FramedServer> server;
  std::set<FramedServer::PeerId> closed;
  int burst = 0;
};

// The lowest descriptor number free now: with the soft limit set to it, the
// process can open nothing more.
int LowestFreeDescriptor() {
  int probe = open("/dev/null", O_RDONLY);
  BOOST_REQUIRE(probe >= 0);
  close(probe);
  return probe;
}

struct LimitOverride {
  explicit LimitOverride(rlim_t soft) {
    BOOST_REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    rlimit lowered = saved;
    lowered.rlim_cur = soft;
    BOOST_REQUIRE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  }
  void Restore() {
    if (restored) return;
    restored = true;
    BOOST_REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
  }
  ~LimitOverride() {
    if (!restored) setrlimit(RLIMIT_NOFILE, &saved);
  }
  rlimit saved{};
  bool restored = false;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(framed_server)

BOOST_AUTO_TEST_CASE(frames_in_whole_batched_or_split_get_their_replies) {
  Fixture f;
  f.Start({});
  int client = f.Connect();
  f.SendAll(client, kPing + kPing);
  BOOST_TEST(f.Receive(client, 16) == kPong + kPong);
  f.SendAll(client, kPing.substr(0, 3));
  BOOST_TEST(f.Quiet(client).empty());
  f.SendAll(client, kPing.substr(3));
  BOOST_TEST(f.Receive(client, 8) == kPong);
  close(client);
  BOOST_TEST(RunUntil(f.base.get(), [&] { return f.server->connections() == 0; }));
  BOOST_TEST(f.closed.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_malformed_or_refused_frame_drops_that_peer_only) {
  Fixture f;
  f.Start({});
  int good = f.Connect();
  int bad_version = f.Connect();
  int refused = f.Connect();
  f.SendAll(good, kPing);
  BOOST_TEST(f.Receive(good, 8) == kPong);
  // Version 99 in the header: the decoder refuses the stream.
  f.SendAll(bad_version, std::string("\0\0\0\0\0\x63\0\x28", 8));
  BOOST_TEST(f.ClosedByServer(bad_version));
  // kPong (41) is a frame the handler does not serve.
  f.SendAll(refused, kPong + kPing);
  BOOST_TEST(f.ClosedByServer(refused));
  BOOST_TEST(RunUntil(f.base.get(), [&] { return f.closed.size() == 2; }));
  f.SendAll(good, kPing);
  BOOST_TEST(f.Receive(good, 8) == kPong);
  BOOST_TEST(f.server->connections() == 1u);
  close(good);
  close(bad_version);
  close(refused);
}

BOOST_AUTO_TEST_CASE(replies_wait_for_a_slow_reader_and_arrive_whole) {
  Fixture f;
  f.Start({});   // the default bound holds four of the largest frames
  f.burst = 64;  // 2 MiB: more than the socket takes at once
  int client = f.Connect();
  f.SendAll(client, std::string("\0\0\0\0\0\x04\0\x2c", 8));  // kAuthCancel, empty
  // Nobody reads yet: the loop runs while the socket is full.
  for (int i = 0; i < 100; ++i) event_base_loop(f.base.get(), EVLOOP_NONBLOCK);
  const size_t frame_size = 8 + 32768;
  std::string got = f.Receive(client, 64 * frame_size);
  BOOST_REQUIRE(got.size() == 64 * frame_size);
  BOOST_TEST(got.substr(0, 8) == std::string("\0\0\x80\0\0\x04\0\x29", 8));
  BOOST_TEST(got.substr(63 * frame_size + 8) == std::string(32768, 'r'));
  BOOST_TEST(f.server->connections() == 1u);
  close(client);
}

BOOST_AUTO_TEST_CASE(a_peer_that_leaves_more_than_the_bound_unread_is_dropped) {
  Fixture f;
  FramedServer::Limits limits;
  limits.max_output = 100000;
  f.Start(limits);
  f.burst = 256;  // 8 MiB: far more than the socket buffer and the bound
  int client = f.Connect();
  int other = f.Connect();
  f.SendAll(client, std::string("\0\0\0\0\0\x04\0\x2c", 8));
  BOOST_TEST(RunUntil(f.base.get(), [&] { return f.closed.size() == 1; }));
  BOOST_TEST(f.server->connections() == 1u);
  f.SendAll(other, kPing);
  BOOST_TEST(f.Receive(other, 8) == kPong);
  close(client);
  close(other);
}

BOOST_AUTO_TEST_CASE(out_of_descriptors_accepting_pauses_and_resumes) {
  Fixture f;
  FramedServer::Limits limits;
  limits.accept_pause = std::chrono::milliseconds(100);
  f.Start(limits);
  int held = f.Connect();
  f.SendAll(held, kPing);
  BOOST_REQUIRE(f.Receive(held, 8) == kPong);

  // Sockets made before the limit; connect() needs no new descriptor.
  int waiting = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int later = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(waiting >= 0 && later >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  strncpy(address.sun_path, f.path.c_str(), sizeof address.sun_path - 1);
  auto* raw = reinterpret_cast<sockaddr*>(&address);

  {
    LimitOverride limit(LowestFreeDescriptor());
    BOOST_REQUIRE(connect(waiting, raw, sizeof address) == 0);
    BOOST_TEST(RunUntil(f.base.get(), [&] { return f.server->accept_paused(); }));
    BOOST_TEST(f.server->connections() == 1u);
    // The held connection closes: its descriptor lets the waiting one in.
    close(held);
    BOOST_TEST(RunUntil(f.base.get(), [&] { return f.closed.size() == 1; }));
    f.SendAll(waiting, kPing);
    BOOST_TEST(f.Receive(waiting, 8) == kPong);
  }
  {
    // Out of descriptors again with nothing to give back: the pause runs out.
    LimitOverride limit(LowestFreeDescriptor());
    BOOST_REQUIRE(connect(later, raw, sizeof address) == 0);
    BOOST_TEST(RunUntil(f.base.get(), [&] { return f.server->accept_paused(); }));
    BOOST_TEST(f.server->connections() == 1u);
    limit.Restore();
    f.SendAll(later, kPing);
    BOOST_TEST(f.Receive(later, 8) == kPong);
  }
  BOOST_TEST(f.server->connections() == 2u);
  BOOST_TEST(RunUntil(
      f.base.get(), [&] { return !f.server->accept_paused(); }, std::chrono::milliseconds(1000)));
  close(waiting);
  close(later);
}

BOOST_AUTO_TEST_CASE(at_the_connection_cap_accepting_waits_for_a_close) {
  Fixture f;
  FramedServer::Limits limits;
  limits.max_connections = 1;
  f.Start(limits);
  int first = f.Connect();
  f.SendAll(first, kPing);
  BOOST_REQUIRE(f.Receive(first, 8) == kPong);
  int second = f.Connect();  // waits in the listen queue
  f.SendAll(second, kPing);
  BOOST_TEST(f.Quiet(second).empty());
  BOOST_TEST(f.server->accept_paused());
  close(first);
  BOOST_TEST(f.Receive(second, 8) == kPong);
  close(second);
}

BOOST_AUTO_TEST_CASE(stop_accepting_and_close_all) {
  Fixture f;
  f.Start({});
  int client = f.Connect();
  f.SendAll(client, kPing);
  BOOST_REQUIRE(f.Receive(client, 8) == kPong);
  f.server->StopAccepting();
  f.server->CloseAll();
  BOOST_TEST(f.closed.size() == 1u);
  BOOST_TEST(f.server->connections() == 0u);
  BOOST_TEST(f.ClosedByServer(client));
  close(client);
}

BOOST_AUTO_TEST_SUITE_END()
