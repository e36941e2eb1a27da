// tests/smtpd/auth_client_test.cc — smtpd's AuthClient against a fake authd on
// the other end of a socketpair, in one process: the frames it sends, the
// replies it routes, and what its sessions see when authd cannot be reached,
// goes away or misbehaves; also the recipient checks it carries.
#define BOOST_TEST_DYN_LINK
#include "smtpd/auth_client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "lib/ipc/payload.h"

namespace postern {
namespace {

using ipc::AuthOutcome;

struct Reply {
  AuthOutcome outcome;
  std::string data;
};

// What one exchange's callback has been told, in order.
struct Replies {
  std::vector<Reply> list;
  AuthClient::ReplyCallback Callback() {
    return [this](AuthOutcome outcome, const std::string& data) {
      list.push_back({outcome, data});
    };
  }
};

struct Fixture {
  Fixture() : base(event_base_new()) {
    client = std::make_unique<AuthClient>(base.get(), [this] {
      ++requests;
      if (on_request) on_request();
    });
  }
  ~Fixture() {
    client.reset();
    if (authd >= 0) close(authd);
  }

  // A connection to the fake authd, attached as master would.
  void Connect() {
    int pair[2];
    BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    timeval timeout{2, 0};
    setsockopt(pair[1], SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (authd >= 0) close(authd);
    authd = pair[1];
    client->Attach(pair[0]);
  }

  // Runs the loop without waiting: pending writes go out, readable input
  // and activated events are handled.
  void Turn() {
    for (int i = 0; i < 5; ++i) event_base_loop(base.get(), EVLOOP_NONBLOCK);
  }

  // Runs the loop until done() or two seconds have passed.
  template <typename Done>
  void RunUntil(Done done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!done() && std::chrono::steady_clock::now() < deadline)
      event_base_loop(base.get(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
  }

  // The next frame authd receives.
  ipc::Frame Receive() {
    Turn();
    Result<ipc::Frame> frame = ipc::ReceiveStreamFrame(authd);
    BOOST_REQUIRE_MESSAGE(frame.ok(), frame.status().message());
    return *frame;
  }

  void SendRaw(ipc::MsgType type, const std::string& payload) {
    std::string bytes = ipc::EncodeFrame(type, payload);
    // The client may have hung up already: a failed send is for the test's
    // assertions to notice, not a SIGPIPE.
    send(authd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }

  void Answer(uint64_t id, AuthOutcome outcome, const std::string& data) {
    SendRaw(ipc::AuthReply::kType, ipc::AuthReply{id, outcome, data}.Encode());
  }

  EventBasePtr base;
  std::unique_ptr<AuthClient> client;
  int authd = -1;
  int requests = 0;
  std::function<void()> on_request;
};

template <typename Message>
Message Parse(const ipc::Frame& frame) {
  Result<Message> message = ipc::DecodeAs<Message>(frame);
  BOOST_REQUIRE_MESSAGE(message.ok(), message.status().message());
  return *message;
}

ipc::AuthStart ParseStart(const ipc::Frame& frame) { return Parse<ipc::AuthStart>(frame); }

std::pair<uint64_t, std::string> ParseStep(const ipc::Frame& frame) {
  ipc::AuthStep step = Parse<ipc::AuthStep>(frame);
  return {step.auth_id, step.response};
}

uint64_t ParseCancel(const ipc::Frame& frame) { return Parse<ipc::AuthCancel>(frame).auth_id; }

bool IsOneTemporaryFailure(const Replies& replies) {
  return replies.list.size() == 1 && replies.list[0].outcome == AuthOutcome::kTemporaryFailure &&
         replies.list[0].data.empty();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(auth_client)

BOOST_FIXTURE_TEST_CASE(exchanges_wait_for_one_requested_connection, Fixture) {
  Replies a, b;
  uint64_t first = client->Start("LOGIN", "192.0.2.7", std::nullopt, a.Callback());
  uint64_t second =
      client->Start("NTLM", "2001:db8::1", std::string("NTLMSSP\0\1", 9), b.Callback());
  BOOST_TEST(requests == 1);
  BOOST_TEST(first != second);
  Connect();
  ipc::AuthStart one = ParseStart(Receive());
  BOOST_TEST(one.auth_id == first);
  BOOST_TEST(one.mechanism == "LOGIN");
  BOOST_TEST(one.client_address == "192.0.2.7");
  BOOST_TEST(!one.initial_response.has_value());
  ipc::AuthStart two = ParseStart(Receive());
  BOOST_TEST(two.auth_id == second);
  BOOST_TEST(two.mechanism == "NTLM");
  BOOST_TEST((two.initial_response == std::string("NTLMSSP\0\1", 9)));
  // Connected: a third exchange goes out at once, without another request.
  Replies c;
  uint64_t third = client->Start("LOGIN", "192.0.2.8", std::string(""), c.Callback());
  ipc::AuthStart three = ParseStart(Receive());
  BOOST_TEST(three.auth_id == third);
  BOOST_TEST((three.initial_response == std::string()));
  BOOST_TEST(requests == 1);
}

BOOST_FIXTURE_TEST_CASE(login_exchange_relays_challenges_and_the_user, Fixture) {
  Connect();
  Replies replies;
  uint64_t id = client->Start("LOGIN", "192.0.2.7", std::nullopt, replies.Callback());
  ParseStart(Receive());
  Answer(id, AuthOutcome::kContinue, "Username:");
  RunUntil([&] { return replies.list.size() == 1; });
  BOOST_REQUIRE(replies.list.size() == 1u);
  BOOST_TEST((replies.list[0].outcome == AuthOutcome::kContinue));
  BOOST_TEST(replies.list[0].data == "Username:");

  client->Step(id, "alice");
  auto [step_id, response] = ParseStep(Receive());
  BOOST_TEST(step_id == id);
  BOOST_TEST(response == "alice");
  Answer(id, AuthOutcome::kContinue, "Password:");
  RunUntil([&] { return replies.list.size() == 2; });
  client->Step(id, "secret");
  BOOST_TEST(ParseStep(Receive()).second == "secret");
  Answer(id, AuthOutcome::kSuccess, "alice");
  RunUntil([&] { return replies.list.size() == 3; });
  BOOST_REQUIRE(replies.list.size() == 3u);
  BOOST_TEST((replies.list[2].outcome == AuthOutcome::kSuccess));
  BOOST_TEST(replies.list[2].data == "alice");
  Turn();
  BOOST_TEST(replies.list.size() == 3u);
  BOOST_TEST(client->connected());
}

BOOST_FIXTURE_TEST_CASE(no_connection_fails_each_exchange_once_from_the_loop, Fixture) {
  Replies a, b;
  client->Start("LOGIN", "192.0.2.7", std::nullopt, a.Callback());
  client->Start("NTLM", "192.0.2.8", std::nullopt, b.Callback());
  client->AttachFailed();
  BOOST_TEST(a.list.empty());  // not from inside AttachFailed()
  Turn();
  BOOST_TEST(IsOneTemporaryFailure(a));
  BOOST_TEST(IsOneTemporaryFailure(b));
  // The next exchange asks master again.
  Replies c;
  client->Start("LOGIN", "192.0.2.7", std::nullopt, c.Callback());
  BOOST_TEST(requests == 2);
}

BOOST_FIXTURE_TEST_CASE(a_failure_inside_the_request_is_not_seen_inside_start, Fixture) {
  on_request = [this] { client->AttachFailed(); };
  Replies replies;
  client->Start("LOGIN", "192.0.2.7", std::nullopt, replies.Callback());
  BOOST_TEST(replies.list.empty());
  Turn();
  BOOST_TEST(IsOneTemporaryFailure(replies));
}

BOOST_FIXTURE_TEST_CASE(authd_gone_fails_waiting_and_later_steps, Fixture) {
  Connect();
  Replies waiting, mid;
  client->Start("LOGIN", "192.0.2.7", std::nullopt, waiting.Callback());
  ParseStart(Receive());
  uint64_t mid_id = client->Start("LOGIN", "192.0.2.8", std::nullopt, mid.Callback());
  ParseStart(Receive());
  Answer(mid_id, AuthOutcome::kContinue, "Username:");
  RunUntil([&] { return mid.list.size() == 1; });

  close(authd);  // authd killed
  authd = -1;
  RunUntil([&] { return !waiting.list.empty(); });
  BOOST_TEST(IsOneTemporaryFailure(waiting));
  BOOST_TEST(!client->connected());
  // The exchange that was waiting for its client learns it at its next step.
  BOOST_TEST(mid.list.size() == 1u);
  client->Step(mid_id, "alice");
  BOOST_TEST(mid.list.size() == 1u);
  Turn();
  BOOST_REQUIRE(mid.list.size() == 2u);
  BOOST_TEST((mid.list[1].outcome == AuthOutcome::kTemporaryFailure));
  Turn();
  BOOST_TEST(waiting.list.size() == 1u);
  BOOST_TEST(mid.list.size() == 2u);
  // No reconnection until an exchange needs one.
  BOOST_TEST(requests == 0);
  Replies next;
  client->Start("LOGIN", "192.0.2.7", std::nullopt, next.Callback());
  BOOST_TEST(requests == 1);
}

// An authd that stops reading is a failed authd: past 64 MB unsent (a worker
// full of sessions each sending a 12 KB NTLM message), every open exchange
// fails with a temporary error instead of the worker's memory growing.
BOOST_FIXTURE_TEST_CASE(an_authd_that_stops_reading_fails_the_connection, Fixture) {
  Connect();  // the fake authd never reads
  std::vector<Replies> replies(6000);
  std::string ntlm(12288, 'N');
  for (Replies& r : replies) client->Start("NTLM", "192.0.2.7", ntlm, r.Callback());
  RunUntil([&] { return !replies.front().list.empty(); });
  BOOST_TEST(!client->connected());
  size_t failed = 0;
  for (const Replies& r : replies) failed += IsOneTemporaryFailure(r);
  BOOST_TEST(failed == replies.size());
}

BOOST_FIXTURE_TEST_CASE(a_reply_crossing_a_cancel_is_dropped, Fixture) {
  Connect();
  Replies cancelled, other;
  uint64_t id = client->Start("LOGIN", "192.0.2.7", std::nullopt, cancelled.Callback());
  client->Cancel(id);
  ParseStart(Receive());
  BOOST_TEST(ParseCancel(Receive()) == id);
  Answer(id, AuthOutcome::kFailure, "");  // authd answered before it read the cancel
  uint64_t other_id = client->Start("LOGIN", "192.0.2.8", std::nullopt, other.Callback());
  ParseStart(Receive());
  Answer(other_id, AuthOutcome::kSuccess, "bob");
  RunUntil([&] { return !other.list.empty(); });
  BOOST_REQUIRE(other.list.size() == 1u);
  BOOST_TEST((other.list[0].outcome == AuthOutcome::kSuccess));
  BOOST_TEST(cancelled.list.empty());
  BOOST_TEST(client->connected());
}

BOOST_FIXTURE_TEST_CASE(cancel_after_a_challenge_tells_authd, Fixture) {
  Connect();
  Replies replies;
  uint64_t id = client->Start("NTLM", "192.0.2.7", std::nullopt, replies.Callback());
  ParseStart(Receive());
  Answer(id, AuthOutcome::kContinue, "");
  RunUntil([&] { return !replies.list.empty(); });
  client->Cancel(id);
  BOOST_TEST(ParseCancel(Receive()) == id);
  Turn();
  BOOST_TEST(replies.list.size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_reply_for_an_unknown_exchange_drops_the_connection, Fixture) {
  Connect();
  Replies replies;
  uint64_t id = client->Start("LOGIN", "192.0.2.7", std::nullopt, replies.Callback());
  ParseStart(Receive());
  Answer(id + 99, AuthOutcome::kSuccess, "mallory");
  RunUntil([&] { return !replies.list.empty(); });
  BOOST_TEST(IsOneTemporaryFailure(replies));
  BOOST_TEST(!client->connected());
}

BOOST_FIXTURE_TEST_CASE(a_malformed_reply_drops_the_connection, Fixture) {
  Connect();
  Replies replies;
  uint64_t id = client->Start("LOGIN", "192.0.2.7", std::nullopt, replies.Callback());
  ParseStart(Receive());
  SendRaw(ipc::MsgType::kAuthReply, ipc::PayloadWriter().U64(id).U8(5).Str("").Take());
  RunUntil([&] { return !replies.list.empty(); });
  BOOST_TEST(IsOneTemporaryFailure(replies));
  BOOST_TEST(!client->connected());
}

BOOST_FIXTURE_TEST_CASE(another_message_type_drops_the_connection, Fixture) {
  Connect();
  Replies replies;
  client->Start("LOGIN", "192.0.2.7", std::nullopt, replies.Callback());
  ParseStart(Receive());
  SendRaw(ipc::MsgType::kPong, "");
  RunUntil([&] { return !replies.list.empty(); });
  BOOST_TEST(IsOneTemporaryFailure(replies));
  BOOST_TEST(!client->connected());
}

// Recipient checks (local_recipient_map) share the connection.

BOOST_FIXTURE_TEST_CASE(recipient_checks_ask_authd_and_route_its_verdicts, Fixture) {
  std::vector<ipc::RecipientVerdict> alice, bob;
  std::string alice_known_as;
  uint64_t first = client->CheckRecipient(
      "Alice@example.test", [&](ipc::RecipientVerdict v, const std::string& known_as) {
        alice.push_back(v);
        alice_known_as = known_as;
      });
  uint64_t second = client->CheckRecipient(
      "bob@example.test", [&](ipc::RecipientVerdict v, const std::string&) { bob.push_back(v); });
  BOOST_TEST(requests == 1);
  Connect();
  ipc::RecipientQuery one = Parse<ipc::RecipientQuery>(Receive());
  BOOST_TEST(one.query_id == first);
  BOOST_TEST(one.address == "Alice@example.test");
  BOOST_TEST(Parse<ipc::RecipientQuery>(Receive()).query_id == second);
  // Answered out of order: each verdict reaches its own query.
  SendRaw(ipc::RecipientAnswer::kType,
          ipc::RecipientAnswer{second, ipc::RecipientVerdict::kUnknown, ""}.Encode());
  SendRaw(
      ipc::RecipientAnswer::kType,
      ipc::RecipientAnswer{first, ipc::RecipientVerdict::kKnown, "alice@example.test"}.Encode());
  RunUntil([&] { return !alice.empty() && !bob.empty(); });
  BOOST_TEST((alice == std::vector{ipc::RecipientVerdict::kKnown}));
  BOOST_TEST(alice_known_as == "alice@example.test");
  BOOST_TEST((bob == std::vector{ipc::RecipientVerdict::kUnknown}));
  BOOST_TEST(client->connected());
}

BOOST_FIXTURE_TEST_CASE(recipient_checks_are_unavailable_without_authd, Fixture) {
  std::vector<ipc::RecipientVerdict> verdicts;
  client->CheckRecipient("bob@example.test", [&](ipc::RecipientVerdict v, const std::string&) {
    verdicts.push_back(v);
  });
  client->AttachFailed();
  BOOST_TEST(verdicts.empty());  // not from inside AttachFailed()
  Turn();
  BOOST_TEST((verdicts == std::vector{ipc::RecipientVerdict::kUnavailable}));

  Connect();
  verdicts.clear();
  client->CheckRecipient("bob@example.test", [&](ipc::RecipientVerdict v, const std::string&) {
    verdicts.push_back(v);
  });
  Parse<ipc::RecipientQuery>(Receive());
  close(authd);  // authd killed before it answers
  authd = -1;
  RunUntil([&] { return !verdicts.empty(); });
  BOOST_TEST((verdicts == std::vector{ipc::RecipientVerdict::kUnavailable}));
}

BOOST_FIXTURE_TEST_CASE(a_forgotten_check_drops_its_answer, Fixture) {
  Connect();
  std::vector<ipc::RecipientVerdict> verdicts;
  uint64_t id = client->CheckRecipient(
      "bob@example.test",
      [&](ipc::RecipientVerdict v, const std::string&) { verdicts.push_back(v); });
  Parse<ipc::RecipientQuery>(Receive());
  client->ForgetRecipientCheck(id);
  SendRaw(ipc::RecipientAnswer::kType,
          ipc::RecipientAnswer{id, ipc::RecipientVerdict::kKnown, "bob@example.test"}.Encode());
  Turn();
  BOOST_TEST(verdicts.empty());
  BOOST_TEST(client->connected());
  // An answer to a query never asked is authd's error: the connection goes.
  SendRaw(
      ipc::RecipientAnswer::kType,
      ipc::RecipientAnswer{id + 100, ipc::RecipientVerdict::kKnown, "bob@example.test"}.Encode());
  RunUntil([&] { return !client->connected(); });
  BOOST_TEST(!client->connected());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
