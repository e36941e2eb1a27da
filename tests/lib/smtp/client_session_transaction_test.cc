// tests/lib/smtp/client_session_transaction_test.cc — the SMTP client
// session's mail transactions: PIPELINING, CHUNKING, BODY, SIZE, DSN and
// AUTH= parameters, per-recipient outcomes, too many recipients, RSET and
// connection reuse, driven with byte strings.
//
// Commands are typed from RFC 5321, 1652, 1870, 2920, 3030, 3461 and 4954.
#include "tests/lib/smtp/client_harness.h"

namespace postern {
namespace {

using namespace postern::testing;  // NOLINT: the harness is this file's vocabulary

const std::string kContent = "Subject: hi\r\n\r\nhello\r\n";  // the harness's default
const std::string kDsnEhloReply =
    "250-mx.example.org Hello relay.example.test\r\n"
    "250-PIPELINING\r\n"
    "250-DSN\r\n"
    "250 ENHANCEDSTATUSCODES\r\n";

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(client_pipelining)

BOOST_AUTO_TEST_CASE(mail_every_rcpt_and_data_in_one_write) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  int writes = h.writes;
  BOOST_TEST(h.Deliver(Message("Q1", {"bob@example.net", "carol@example.net"})) ==
             "MAIL FROM:<alice@example.org> SIZE=20\r\n"
             "RCPT TO:<bob@example.net>\r\n"
             "RCPT TO:<carol@example.net>\r\n"
             "DATA\r\n");
  BOOST_TEST(h.writes == writes + 1);
  BOOST_TEST(h.Say("250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n"
                   "250 2.1.5 Recipient OK\r\n354 Start mail input\r\n") ==
             "Subject: hi\r\n\r\nhello\r\n.\r\n");
  BOOST_TEST(h.Say("250 2.6.0 <x@mx> Queued mail for delivery\r\n") == "");
  std::vector<std::string> results = {"0:D:250 2.6.0 <x@mx> Queued mail for delivery",
                                      "1:D:250 2.6.0 <x@mx> Queued mail for delivery"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
  BOOST_TEST(h.Outcome().queue_id == "Q1");
}

BOOST_AUTO_TEST_CASE(without_pipelining_one_command_at_a_time) {
  ClientHarness h;
  h.Connect(kPlainEhloReply);
  BOOST_TEST(h.Deliver(Message("Q1", {"bob@example.net", "carol@example.net"})) ==
             "MAIL FROM:<alice@example.org> SIZE=20\r\n");
  BOOST_TEST(h.Say("250 2.1.0 OK\r\n") == "RCPT TO:<bob@example.net>\r\n");
  BOOST_TEST(h.Say("250 2.1.5 OK\r\n") == "RCPT TO:<carol@example.net>\r\n");
  BOOST_TEST(h.Say("550 5.1.1 no such user\r\n") == "DATA\r\n");
  BOOST_TEST(h.Say("354 go ahead\r\n") == kContent + ".\r\n");
  h.Say("250 2.0.0 OK\r\n");
  std::vector<std::string> results = {"0:D:250 2.0.0 OK", "1:F:550 5.1.1 no such user"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(each_recipient_by_its_reply_4xx_deferred_5xx_failed) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  h.Deliver(Message("Q1", {"a@example.net", "b@example.net", "c@example.net"}));
  h.Say(
      "250 2.1.0 OK\r\n450 4.2.1 mailbox busy\r\n550 5.1.1 unknown\r\n250 2.1.5 OK\r\n"
      "354 go\r\n");
  h.Say("250 2.0.0 done\r\n");
  std::vector<std::string> results = {"0:Q:450 4.2.1 mailbox busy", "1:F:550 5.1.1 unknown",
                                      "2:D:250 2.0.0 done"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
  BOOST_TEST((h.Outcome().recipients[1].diagnostic == Diagnostic{550, "5.1.1", "unknown"}));
}

BOOST_AUTO_TEST_CASE(the_final_reply_decides_the_accepted_recipients) {
  for (auto [reply, expected] :
       {std::pair{"451 4.3.0 try later\r\n", "0:Q:451 4.3.0 try later"},
        std::pair{"554 5.6.0 content refused\r\n", "0:F:554 5.6.0 content refused"}}) {
    ClientHarness h;
    h.Connect(kPipeliningEhloReply);
    h.Deliver(Message("Q1", {"bob@example.net"}));
    h.Say("250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 go\r\n");
    h.Say(reply);
    std::vector<std::string> results = {expected};
    BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(mail_refused_decides_every_recipient_and_the_next_message_goes_on) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net", "carol@example.net"}));
  h.Deliver(Message("Q2", {"dave@example.net"}));
  // MS-OXSMTP 3.2.5: 452 4.3.1 to MAIL; the pipelined RCPTs and DATA fail.
  BOOST_TEST(h.Say("452 4.3.1 Insufficient system resources\r\n"
                   "503 5.5.1 Bad sequence of commands\r\n503 5.5.1 Bad sequence of commands\r\n"
                   "503 5.5.1 Bad sequence of commands\r\n") ==
             "MAIL FROM:<alice@example.org> SIZE=20\r\nRCPT TO:<dave@example.net>\r\nDATA\r\n");
  BOOST_REQUIRE(h.outcomes.size() == 1u);
  std::vector<std::string> results = {"0:Q:452 4.3.1 Insufficient system resources",
                                      "1:Q:452 4.3.1 Insufficient system resources"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(all_refused_with_pipelining_is_reset_before_the_next_mail) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  h.Deliver(Message("Q2", {"dave@example.net"}));
  BOOST_TEST(h.Say("250 2.1.0 OK\r\n550 5.1.1 unknown\r\n554 5.5.1 No valid recipients\r\n") ==
             "RSET\r\nMAIL FROM:<alice@example.org> SIZE=20\r\nRCPT TO:<dave@example.net>\r\n"
             "DATA\r\n");
  std::vector<std::string> results = {"0:F:550 5.1.1 unknown"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
  BOOST_TEST(h.Say("250 2.0.0 OK\r\n250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 go\r\n") ==
             kContent + ".\r\n");
}

BOOST_AUTO_TEST_CASE(a_354_with_no_recipient_accepted_gets_a_lone_dot) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  BOOST_TEST(h.Say("250 2.1.0 OK\r\n550 5.1.1 unknown\r\n354 go ahead\r\n") == ".\r\n");
  BOOST_TEST(h.outcomes.empty());
  h.Say("554 5.5.1 no valid recipients\r\n");
  std::vector<std::string> results = {"0:F:550 5.1.1 unknown"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
  // The "." closed the transaction: no RSET before QUIT or the next MAIL.
  BOOST_TEST(h.Deliver(Message("Q2", {"dave@example.net"})).rfind("MAIL FROM:", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(a_refused_data_is_each_accepted_recipients_outcome) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  h.Say("250 2.1.0 OK\r\n250 2.1.5 OK\r\n451 4.3.2 not now\r\n");
  std::vector<std::string> results = {"0:Q:451 4.3.2 not now"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(client_reuse)

BOOST_AUTO_TEST_CASE(messages_follow_without_rset_and_quit_ends) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  h.Deliver(Message("Q2", {"carol@example.net"}));
  h.Quit();
  h.Say("250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 go\r\n");
  BOOST_TEST(h.Say("250 2.0.0 OK\r\n") ==
             "MAIL FROM:<alice@example.org> SIZE=20\r\nRCPT TO:<carol@example.net>\r\nDATA\r\n");
  h.Say("250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 go\r\n");
  BOOST_TEST(h.Say("250 2.0.0 OK\r\n") == "QUIT\r\n");
  BOOST_TEST(h.outcomes.size() == 2u);
  BOOST_TEST(h.readies == 1);  // after EHLO only: the messages were waiting
  h.Say("221 2.0.0 Bye\r\n");
  BOOST_TEST(h.end->completed);
}

BOOST_AUTO_TEST_CASE(unpipelined_all_refused_resets_without_data) {
  ClientHarness h;
  h.Connect(kPlainEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  h.Say("250 2.1.0 OK\r\n");
  BOOST_TEST(h.Say("550 5.1.1 unknown\r\n") == "");
  BOOST_TEST(h.readies == 2);
  BOOST_TEST(h.Deliver(Message("Q2", {"carol@example.net"})) == "RSET\r\n");
  BOOST_TEST(h.Say("250 2.0.0 OK\r\n") == "MAIL FROM:<alice@example.org> SIZE=20\r\n");
}

BOOST_AUTO_TEST_CASE(an_open_transaction_needs_no_rset_before_quit) {
  ClientHarness h;
  h.Connect(kPlainEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  h.Say("250 2.1.0 OK\r\n");
  h.Say("550 5.1.1 unknown\r\n");
  BOOST_TEST(h.Quit() == "QUIT\r\n");
}

BOOST_AUTO_TEST_CASE(only_pending_recipients_are_attempted) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  Envelope e = Message("Q1", {"done@example.net", "bob@example.net"});
  e.recipients[0].state = RecipientState::kDelivered;
  BOOST_TEST(h.Deliver(e) ==
             "MAIL FROM:<alice@example.org> SIZE=20\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n");
  h.Say("250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 go\r\n");
  h.Say("250 2.0.0 OK\r\n");
  std::vector<std::string> results = {"1:D:250 2.0.0 OK"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_null_sender_is_sent_as_empty_path) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  Envelope e = Message("Q1", {"bob@example.net"});
  e.sender = "";
  BOOST_TEST(h.Deliver(e).rfind("MAIL FROM:<> SIZE=20\r\n", 0) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// RFC 5321 4.5.3.1.10 and MS-OXSMTP 3.2.5 "452 4.5.3 Too many recipients".
BOOST_AUTO_TEST_SUITE(client_too_many_recipients)

BOOST_AUTO_TEST_CASE(the_rest_go_in_a_further_transaction) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  h.Deliver(Message("Q1", {"a@example.net", "b@example.net", "c@example.net"}));
  h.Say(
      "250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n452 4.5.3 Too many recipients\r\n"
      "354 go\r\n");
  BOOST_TEST(h.Say("250 2.0.0 first\r\n") ==
             "MAIL FROM:<alice@example.org> SIZE=20\r\nRCPT TO:<c@example.net>\r\nDATA\r\n");
  BOOST_TEST(h.outcomes.empty());
  BOOST_TEST(h.Say("250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 go\r\n") == kContent + ".\r\n");
  h.Say("250 2.0.0 second\r\n");
  std::vector<std::string> results = {"0:D:250 2.0.0 first", "1:D:250 2.0.0 first",
                                      "2:D:250 2.0.0 second"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
  // The content was asked for from its start in each transaction.
  BOOST_TEST(h.content_requests.size() == 2u);
  BOOST_TEST(h.content_requests[1].offset == 0u);
}

BOOST_AUTO_TEST_CASE(a_552_5_5_3_counts_as_452) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  h.Deliver(Message("Q1", {"a@example.net", "b@example.net"}));
  h.Say("250 2.1.0 OK\r\n250 2.1.5 OK\r\n552 5.5.3 Too many recipients\r\n354 go\r\n");
  BOOST_TEST(h.Say("250 2.0.0 OK\r\n") ==
             "MAIL FROM:<alice@example.org> SIZE=20\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
}

BOOST_AUTO_TEST_CASE(without_progress_they_are_deferred) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  h.Deliver(Message("Q1", {"a@example.net"}));
  h.Say("250 2.1.0 OK\r\n452 4.5.3 Too many recipients\r\n554 5.5.1 No valid recipients\r\n");
  std::vector<std::string> results = {"0:Q:452 4.5.3 Too many recipients"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(client_content)

BOOST_AUTO_TEST_CASE(dot_stuffing_across_pieces_and_a_final_crlf) {
  ClientHarness h;
  h.piece = 3;
  h.Connect(kPipeliningEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}), ".a\r\n..b\r\nc.\r\n.");
  BOOST_TEST(h.Say("250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 go\r\n") ==
             "..a\r\n...b\r\nc.\r\n..\r\n.\r\n");
  // Pieces of 3 bytes from offsets 0, 3, 6, ...
  BOOST_TEST(h.content_requests.size() == 5u);
  BOOST_TEST(h.content_requests[4].offset == 12u);
}

BOOST_AUTO_TEST_CASE(an_empty_message_is_the_terminating_dot) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}), "");
  BOOST_TEST(h.Say("250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 go\r\n") == ".\r\n");
}

BOOST_AUTO_TEST_CASE(content_is_asked_for_only_once_the_server_wants_it) {
  ClientHarness h;
  h.auto_content = false;
  h.Connect(kPipeliningEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  BOOST_TEST(h.content_requests.empty());
  h.Say("250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 go\r\n");
  BOOST_REQUIRE(h.content_requests.size() == 1u);
  BOOST_TEST(h.content_requests[0].queue_id == "Q1");
  BOOST_TEST(h.content_requests[0].offset == 0u);
  BOOST_TEST(h.Content("line\r\n", false) == "line\r\n");
  BOOST_TEST(h.content_requests.back().offset == 6u);
  BOOST_TEST(h.Content("", true) == ".\r\n");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(client_chunking)

BOOST_AUTO_TEST_CASE(pipelined_bdat_goes_with_mail_and_rcpt_in_one_write) {
  ClientHarness h;
  h.Connect(kChunkingEhloReply);
  int writes = h.writes;
  BOOST_TEST(h.Deliver(Message("Q1", {"bob@example.net"})) ==
             "MAIL FROM:<alice@example.org>\r\n"
             "RCPT TO:<bob@example.net>\r\n"
             "BDAT 22 LAST\r\n" +
                 kContent);
  BOOST_TEST(h.writes == writes + 1);
  h.Say("250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.0.0 Message accepted\r\n");
  std::vector<std::string> results = {"0:D:250 2.0.0 Message accepted"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(chunks_follow_each_other_under_pipelining_without_stuffing) {
  ClientHarness h;
  h.piece = 10;
  h.Connect(kChunkingEhloReply);
  BOOST_TEST(h.Deliver(Message("Q1", {"bob@example.net"}), "0123456789.\r\n.abc") ==
             "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\n"
             "BDAT 10\r\n0123456789BDAT 7 LAST\r\n.\r\n.abc");
  h.Say("250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.0.0 10 octets\r\n250 2.0.0 OK\r\n");
  std::vector<std::string> results = {"0:D:250 2.0.0 OK"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(without_pipelining_each_chunk_waits_for_its_250) {
  ClientHarness h;
  h.piece = 10;
  h.Connect("250-mx.example.org\r\n250-CHUNKING\r\n250 ENHANCEDSTATUSCODES\r\n");
  BOOST_TEST(h.Deliver(Message("Q1", {"bob@example.net"}), "0123456789abc") ==
             "MAIL FROM:<alice@example.org>\r\n");
  BOOST_TEST(h.Say("250 2.1.0 OK\r\n") == "RCPT TO:<bob@example.net>\r\n");
  BOOST_TEST(h.Say("250 2.1.5 OK\r\n") == "BDAT 10\r\n0123456789");
  BOOST_TEST(h.Say("250 2.0.0 10 octets\r\n") == "BDAT 3 LAST\r\nabc");
  h.Say("250 2.0.0 OK\r\n");
  std::vector<std::string> results = {"0:D:250 2.0.0 OK"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_refused_chunk_stops_the_content_and_resets) {
  ClientHarness h;
  h.auto_content = false;
  h.Connect(kChunkingEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  h.Content("0123456789", false);
  BOOST_TEST(h.content_requests.size() == 2u);
  h.Say("250 2.1.0 OK\r\n250 2.1.5 OK\r\n452 4.3.1 Insufficient system resources\r\n");
  // The piece asked for before the refusal is no longer wanted.
  BOOST_TEST(h.Content("abc", true) == "");
  std::vector<std::string> results = {"0:Q:452 4.3.1 Insufficient system resources"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
  BOOST_TEST(h.Deliver(Message("Q2", {"bob@example.net"})) == "");
  BOOST_TEST(h.Content("x", true) ==
             "RSET\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\n"
             "BDAT 1 LAST\r\nx");
}

BOOST_AUTO_TEST_CASE(binarymime_goes_by_bdat_with_its_body_type) {
  ClientHarness h;
  h.Connect(kChunkingEhloReply);
  Envelope e = Message("Q1", {"bob@example.net"});
  e.body = BodyType::kBinaryMime;
  BOOST_TEST(h.Deliver(e, std::string("\0\xff\n", 3)) ==
             "MAIL FROM:<alice@example.org> BODY=BINARYMIME\r\nRCPT TO:<bob@example.net>\r\n"
             "BDAT 3 LAST\r\n" +
                 std::string("\0\xff\n", 3));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Bodies and sizes a peer cannot take fail without being sent.
BOOST_AUTO_TEST_SUITE(client_body_and_size)

BOOST_AUTO_TEST_CASE(binarymime_without_chunking_and_binarymime_fails_5_6_3) {
  for (std::string ehlo :
       {kPipeliningEhloReply, std::string("250-mx\r\n250-CHUNKING\r\n250 8BITMIME\r\n")}) {
    ClientHarness h;
    h.Connect(ehlo);
    Envelope e = Message("Q1", {"bob@example.net"});
    e.body = BodyType::kBinaryMime;
    BOOST_TEST(h.Deliver(e) == "");
    std::vector<std::string> results = {
        "0:F:5.6.3 the message has a binary body and the server does not offer BINARYMIME "
        "with CHUNKING"};
    BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
    BOOST_TEST(h.content_requests.empty());
  }
}

BOOST_AUTO_TEST_CASE(eight_bit_without_8bitmime_fails_5_6_3) {
  ClientHarness h;
  h.Connect("250-mx\r\n250 PIPELINING\r\n");
  Envelope e = Message("Q1", {"bob@example.net"});
  e.body = BodyType::k8BitMime;
  BOOST_TEST(h.Deliver(e) == "");
  std::vector<std::string> results = {
      "0:F:5.6.3 the message has an 8-bit body and the server does not offer 8BITMIME"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
  BOOST_TEST(h.readies == 2);  // the session goes on
}

BOOST_AUTO_TEST_CASE(eight_bit_is_declared_to_a_peer_with_8bitmime) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  Envelope e = Message("Q1", {"bob@example.net"});
  e.body = BodyType::k8BitMime;
  BOOST_TEST(h.Deliver(e).rfind("MAIL FROM:<alice@example.org> SIZE=20 BODY=8BITMIME\r\n", 0) ==
             0u);
}

BOOST_AUTO_TEST_CASE(over_the_peers_size_fails_5_3_4_without_being_sent) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);  // SIZE 1000000
  BOOST_TEST(h.Deliver(Message("Q1", {"bob@example.net"}, 1000001)) == "");
  std::vector<std::string> results = {
      "0:F:5.3.4 message size 1000001 exceeds the server's limit of 1000000"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
  BOOST_TEST(h.Deliver(Message("Q2", {"bob@example.net"}, 1000000))
                 .rfind("MAIL FROM:<alice@example.org> SIZE=1000000\r\n", 0) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(client_parameters)

Envelope WithDsn() {
  Envelope e = Message("Q1", {"bob@example.net", "carol@example.net"});
  e.ret = DsnRet::kHeaders;
  e.envid = "QQ+2B1";
  e.recipients[0].notify = kNotifySuccess | kNotifyFailure;
  e.recipients[0].orcpt = "rfc822;bob@example.net";
  e.recipients[1].notify = kNotifyNever;
  return e;
}

BOOST_AUTO_TEST_CASE(dsn_parameters_pass_on_when_offered) {
  ClientHarness h;
  h.Connect(kDsnEhloReply);
  BOOST_TEST(h.Deliver(WithDsn()) ==
             "MAIL FROM:<alice@example.org> RET=HDRS ENVID=QQ+2B1\r\n"
             "RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.net\r\n"
             "RCPT TO:<carol@example.net> NOTIFY=NEVER\r\n"
             "DATA\r\n");
  h.Say("250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n354 go\r\n");
  h.Say("250 2.0.0 OK\r\n");
  BOOST_TEST(h.Outcome().dsn_passed_on);
}

BOOST_AUTO_TEST_CASE(without_dsn_they_stay_home_and_the_outcome_says_so) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  BOOST_TEST(h.Deliver(WithDsn()) ==
             "MAIL FROM:<alice@example.org> SIZE=20\r\n"
             "RCPT TO:<bob@example.net>\r\nRCPT TO:<carol@example.net>\r\nDATA\r\n");
  h.Say("250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n354 go\r\n");
  h.Say("250 2.0.0 OK\r\n");
  BOOST_TEST(!h.Outcome().dsn_passed_on);
}

// Authenticates with PLAIN over TLS, then delivers e; returns its MAIL line.
std::string MailLineAfterAuth(const Envelope& e) {
  ClientHarness h([](ClientSettings& s) {
    s.credentials = true;
    s.auth_mechanisms = {"PLAIN"};
  });
  h.Connect("250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
  h.Say("220 Ready\r\n");
  h.Tls();
  h.Say("250-mx\r\n250-PIPELINING\r\n250 AUTH PLAIN\r\n");
  h.Auth(std::string("\0u\0p", 4));
  h.Say("235 2.7.0 OK\r\n");
  std::string sent = h.Deliver(e);
  return sent.substr(0, sent.find("\r\n"));
}

BOOST_AUTO_TEST_CASE(auth_on_mail_once_authenticated) {
  Envelope e = Message("Q1", {"bob@example.net"});
  e.auth_mailbox = "alice+x=y@example.org";
  BOOST_TEST(MailLineAfterAuth(e) ==
             "MAIL FROM:<alice@example.org> AUTH=alice+2Bx+3Dy@example.org");
  e.auth_mailbox = "<>";
  BOOST_TEST(MailLineAfterAuth(e) == "MAIL FROM:<alice@example.org> AUTH=<>");
  e.auth_mailbox = "";
  e.auth_user = "alice";
  BOOST_TEST(MailLineAfterAuth(e) == "MAIL FROM:<alice@example.org> AUTH=<>");
}

BOOST_AUTO_TEST_CASE(no_auth_on_mail_without_authentication) {
  ClientHarness h;
  h.Connect("250-mx\r\n250-PIPELINING\r\n250 AUTH PLAIN\r\n");
  Envelope e = Message("Q1", {"bob@example.net"});
  e.auth_mailbox = "alice@example.org";
  BOOST_TEST(h.Deliver(e).rfind("MAIL FROM:<alice@example.org>\r\n", 0) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
