// tests/lib/smtp/server_session_pipelining_off_test.cc — a listener with
// advertise_pipelining = no refuses improper pipelining.
//
// RFC 2920 section 3: a client pipelines only when the server offered
// PIPELINING; issue 3: "a switched-off extension is also refused when used".
// Input the client sent behind a command before it had that command's reply
// is discarded, answered once with "554 5.5.0 Improper use of SMTP command
// pipelining" and the session ends. DATA content after the 354 and the
// octets of a BDAT chunk (RFC 3030 2) are not commands. Expected replies are
// typed from the RFCs and MS-OXSMTP, not taken from the reply catalogue.
#include "tests/lib/smtp/session_harness.h"

namespace postern {
namespace {

using namespace postern::testing;  // NOLINT: the harness is this file's vocabulary

const std::string kImproper = "554 5.5.0 Improper use of SMTP command pipelining\r\n";
const std::string kEhloWithoutPipelining =
    "250-mail.example.test Hello 192.0.2.10\r\n"
    "250-SIZE 10485760\r\n"
    "250-DSN\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-8BITMIME\r\n"
    "250-BINARYMIME\r\n"
    "250 CHUNKING\r\n";

void NoPipelining(ListenerConfig& l) { l.advertise_pipelining = false; }

// A session greeted with EHLO on a listener without PIPELINING.
std::unique_ptr<Harness> Greeted(Harness::Adjust more = {}) {
  auto h = std::make_unique<Harness>([more](ListenerConfig& l) {
    NoPipelining(l);
    if (more) more(l);
  });
  BOOST_TEST(h->Start() == kBanner);
  std::string ehlo = h->Say("EHLO client.example.net\r\n");
  BOOST_TEST(ehlo.rfind("250-mail.example.test Hello 192.0.2.10\r\n", 0) == 0u);
  BOOST_TEST(ehlo.find("PIPELINING") == std::string::npos);
  return h;
}

BOOST_AUTO_TEST_SUITE(session_pipelining_off)

BOOST_AUTO_TEST_CASE(the_ehlo_reply_does_not_offer_pipelining) {
  Harness h(NoPipelining);
  h.Start();
  BOOST_TEST(h.Say("EHLO client.example.net\r\n") == kEhloWithoutPipelining);
}

BOOST_AUTO_TEST_CASE(a_client_that_waits_for_each_reply_is_served) {
  auto h = Greeted();
  BOOST_TEST(h->Say("MAIL FROM:<a@example.org>\r\n") == kSenderOk);
  BOOST_TEST(h->Say("RCPT TO:<b@example.test>\r\n") == kRecipientOk);
  BOOST_TEST(h->Say("DATA\r\n") == kGoAhead);
  // The whole message in one write after the 354 is content, not commands.
  BOOST_TEST(h->Say("Subject: x\r\n\r\nline 1\r\nline 2\r\n.\r\n").empty());
  BOOST_TEST(h->Queue() == h->Queued());
  BOOST_TEST(h->Say("QUIT\r\n") == kBye);
  BOOST_TEST(h->closed_seen);
}

BOOST_AUTO_TEST_CASE(commands_pipelined_behind_a_command_are_refused_once_and_the_session_ends) {
  auto h = Greeted();
  // The first command is answered; what came behind it is dropped unread
  // (neither RCPT is answered or recorded) and answered once.
  BOOST_TEST(h->Say("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\n"
                    "RCPT TO:<c@example.test>\r\n") == kSenderOk + kImproper);
  BOOST_TEST(h->closed_seen);
  BOOST_TEST(h->events.substr(h->events.size() - 2) == "SC");
  BOOST_TEST(h->Say("RSET\r\n").empty());
}

BOOST_AUTO_TEST_CASE(a_partial_line_behind_a_command_is_early_input_too) {
  auto h = Greeted();
  BOOST_TEST(h->Say("NOOP\r\nNO") == kOk + kImproper);
  BOOST_TEST(h->closed_seen);
}

BOOST_AUTO_TEST_CASE(input_sent_during_the_tarpit_is_early_and_the_refusal_is_not_held) {
  auto h = Greeted([](ListenerConfig& l) { l.tarpit_interval = seconds(5); });
  // An error reply is held 5 s; the client's next command, sent before it,
  // is early.
  BOOST_TEST(h->Say("FROB\r\n").empty());
  BOOST_TEST(h->Say("NOOP\r\n").empty());
  BOOST_TEST(h->Advance(seconds(5)) == kUnrecognized + kImproper);
  BOOST_TEST(h->closed_seen);
}

BOOST_AUTO_TEST_CASE(input_sent_while_master_decides_about_a_mail_is_early) {
  auto h = Greeted();
  h->auto_allow_mail = false;
  BOOST_TEST(h->Say("MAIL FROM:<a@example.org>\r\n").empty());
  BOOST_TEST(h->Say("RCPT TO:<b@example.test>\r\n").empty());
  BOOST_TEST(h->MailCheck(ipc::MailVerdict::kAllowed) == kSenderOk + kImproper);
  BOOST_TEST(h->closed_seen);
}

BOOST_AUTO_TEST_CASE(content_sent_with_the_data_command_is_early) {
  auto h = Greeted();
  h->Say("MAIL FROM:<a@example.org>\r\n");
  h->Say("RCPT TO:<b@example.test>\r\n");
  // RFC 2920 3.1: DATA ends a group even with PIPELINING; the client must
  // wait for the 354. The message begun for the DATA is given up.
  BOOST_TEST(h->Say("DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n") == kGoAhead + kImproper);
  BOOST_TEST(h->closed_seen);
  BOOST_TEST(h->aborts == 1);
  BOOST_TEST(h->ends == 0);
}

BOOST_AUTO_TEST_CASE(quit_pipelined_behind_the_end_of_data_is_improper) {
  auto h = Greeted();
  h->Say("MAIL FROM:<a@example.org>\r\n");
  h->Say("RCPT TO:<b@example.test>\r\n");
  BOOST_TEST(h->Say("DATA\r\n") == kGoAhead);
  BOOST_TEST(h->Say("body\r\n.\r\nQUIT\r\n").empty());
  // The message was committed: its answer goes out, then the refusal; the
  // QUIT is not answered 221.
  BOOST_TEST(h->ends == 1);
  BOOST_TEST(h->Queue() == h->Queued() + kImproper);
  BOOST_TEST(h->closed_seen);
}

BOOST_AUTO_TEST_CASE(quit_sent_while_the_queue_decides_is_improper) {
  auto h = Greeted();
  h->Say("MAIL FROM:<a@example.org>\r\n");
  h->Say("RCPT TO:<b@example.test>\r\n");
  h->Say("DATA\r\n");
  BOOST_TEST(h->Say("body\r\n.\r\n").empty());
  BOOST_TEST(h->Say("QUIT\r\n").empty());
  BOOST_TEST(h->Queue(ipc::QueueOutcome::kInsufficientResources) ==
             "452 4.3.1 Insufficient system resources\r\n" + kImproper);
  BOOST_TEST(h->closed_seen);
}

BOOST_AUTO_TEST_CASE(a_bdat_chunk_in_the_same_write_as_its_command_is_not_early) {
  auto h = Greeted();
  h->Say("MAIL FROM:<a@example.org>\r\n");
  h->Say("RCPT TO:<b@example.test>\r\n");
  BOOST_TEST(h->Say("BDAT 6\r\nab\r\ncd") == "250 2.0.0 6 octets received\r\n");
  BOOST_TEST(h->Say("BDAT 4 LAST\r\nef\r\n").empty());
  BOOST_TEST(h->Queue() == h->Queued());
  BOOST_TEST(h->Body() == "ab\r\ncdef\r\n");
  BOOST_TEST(!h->closed_seen);
}

BOOST_AUTO_TEST_CASE(a_command_behind_a_bdat_chunk_is_early) {
  auto h = Greeted();
  h->Say("MAIL FROM:<a@example.org>\r\n");
  h->Say("RCPT TO:<b@example.test>\r\n");
  BOOST_TEST(h->Say("BDAT 2\r\nabBDAT 2 LAST\r\ncd") ==
             "250 2.0.0 2 octets received\r\n" + kImproper);
  BOOST_TEST(h->closed_seen);
  BOOST_TEST(h->ends == 0);
  BOOST_TEST(h->aborts == 1);
}

BOOST_AUTO_TEST_CASE(quit_behind_bdat_last_is_improper) {
  auto h = Greeted();
  h->Say("MAIL FROM:<a@example.org>\r\n");
  h->Say("RCPT TO:<b@example.test>\r\n");
  BOOST_TEST(h->Say("BDAT 2 LAST\r\nabQUIT\r\n").empty());
  BOOST_TEST(h->Queue() == h->Queued() + kImproper);
  BOOST_TEST(h->closed_seen);
}

BOOST_AUTO_TEST_CASE(ehlo_and_helo_replies_are_checked_too) {
  Harness h(NoPipelining);
  h.Start();
  BOOST_TEST(h.Say("EHLO client.example.net\r\nMAIL FROM:<a@example.org>\r\n") ==
             kEhloWithoutPipelining + kImproper);
  BOOST_TEST(h.closed_seen);

  Harness helo(NoPipelining);
  helo.Start();
  BOOST_TEST(helo.Say("HELO client.example.net\r\nNOOP\r\n") ==
             "250 mail.example.test Hello 192.0.2.10\r\n" + kImproper);
  BOOST_TEST(helo.closed_seen);
}

BOOST_AUTO_TEST_CASE(the_rest_of_an_over_long_line_is_not_early_input) {
  auto h = Greeted();
  // RFC 5321 4.5.3.1.4: 512 octets with CRLF; the rest of the line is
  // dropped as it arrives, in the same write as its start.
  BOOST_TEST(h->Say("NOOP " + std::string(600, 'x') + "\r\n") == "500 5.5.2 Line too long\r\n");
  BOOST_TEST(!h->closed_seen);
  BOOST_TEST(h->Say("NOOP\r\n") == kOk);
}

BOOST_AUTO_TEST_CASE(the_refusal_is_not_counted_as_a_protocol_error) {
  auto h = Greeted([](ListenerConfig& l) { l.max_protocol_errors = 1; });
  BOOST_TEST(h->Say("FROB\r\n") == kUnrecognized);
  // Counted, the 554 would be the second protocol error and become 421 4.7.0.
  BOOST_TEST(h->Say("NOOP\r\nNOOP\r\n") == kOk + kImproper);
  BOOST_TEST(h->closed_seen);
}

BOOST_AUTO_TEST_CASE(an_auth_answer_sent_before_the_challenge_is_early) {
  auto h = Greeted([](ListenerConfig& l) { l.auth_mechanisms = {"NTLM"}; });
  // [MS-SMTP] 3.1.5.2: the NEGOTIATE message follows "334 NTLM supported".
  BOOST_TEST(h->Say("AUTH NTLM\r\nTlRMTVNTUAABAAAA\r\n") == "334 NTLM supported\r\n" + kImproper);
  BOOST_TEST(h->closed_seen);
  BOOST_TEST(h->auth_starts.empty());
}

BOOST_AUTO_TEST_CASE(cleartext_behind_starttls_is_dropped_and_the_handshake_goes_on) {
  auto h = Greeted([](ListenerConfig& l) { l.tls_cert_file = "cert.pem"; });
  // RFC 3207 4.2 decides here: the cleartext is discarded unread.
  BOOST_TEST(h->Say("STARTTLS\r\nMAIL FROM:<a@example.org>\r\n") ==
             "220 2.0.0 SMTP server ready\r\n");
  BOOST_TEST(h->tls_starts == 1);
  BOOST_TEST(!h->closed_seen);
  h->Tls();
  BOOST_TEST(h->Say("MAIL FROM:<a@example.org>\r\n") == kSendHelloFirst);
}

BOOST_AUTO_TEST_CASE(with_pipelining_offered_the_same_input_is_served) {
  Harness h;
  h.Open();
  BOOST_TEST(h.Say("DATA\r\n") == kGoAhead);
  BOOST_TEST(h.Say("body\r\n.\r\nQUIT\r\n").empty());
  BOOST_TEST(h.Queue() == h.Queued() + kBye);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
