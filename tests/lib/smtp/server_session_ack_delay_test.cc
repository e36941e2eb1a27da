// tests/lib/smtp/server_session_ack_delay_test.cc — AcknowledgementDelay
// (MS-OXSMTP 3.2.7) in the server session.
//
// "AcknowledgementDelay event: Occurs when the server waits 30 seconds for
// a mail item to be delivered to the next hop. This event occurs after the
// end of DATA or BDAT LAST ... the server MUST send acknowledgment of
// receiving the mail item even if transport has not delivered the item to
// the next hop." With acknowledgement_delay on, the 250 waits for qmgr's
// commit and then for the end of the message's first delivery attempt, or
// for the delay; the wait is not the client's inactivity. Expected replies
// are typed from MS-OXSMTP, not taken from the reply catalogue.
#include "tests/lib/smtp/session_harness.h"

namespace postern {
namespace {

using namespace postern::testing;  // NOLINT: the harness is this file's vocabulary

void Delay30(ListenerConfig& l) { l.acknowledgement_delay = seconds(30); }

const std::string kInactivityTimeout = "451 4.7.0 Timeout waiting for client input\r\n";
const std::string kConnectionTimeout = "421 4.4.1 Connection timed out\r\n";

// A session on a listener with acknowledgement_delay = 30s that has sent
// one message through DATA; nothing is answered yet.
std::unique_ptr<Harness> MessageSent() {
  auto h = std::make_unique<Harness>(Delay30);
  h->Open();
  BOOST_TEST(h->Say("DATA\r\n") == kGoAhead);
  BOOST_TEST(h->Say("Subject: hi\r\n\r\nbody\r\n.\r\n").empty());
  return h;
}

BOOST_AUTO_TEST_SUITE(session_ack_delay)

BOOST_AUTO_TEST_CASE(the_end_of_data_asks_qmgr_for_the_first_attempt) {
  auto h = MessageSent();
  BOOST_TEST(h->ends == 1);
  BOOST_TEST(h->first_attempt_asked == std::vector<bool>{true});
}

BOOST_AUTO_TEST_CASE(the_250_comes_when_qmgr_reports_the_first_attempt) {
  auto h = MessageSent();
  h->clock().Advance(std::chrono::milliseconds(20));
  BOOST_TEST(h->Queue().empty());  // durable, but the attempt is not over
  BOOST_TEST(h->session().input_paused());
  BOOST_TEST(h->Advance(std::chrono::milliseconds(2080)).empty());
  BOOST_TEST(h->Attempt(ipc::AttemptSummary::kDelivered) == h->Queued());
  BOOST_TEST(!h->session().input_paused());
  BOOST_REQUIRE(h->acknowledged.size() == 1u);
  BOOST_TEST(h->acknowledged[0].queue_id == h->LastId());
  BOOST_TEST((h->acknowledged[0].waited == std::chrono::milliseconds(2100)));
  BOOST_TEST(h->acknowledged[0].why == "delivered");
  BOOST_TEST(h->Say("QUIT\r\n") == kBye);
}

BOOST_AUTO_TEST_CASE(a_deferred_or_failed_attempt_ends_the_wait_too) {
  for (auto [summary, word] : {std::pair{ipc::AttemptSummary::kDeferred, "deferred"},
                               std::pair{ipc::AttemptSummary::kFailed, "failed"},
                               std::pair{ipc::AttemptSummary::kNotAttempted, "not attempted"}}) {
    auto h = MessageSent();
    h->Queue();
    BOOST_TEST(h->Attempt(summary) == h->Queued());
    BOOST_REQUIRE(h->acknowledged.size() == 1u);
    BOOST_TEST(h->acknowledged[0].why == word);
  }
}

BOOST_AUTO_TEST_CASE(without_a_report_the_250_comes_when_the_delay_runs_out) {
  auto h = MessageSent();
  h->clock().Advance(seconds(1));
  BOOST_TEST(h->Queue().empty());
  BOOST_TEST((h->session().NextDeadline() == h->clock().Now() + seconds(29)));
  BOOST_TEST(h->Advance(seconds(28)).empty());
  BOOST_TEST(h->Advance(seconds(1)) == h->Queued());
  BOOST_REQUIRE(h->acknowledged.size() == 1u);
  BOOST_TEST((h->acknowledged[0].waited == seconds(30)));
  BOOST_TEST(h->acknowledged[0].why == "acknowledgement_delay 30 s ran out");
  // A report that comes after is for nobody.
  BOOST_TEST(h->Attempt(ipc::AttemptSummary::kDelivered).empty());
  BOOST_TEST(h->acknowledged.size() == 1u);
  BOOST_TEST(h->Say("NOOP\r\n") == kOk);
}

BOOST_AUTO_TEST_CASE(nothing_comes_before_the_commit) {
  auto h = MessageSent();
  // The delay runs out while qmgr has not committed: still no 250, and no
  // timer of the wait runs before the commit.
  BOOST_TEST(h->Advance(seconds(40)).empty());
  BOOST_TEST(h->Attempt(ipc::AttemptSummary::kDelivered).empty());
  BOOST_TEST(h->acknowledged.empty());
  // The commit comes after the delay ran out: the 250 comes with it.
  BOOST_TEST(h->Queue() == h->Queued());
  BOOST_REQUIRE(h->acknowledged.size() == 1u);
  BOOST_TEST(h->acknowledged[0].why == "acknowledgement_delay 30 s ran out");
}

BOOST_AUTO_TEST_CASE(a_refused_message_is_answered_at_once) {
  auto h = MessageSent();
  BOOST_TEST(h->Queue(ipc::QueueOutcome::kInsufficientResources) ==
             "452 4.3.1 Insufficient system resources\r\n");
  BOOST_TEST(h->acknowledged.empty());
  BOOST_TEST(!h->session().input_paused());
}

BOOST_AUTO_TEST_CASE(the_wait_is_not_inactivity) {
  // Inactivity 1 minute, a delay of 5 minutes: the wait outlasts it.
  Harness h([](ListenerConfig& l) { l.acknowledgement_delay = minutes(5); });
  h.Open();
  h.Say("DATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\n");
  h.Queue();
  BOOST_TEST(h.Advance(seconds(61)).empty());
  BOOST_TEST(h.Advance(seconds(120)).empty());
  BOOST_TEST(h.Attempt(ipc::AttemptSummary::kDeferred) == h.Queued());
  // The inactivity timer restarts when reading resumes.
  BOOST_TEST(h.Advance(seconds(59)).empty());
  BOOST_TEST(h.Advance(seconds(1)) == kInactivityTimeout);
}

BOOST_AUTO_TEST_CASE(the_connection_timer_runs_and_the_250_precedes_its_421) {
  // 5 minutes of session: 4m50s pass before the end of data.
  Harness h(Delay30);
  h.Open();
  h.Say("DATA\r\n");
  for (int i = 0; i < 29; ++i) {
    h.Say("x\r\n");
    h.Advance(seconds(10));
  }
  h.Say(".\r\n");
  h.Queue();
  BOOST_TEST(h.Advance(seconds(9)).empty());
  BOOST_TEST(h.Advance(seconds(1)) == h.Queued() + kConnectionTimeout);
  BOOST_REQUIRE(h.acknowledged.size() == 1u);
  BOOST_TEST(h.acknowledged[0].why == "connection_timeout ran out");
  BOOST_TEST(h.closed_seen);
}

BOOST_AUTO_TEST_CASE(bdat_last_waits_the_same) {
  auto h = std::make_unique<Harness>(Delay30);
  h->Open();
  BOOST_TEST(h->Say("BDAT 7 LAST\r\nhello\r\n").empty());
  BOOST_TEST(h->first_attempt_asked == std::vector<bool>{true});
  BOOST_TEST(h->Queue().empty());
  BOOST_TEST(h->Attempt(ipc::AttemptSummary::kDelivered) == h->Queued());
}

BOOST_AUTO_TEST_CASE(pipelined_commands_wait_behind_the_held_250) {
  Harness h(Delay30);
  h.Start();
  std::string out = h.Say(
      "EHLO client.example.net\r\n"
      "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n"
      "Subject: one\r\n\r\n1\r\n.\r\n"
      "MAIL FROM:<a@example.org>\r\nRCPT TO:<c@example.test>\r\nDATA\r\n"
      "Subject: two\r\n\r\n2\r\n.\r\n"
      "QUIT\r\n");
  BOOST_TEST(out == kEhloReply + kSenderOk + kRecipientOk + kGoAhead);
  BOOST_TEST(h.Queue().empty());
  BOOST_TEST(h.ends == 1);
  BOOST_TEST(h.Attempt(ipc::AttemptSummary::kDelivered) ==
             h.Queued(0) + kSenderOk + kRecipientOk + kGoAhead);
  BOOST_TEST(h.ends == 2);
  BOOST_TEST(h.Queue().empty());
  BOOST_TEST(h.Advance(seconds(30)) == h.Queued(1) + kBye);
  BOOST_TEST(h.closed_seen);
}

BOOST_AUTO_TEST_CASE(the_client_leaving_ends_the_wait_without_a_reply) {
  auto h = MessageSent();
  h->Queue();
  BOOST_TEST(h->Eof().empty());
  BOOST_TEST(h->closed_seen);
  BOOST_TEST(h->aborts == 0);  // the message is queued; nothing to abort
  BOOST_TEST(h->acknowledged.empty());
}

// The message is queued: the client hears the 250 before the 421 of a
// server that stops, or it would send the message again.
BOOST_AUTO_TEST_CASE(a_server_stopping_in_the_wait_sends_the_250_first) {
  auto h = MessageSent();
  h->Queue();
  BOOST_TEST(h->ShutDown() ==
             h->Queued() + "421 4.3.2 Service shutting down, closing transmission channel\r\n");
  BOOST_REQUIRE(h->acknowledged.size() == 1u);
  BOOST_TEST(h->acknowledged[0].why == "the server is stopping");
  BOOST_TEST(h->closed_seen);
  BOOST_TEST(h->aborts == 0);
}

BOOST_AUTO_TEST_CASE(delay_0_answers_at_the_commit_and_asks_for_nothing) {
  Harness h;  // acknowledgement_delay = 0, the default
  h.Open();
  h.Say("DATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\n");
  BOOST_TEST(h.first_attempt_asked == std::vector<bool>{false});
  BOOST_TEST(h.Queue() == h.Queued());
  BOOST_TEST(h.acknowledged.empty());
  BOOST_TEST(h.events.find('K') == std::string::npos);
  BOOST_TEST(h.Attempt(ipc::AttemptSummary::kDelivered).empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
