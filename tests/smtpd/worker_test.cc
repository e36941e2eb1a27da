// tests/smtpd/worker_test.cc — an smtpd worker takes master for gone when
// master breaks the IPC protocol.
//
// The worker runs in a forked child on one end of a SOCK_SEQPACKET pair; the
// test speaks for master on the other. A frame that does not decode, or of a
// type master must not send, fails the channel: the worker drains (here: no
// session, so it exits at once) and closes its end, where it used to log and
// wait on a channel it can no longer trust.
#define BOOST_TEST_DYN_LINK
#include "smtpd/worker.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>

#include "lib/ipc/frame.h"
#include "lib/ipc/messages_worker.h"

namespace postern {
namespace {

struct RunOutcome {
  bool exited = false;  // within the time allowed, with status 0
  bool first_frame_was_service_connect = false;
  bool channel_closed = false;
};

// Starts a worker on a channel, sends it frame as master and reports whether
// it exited on its own within two seconds.
RunOutcome RunWorkerReceiving(const std::string& frame) {
  int pair[2];
  BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0);
  pid_t child = fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    close(pair[1]);
    Config config;
    config.client_reverse_lookup = false;
    EventBasePtr base(event_base_new());
    Worker worker(base.get(), std::move(config), pair[0]);
    worker.Start();
    event_base_dispatch(base.get());
    _exit(0);
  }
  close(pair[0]);
  int master = pair[1];
  RunOutcome outcome;
  timeval timeout{2, 0};
  setsockopt(master, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ipc::DatagramBuffer buffer;
  // A worker first asks for its connection to qmgr.
  Result<ipc::Datagram> first = ipc::ReceiveDatagram(master, &buffer);
  outcome.first_frame_was_service_connect =
      first.ok() && first->frame.type == ipc::MsgType::kServiceConnect;
  BOOST_REQUIRE(send(master, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size()));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  int status = 0;
  pid_t reaped = 0;
  while (reaped == 0 && std::chrono::steady_clock::now() < deadline) {
    reaped = waitpid(child, &status, WNOHANG);
    if (reaped == 0) usleep(10000);
  }
  if (reaped == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
  } else {
    outcome.exited = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  Result<ipc::Datagram> after = ipc::ReceiveDatagram(master, &buffer);
  outcome.channel_closed = !after.ok() && after.status().is_end_of_file();
  close(master);
  return outcome;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(worker_protocol)

BOOST_AUTO_TEST_CASE(a_malformed_frame_from_master_ends_the_worker) {
  // A kMailCheckReply whose verdict is out of range.
  std::string payload = ipc::MailCheckReply{1, ipc::MailVerdict::kAllowed}.Encode();
  payload.back() = 7;
  RunOutcome outcome = RunWorkerReceiving(ipc::EncodeFrame(ipc::MsgType::kMailCheckReply, payload));
  BOOST_TEST(outcome.first_frame_was_service_connect);
  BOOST_TEST(outcome.exited);
  BOOST_TEST(outcome.channel_closed);
}

BOOST_AUTO_TEST_CASE(a_message_only_a_worker_sends_ends_the_worker) {
  RunOutcome outcome = RunWorkerReceiving(ipc::EncodeFrame(ipc::HandoffAck{5}));
  BOOST_TEST(outcome.exited);
  BOOST_TEST(outcome.channel_closed);
}

BOOST_AUTO_TEST_CASE(a_drain_from_master_ends_an_idle_worker_too) {
  RunOutcome outcome = RunWorkerReceiving(ipc::EncodeFrame(ipc::Drain{}));
  BOOST_TEST(outcome.exited);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
