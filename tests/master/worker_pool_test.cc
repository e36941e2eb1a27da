// tests/master/worker_pool_test.cc — master drops a worker that breaks the
// IPC protocol, and counts the message rate and the last minute's tallies
// by its clock.
//
// A forked child stands in for the smtpd worker (it only waits to be
// killed); the test speaks for it on the other end of the channel. A
// frame that does not decode, or one of a type a worker must not send, makes
// master kill that worker (the supervisor would start another) instead of
// logging and carrying on with counts it can no longer trust. The pool
// answers a worker's MAIL check by a FakeClock, so the rate's minute passes
// without waiting.
#define BOOST_TEST_DYN_LINK
#include "master/worker_pool.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "lib/ipc/frame.h"
#include "lib/ipc/messages_worker.h"

namespace postern {
namespace {

constexpr uint64_t kPlenty = uint64_t{1} << 40;

struct Fixture {
  Fixture()
      : base(event_base_new()),
        resources(&clock, std::chrono::seconds(1),
                  [this](const Config&) {
                    return Result<ResourceReadings>(ResourceReadings{free_disk, 0, kPlenty, {}});
                  }),
        pool(base.get(), &clock, &table, &resources, "/nonexistent/qmgr.sock",
             "/nonexistent/authd.sock") {
    worker = fork();
    BOOST_REQUIRE(worker >= 0);
    if (worker == 0) {
      for (;;) pause();
    }
    int pair[2];
    BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0);
    pool.AddWorker(worker, pair[0]);
    peer = pair[1];
  }
  ~Fixture() {
    if (!reaped) {
      kill(worker, SIGKILL);
      waitpid(worker, nullptr, 0);
    }
    pool.WorkerExited(worker);
    close(peer);
  }

  // Sends what the worker would send, byte for byte.
  void SendAsWorker(ipc::MsgType type, const std::string& payload) {
    std::string frame = ipc::EncodeFrame(type, payload);
    BOOST_REQUIRE(send(peer, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size()));
  }

  // The next Message master sends the worker within three seconds, running
  // the pool's loop meanwhile; frames of other types are skipped.
  template <typename Message>
  std::optional<Message> Next() {
    BOOST_REQUIRE(fcntl(peer, F_SETFL, fcntl(peer, F_GETFL) | O_NONBLOCK) == 0);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    ipc::DatagramBuffer buffer;
    while (std::chrono::steady_clock::now() < deadline) {
      event_base_loop(base.get(), EVLOOP_NONBLOCK);
      Result<ipc::Datagram> datagram = ipc::ReceiveDatagram(peer, &buffer);
      if (!datagram.ok()) {
        BOOST_REQUIRE(datagram.status().is_would_block());
        usleep(1000);
        continue;
      }
      if (datagram->frame.type != Message::kType) continue;
      Result<Message> message = ipc::DecodeAs<Message>(datagram->frame);
      BOOST_REQUIRE(message.ok());
      return *message;
    }
    return std::nullopt;
  }

  // Sends a MAIL check as the worker and returns master's verdict.
  std::optional<ipc::MailVerdict> CheckMail(uint64_t request_id, const std::string& rate_key) {
    SendAsWorker(ipc::MsgType::kMailCheck, ipc::MailCheck{request_id, "smtp", rate_key}.Encode());
    std::optional<ipc::MailCheckReply> reply = Next<ipc::MailCheckReply>();
    if (!reply) return std::nullopt;
    BOOST_REQUIRE(reply->request_id == request_id);
    return reply->verdict;
  }

  // The next MailCheckPolicy master sends the worker.
  std::optional<ipc::MailCheckPolicy> NextPolicy() { return Next<ipc::MailCheckPolicy>(); }

  // Runs the loop for up to two seconds or until the worker has died; the
  // signal that ended it, if it did.
  std::optional<int> RunUntilWorkerDies() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
      event_base_loop(base.get(), EVLOOP_NONBLOCK);
      int status = 0;
      if (waitpid(worker, &status, WNOHANG) == worker) {
        reaped = true;
        return WIFSIGNALED(status) ? std::optional<int>(WTERMSIG(status)) : std::optional<int>(0);
      }
      usleep(10000);
    }
    return std::nullopt;
  }

  uint64_t free_disk = kPlenty;  // what the resource reader says
  FakeClock clock;
  EventBasePtr base;
  ConnectionTable table;
  ResourceMonitor resources;
  WorkerPool pool;
  pid_t worker = -1;
  int peer = -1;
  bool reaped = false;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(worker_pool_protocol)

