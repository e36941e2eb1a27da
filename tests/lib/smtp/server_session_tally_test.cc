// tests/lib/smtp/server_session_tally_test.cc — what a session counts for
// `postern status` (ServerSession::tally()): messages acknowledged with 250,
// and 4xx/5xx replies to MAIL, RCPT, DATA and BDAT, but no other reply.
//
// Expected replies are typed from MS-OXSMTP and RFC 5321.
#include "tests/lib/smtp/session_harness.h"

namespace postern {
namespace {

using namespace postern::testing;  // NOLINT: the harness is this file's vocabulary

using Tally = ServerSession::Tally;

BOOST_AUTO_TEST_SUITE(session_tally)

BOOST_AUTO_TEST_CASE(a_queued_message_counts_once_and_nothing_else_does) {
  Harness h;
  h.Open();
  BOOST_TEST((h.session().tally() == Tally{0, 0}));
  h.Say("DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n");
  BOOST_TEST((h.session().tally() == Tally{0, 0}));  // not before qmgr has it on disk
  BOOST_TEST(h.Queue() == h.Queued());
  BOOST_TEST((h.session().tally() == Tally{1, 0}));
  BOOST_TEST(h.Say("NOOP\r\n") == kOk);
  BOOST_TEST(h.Say("QUIT\r\n") == kBye);
  BOOST_TEST((h.session().tally() == Tally{1, 0}));
}

BOOST_AUTO_TEST_CASE(error_replies_to_mail_rcpt_and_data_are_rejections) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == "503 5.5.2 Send hello first\r\n");
  BOOST_TEST((h.session().tally() == Tally{0, 1}));
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("DATA\r\n") == kNeedMail);
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == kSenderOk);
  BOOST_TEST(h.Say("RCPT TO:<someone@elsewhere.example>\r\n") == "550 5.7.1 Unable to relay\r\n");
  BOOST_TEST(h.Say("RCPT TO:<bob@example.test>\r\n") == kRecipientOk);
  BOOST_TEST((h.session().tally() == Tally{0, 3}));
}

BOOST_AUTO_TEST_CASE(a_message_qmgr_could_not_keep_is_a_rejection) {
  Harness h;
  h.Open();
  h.Say("DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n");
  BOOST_TEST(h.Queue(ipc::QueueOutcome::kTemporaryFailure) ==
             "451 4.3.0 Requested action aborted: local error in processing\r\n");
  BOOST_TEST((h.session().tally() == Tally{0, 1}));
}

BOOST_AUTO_TEST_CASE(a_refused_bdat_chunk_is_a_rejection) {
  Harness h;
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("BDAT 3 LAST\r\nabc") == kNeedMail);
  BOOST_TEST((h.session().tally() == Tally{0, 1}));
}

BOOST_AUTO_TEST_CASE(errors_to_other_commands_and_timeouts_are_not) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Say("FROB\r\n") == kUnrecognized);
  BOOST_TEST(h.Say("EHLO\r\n") == kSyntax);
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("XEXCH50 100 2\r\n") == "504 5.7.1 Not authorized\r\n");
  BOOST_TEST(h.Say(std::string(600, 'x') + "\r\n") == "500 5.5.2 Line too long\r\n");
  BOOST_TEST(h.Advance(minutes(1)) == "451 4.7.0 Timeout waiting for client input\r\n");
  BOOST_TEST((h.session().tally() == Tally{0, 0}));
}

BOOST_AUTO_TEST_CASE(a_tarpitted_mail_error_counts_once_it_is_sent) {
  Harness h([](ListenerConfig& l) { l.tarpit_interval = seconds(5); });
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\nMAIL FROM:<b@example.org>\r\n") == kSenderOk);
  BOOST_TEST((h.session().tally() == Tally{0, 0}));
  BOOST_TEST(h.Advance(seconds(5)) == "503 5.5.2 Sender already specified\r\n");
  BOOST_TEST((h.session().tally() == Tally{0, 1}));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
