// tests/lib/smtp/server_session_tally_test.cc — what a session counts for
// `postern status` and metrics_listen (ServerSession::tally()): messages
// acknowledged with 250 and their octets, and 4xx/5xx replies to MAIL,
// RCPT, DATA and BDAT by command and reply, but no other reply.
//
// Expected replies are typed from MS-OXSMTP and RFC 5321.
#include "lib/smtp/tally_frames.h"
#include "tests/lib/smtp/session_harness.h"

namespace postern {
namespace {

using namespace postern::testing;  // NOLINT: the harness is this file's vocabulary

using Tally = ServerSession::Tally;
using Refusal = ServerSession::Refusal;
using Pair = std::pair<uint32_t, uint32_t>;

// messages, rejections
Pair Counts(const Tally& tally) { return {tally.messages, tally.rejections}; }

BOOST_AUTO_TEST_SUITE(session_tally)

BOOST_AUTO_TEST_CASE(a_queued_message_counts_once_and_nothing_else_does) {
  Harness h;
  h.Open();
  BOOST_TEST((Counts(h.session().tally()) == Pair{0, 0}));
  h.Say("DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n");
  BOOST_TEST((Counts(h.session().tally()) == Pair{0, 0}));  // not before qmgr has it on disk
  BOOST_TEST(h.Queue() == h.Queued());
  BOOST_TEST((Counts(h.session().tally()) == Pair{1, 0}));
  BOOST_TEST(h.Say("NOOP\r\n") == kOk);
  BOOST_TEST(h.Say("QUIT\r\n") == kBye);
  BOOST_TEST((Counts(h.session().tally()) == Pair{1, 0}));
}

BOOST_AUTO_TEST_CASE(error_replies_to_mail_rcpt_and_data_are_rejections) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == "503 5.5.2 Send hello first\r\n");
  BOOST_TEST((Counts(h.session().tally()) == Pair{0, 1}));
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("DATA\r\n") == kNeedMail);
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == kSenderOk);
  BOOST_TEST(h.Say("RCPT TO:<someone@elsewhere.example>\r\n") == "550 5.7.1 Unable to relay\r\n");
  BOOST_TEST(h.Say("RCPT TO:<bob@example.test>\r\n") == kRecipientOk);
  BOOST_TEST((Counts(h.session().tally()) == Pair{0, 3}));
}

BOOST_AUTO_TEST_CASE(a_message_qmgr_could_not_keep_is_a_rejection) {
  Harness h;
  h.Open();
  h.Say("DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n");
  BOOST_TEST(h.Queue(ipc::QueueOutcome::kTemporaryFailure) ==
             "451 4.3.0 Requested action aborted: local error in processing\r\n");
  BOOST_TEST((Counts(h.session().tally()) == Pair{0, 1}));
}

BOOST_AUTO_TEST_CASE(a_refused_bdat_chunk_is_a_rejection) {
  Harness h;
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("BDAT 3 LAST\r\nabc") == kNeedMail);
  BOOST_TEST((Counts(h.session().tally()) == Pair{0, 1}));
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
  BOOST_TEST((Counts(h.session().tally()) == Pair{0, 0}));
}

BOOST_AUTO_TEST_CASE(a_tarpitted_mail_error_counts_once_it_is_sent) {
  Harness h([](ListenerConfig& l) { l.tarpit_interval = seconds(5); });
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\nMAIL FROM:<b@example.org>\r\n") == kSenderOk);
  BOOST_TEST((Counts(h.session().tally()) == Pair{0, 0}));
  BOOST_TEST(h.Advance(seconds(5)) == "503 5.5.2 Sender already specified\r\n");
  BOOST_TEST((Counts(h.session().tally()) == Pair{0, 1}));
}

BOOST_AUTO_TEST_CASE(bytes_are_the_content_octets_of_the_queued_messages) {
  Harness h;
  h.Open();
  // "Subject: x" CRLF, CRLF, "body" CRLF: 12 + 2 + 6 octets; the final
  // "." CRLF is no content.
  h.Say("DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n");
  BOOST_TEST(h.session().tally().bytes == 0u);  // not before qmgr has it on disk
  BOOST_TEST(h.Queue() == h.Queued());
  BOOST_TEST(h.session().tally().bytes == 20u);
  // A message qmgr could not keep adds no octets.
  h.Say("MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.test>\r\n");
  h.Say("DATA\r\nSubject: y\r\n\r\nbody\r\n.\r\n");
  h.Queue(ipc::QueueOutcome::kTemporaryFailure);
  BOOST_TEST(h.session().tally().bytes == 20u);
}