BOOST_FIXTURE_TEST_CASE(a_well_formed_frame_keeps_the_worker, Fixture) {
  SendAsWorker(ipc::MsgType::kConnClosed, ipc::ConnClosed{77}.Encode());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  while (std::chrono::steady_clock::now() < deadline) event_base_loop(base.get(), EVLOOP_NONBLOCK);
  BOOST_TEST(waitpid(worker, nullptr, WNOHANG) == 0);
  BOOST_TEST(pool.live_workers() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_malformed_frame_gets_the_worker_killed, Fixture) {
  // A kHandoffAck carries a u64; three bytes are not one.
  SendAsWorker(ipc::MsgType::kHandoffAck, "abc");
  BOOST_TEST((RunUntilWorkerDies() == std::optional<int>(SIGKILL)));
  BOOST_TEST(pool.live_workers() == 0u);
}

BOOST_FIXTURE_TEST_CASE(an_out_of_range_service_gets_the_worker_killed, Fixture) {
  SendAsWorker(ipc::MsgType::kServiceConnect, std::string(1, '\x09'));
  BOOST_TEST((RunUntilWorkerDies() == std::optional<int>(SIGKILL)));
  BOOST_TEST(pool.live_workers() == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_message_only_master_sends_gets_the_worker_killed, Fixture) {
  SendAsWorker(ipc::MsgType::kDrain, "");
  BOOST_TEST((RunUntilWorkerDies() == std::optional<int>(SIGKILL)));
  BOOST_TEST(pool.live_workers() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(worker_pool_timing)

// MessageRateLimitExceeded counts the MAILs of the last minute by the
// pool's clock: the third within a minute is refused, and a minute after
// the first the client may send again.
BOOST_FIXTURE_TEST_CASE(the_message_rate_is_counted_by_the_pools_clock, Fixture) {
  Config config;
  ListenerConfig listener;
  listener.name = "smtp";
  listener.message_rate_limit = 2;
  config.listeners.push_back(listener);
  pool.SetConfig(&config);
  const std::string client = "ip:192.0.2.7";

  BOOST_TEST((CheckMail(1, client) == ipc::MailVerdict::kAllowed));
  clock.Advance(std::chrono::seconds(30));
  BOOST_TEST((CheckMail(2, client) == ipc::MailVerdict::kAllowed));
  BOOST_TEST((CheckMail(3, client) == ipc::MailVerdict::kRateLimitExceeded));
  clock.Advance(std::chrono::seconds(29));
  BOOST_TEST((CheckMail(4, client) == ipc::MailVerdict::kRateLimitExceeded));
  clock.Advance(std::chrono::seconds(1));  // the first MAIL is a minute old
  BOOST_TEST((CheckMail(5, client) == ipc::MailVerdict::kAllowed));
  BOOST_TEST((CheckMail(6, client) == ipc::MailVerdict::kRateLimitExceeded));
}

// A worker answers a MAIL check itself only where master could say nothing
// but yes: on a listener without message_rate_limit while resources are
// ample. It asks for every MAIL until master first says so, again within a
// second of a shortage, and for good once it drains (a reload's new limits
// reach its last sessions).
BOOST_FIXTURE_TEST_CASE(workers_are_told_which_mail_checks_need_no_round_trip, Fixture) {
  Config config;
  config.min_free_disk_space = uint64_t{1} << 30;
  ListenerConfig unlimited;
  unlimited.name = "smtp";
  unlimited.message_rate_limit = 0;
  ListenerConfig limited;
  limited.name = "submission";
  limited.message_rate_limit = 5;
  config.listeners = {unlimited, limited};
  const ipc::MailCheckPolicy ask_always;
  const ipc::MailCheckPolicy smtp_alone{true, {"smtp"}};

  BOOST_TEST((NextPolicy() == ask_always));  // sent with the ticket key, before any config
  pool.SetConfig(&config);
  BOOST_TEST((NextPolicy() == smtp_alone));
  BOOST_TEST(AllowedWithoutAsking(smtp_alone, "smtp"));
  BOOST_TEST(!AllowedWithoutAsking(smtp_alone, "submission"));

  free_disk = 1000;                        // below min_free_disk_space
  clock.Advance(std::chrono::seconds(1));  // the monitor's interval: it reads again
  const ipc::MailCheckPolicy short_of_disk{false, {"smtp"}};
  BOOST_TEST((NextPolicy() == short_of_disk));
  BOOST_TEST(!AllowedWithoutAsking(short_of_disk, "smtp"));
  BOOST_TEST((CheckMail(1, "ip:192.0.2.7") == ipc::MailVerdict::kInsufficientResources));

  free_disk = kPlenty;
  clock.Advance(std::chrono::seconds(1));
  BOOST_TEST((NextPolicy() == smtp_alone));
  pool.DrainAll();
  BOOST_TEST((NextPolicy() == ask_always));
}

// `postern status`: the workers' tallies and master's own refusals, summed
// over the last minute by the pool's clock.
BOOST_FIXTURE_TEST_CASE(tallies_and_refusals_are_summed_over_a_minute, Fixture) {
  ipc::SessionTally tally{.listener = "smtp",
                          .messages = 2,
                          .rejections = 1,
                          .bytes = 3000,
                          .refused = {{"RCPT", 550, "5.1.1", 1}}};
  SendAsWorker(ipc::MsgType::kSessionTally, tally.Encode());
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (pool.MessagesLastMinute() == 0 && std::chrono::steady_clock::now() < until) {
    event_base_loop(base.get(), EVLOOP_NONBLOCK);
    usleep(1000);
  }
  pool.CountRefusal("smtp", "421 4.3.2 Service not available\r\n");
  BOOST_TEST(pool.MessagesLastMinute() == 2u);
  BOOST_TEST(pool.RejectionsLastMinute() == 2u);
  // metrics_listen's totals keep them, by listener and reply.
  PrometheusText text;
  pool.traffic().Write(&text, {{"smtp", 0}});
  for (const char* line : {"postern_messages_total{listener=\"smtp\"} 2\n",
                           "postern_message_bytes_total{listener=\"smtp\"} 3000\n",
                           "postern_rejections_total{listener=\"smtp\",command=\"RCPT\","
                           "code=\"550\",enhanced=\"5.1.1\"} 1\n",
                           "postern_rejections_total{listener=\"smtp\",command=\"CONNECT\","
                           "code=\"421\",enhanced=\"4.3.2\"} 1\n"})
    BOOST_TEST(text.text().find(line) != std::string::npos, line << " is not in\n" << text.text());
  clock.Advance(std::chrono::seconds(60));
  BOOST_TEST(pool.MessagesLastMinute() == 0u);
  BOOST_TEST(pool.RejectionsLastMinute() == 0u);
  BOOST_TEST(pool.live_workers() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