BOOST_AUTO_TEST_CASE(refusals_are_counted_by_command_code_and_enhanced_code) {
  Harness h;
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("DATA\r\n") == kNeedMail);
  h.Say("MAIL FROM:<a@example.org>\r\n");
  h.Say("RCPT TO:<x@elsewhere.example>\r\nRCPT TO:<y@elsewhere.example>\r\n");
  const Tally tally = h.session().tally();
  BOOST_TEST(tally.rejections == 3u);
  BOOST_TEST((tally.refused == std::map<Refusal, uint32_t>{{{"DATA", 503, "5.5.2"}, 1},
                                                           {{"RCPT", 550, "5.7.1"}, 2}}));
}

BOOST_AUTO_TEST_CASE(since_is_what_a_later_tally_added) {
  Tally earlier{
      .messages = 1, .rejections = 2, .bytes = 100, .refused = {{{"RCPT", 550, "5.7.1"}, 2}}};
  Tally later{.messages = 3,
              .rejections = 4,
              .bytes = 350,
              .refused = {{{"RCPT", 550, "5.7.1"}, 3}, {{"MAIL", 452, "4.3.1"}, 1}}};
  Tally added = later.Since(earlier);
  BOOST_TEST((Counts(added) == Pair{2, 2}));
  BOOST_TEST(added.bytes == 250u);
  BOOST_TEST((added.refused == std::map<Refusal, uint32_t>{{{"MAIL", 452, "4.3.1"}, 1},
                                                           {{"RCPT", 550, "5.7.1"}, 1}}));
  BOOST_TEST((later.Since(later) == Tally{}));
}

BOOST_AUTO_TEST_CASE(add_sums_two_sessions) {
  Tally sum{.messages = 1, .rejections = 2, .bytes = 100, .refused = {{{"RCPT", 550, "5.7.1"}, 2}}};
  sum.Add({.messages = 2,
           .rejections = 2,
           .bytes = 50,
           .refused = {{{"RCPT", 550, "5.7.1"}, 1}, {{"MAIL", 452, "4.3.1"}, 1}}});
  BOOST_TEST((Counts(sum) == Pair{3, 4}));
  BOOST_TEST(sum.bytes == 150u);
  BOOST_TEST((sum.refused == std::map<Refusal, uint32_t>{{{"MAIL", 452, "4.3.1"}, 1},
                                                         {{"RCPT", 550, "5.7.1"}, 3}}));
}

// A worker's sum goes to master in frames of at most 64 kinds of refusal,
// each frame's rejections the sum of its own; the totals are the sum's.
BOOST_AUTO_TEST_CASE(tally_frames_split_many_kinds_and_keep_the_totals) {
  Tally one{.messages = 2, .rejections = 1, .bytes = 700, .refused = {{{"RCPT", 550, "5.1.1"}, 1}}};
  std::vector<ipc::SessionTally> frames = TallyFrames("smtp", one);
  BOOST_TEST_REQUIRE(frames.size() == 1u);
  BOOST_TEST((frames[0] == ipc::SessionTally{.listener = "smtp",
                                             .messages = 2,
                                             .rejections = 1,
                                             .bytes = 700,
                                             .refused = {{"RCPT", 550, "5.1.1", 1}}}));

  Tally many{.messages = 5, .rejections = 0, .bytes = 9000, .refused = {}};
  for (int code = 400; code < 470; ++code) {
    many.refused[{"RCPT", code, "4.0.0"}] = 2;
    many.rejections += 2;
  }
  frames = TallyFrames("submission", many);
  BOOST_TEST_REQUIRE(frames.size() == 2u);
  BOOST_TEST(frames[0].refused.size() == 64u);
  BOOST_TEST(frames[1].refused.size() == 6u);
  uint64_t messages = 0, rejections = 0, bytes = 0;
  for (const ipc::SessionTally& frame : frames) {
    BOOST_TEST(frame.listener == "submission");
    BOOST_TEST(ipc::SessionTally::Decode(frame.Encode()).ok());
    messages += frame.messages;
    rejections += frame.rejections;
    bytes += frame.bytes;
  }
  BOOST_TEST(messages == 5u);
  BOOST_TEST(rejections == 140u);
  BOOST_TEST(bytes == 9000u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
