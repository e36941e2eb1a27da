// tests/lib/smtp/server_session_log_test.cc — the log lines of the pure
// session (action::Log) and its command counts, in Postfix's shape.
//
// Expected lines are typed from Postfix 3.7's smtpd output (RFC 5321 and
// MS-OXSMTP for the replies in them), never taken from the formatter.
#include "lib/smtp/base64.h"
#include "tests/lib/smtp/session_harness.h"

namespace postern {
namespace {

using namespace postern::testing;  // NOLINT: the harness is this file's vocabulary
using ipc::AuthOutcome;

const std::string kClient = "client.example.net[192.0.2.10]";

void WithTls(ListenerConfig& l) {
  l.tls_cert_file = "/etc/postern/tls/cert.pem";
  l.tls_key_file = "/etc/postern/tls/key.pem";
  l.auth_mechanisms = {"LOGIN"};
}

BOOST_AUTO_TEST_SUITE(session_log)

BOOST_AUTO_TEST_CASE(a_refused_relay_is_a_reject_line_and_a_failed_rcpt) {
  Harness h;
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<alice@example.org>\r\n") == kSenderOk);
  BOOST_TEST(h.Say("RCPT TO:<bob@elsewhere.example>\r\n") == "550 5.7.1 Unable to relay\r\n");
  BOOST_TEST(h.log_lines ==
             std::vector<std::string>{"NOQUEUE: reject: RCPT from client.example.net[192.0.2.10]: "
                                      "550 5.7.1 <bob@elsewhere.example>: Unable to relay; "
                                      "from=<alice@example.org> "
                                      "to=<bob@elsewhere.example> proto=ESMTP "
                                      "helo=<client.example.net>"});
  BOOST_TEST(h.Say("QUIT\r\n") == kBye);
  BOOST_TEST(h.session().command_counts().Text() == " ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4");
}

BOOST_AUTO_TEST_CASE(a_refused_mail_names_the_sender_and_helo_protocol) {
  Harness h([](ListenerConfig& l) { l.require_auth = true; });
  h.Start();
  h.Say("HELO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<>\r\n") == "530 5.7.1 Not authenticated\r\n");
  BOOST_TEST(h.log_lines ==
             std::vector<std::string>{"NOQUEUE: reject: MAIL from client.example.net[192.0.2.10]: "
                                      "530 5.7.1 Not authenticated; from=<> proto=SMTP "
                                      "helo=<client.example.net>"});
}

BOOST_AUTO_TEST_CASE(protocol_errors_are_no_rejects_but_count_as_failed_commands) {
  Harness h([](ListenerConfig& l) { l.max_protocol_errors = 0; });
  h.Start();
  BOOST_TEST(h.Say("MAIL FROM:<alice@example.org>\r\n") == kSendHelloFirst);
  BOOST_TEST(h.Say("FOO\r\n") == kUnrecognized);
  BOOST_TEST(h.log_lines.empty());
  BOOST_TEST(h.session().command_counts().Text() == " mail=0/1 unknown=0/1 commands=0/2");
}

BOOST_AUTO_TEST_CASE(a_session_without_commands_counts_zero_of_zero) {
  Harness h;
  h.Start();
  h.Eof();
  BOOST_TEST(h.session().command_counts().Text() == " commands=0/0");
}

BOOST_AUTO_TEST_CASE(a_queued_message_logs_its_client_and_message_id) {
  Harness h;
  h.Open();
  BOOST_TEST(h.Say("DATA\r\n") == kGoAhead);
  h.Say("Subject: x\r\nMessage-ID:\r\n  <1234@client.example.net>\r\n\r\nbody\r\n.\r\n");
  BOOST_TEST(h.Queue() == h.Queued());
  const std::string id = h.LastId();
  BOOST_TEST(h.log_lines ==
             (std::vector<std::string>{id + ": client=client.example.net[192.0.2.10]",
                                       id + ": message-id=<1234@client.example.net>"}));
  h.Say("QUIT\r\n");
  BOOST_TEST(h.session().command_counts().Text() ==
             " ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5");
}

BOOST_AUTO_TEST_CASE(an_authenticated_client_is_named_with_method_and_user) {
  Harness h(WithTls);
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  h.Say("STARTTLS\r\n");
  h.Tls();
  h.Say("EHLO client.example.net\r\n");
  h.Say("AUTH LOGIN " + Base64Encode("alice") + "\r\n");
  BOOST_TEST(h.Auth(AuthOutcome::kContinue, "Password:") == "334 UGFzc3dvcmQ6\r\n");
  h.Say(Base64Encode("secret") + "\r\n");
  BOOST_TEST(h.Auth(AuthOutcome::kSuccess, "alice") == "235 2.7.0 Authentication successful\r\n");
  h.Say("MAIL FROM:<alice@example.test>\r\n");
  h.Say("RCPT TO:<zoe@elsewhere.example>\r\n");
  h.Say("DATA\r\n");
  h.Say("Subject: x\r\n\r\nbody\r\n.\r\n");
  h.Queue();
  BOOST_TEST(h.log_lines ==
             std::vector<std::string>{h.LastId() + ": client=client.example.net[192.0.2.10], "
                                                   "sasl_method=LOGIN, sasl_username=alice"});
  h.Say("QUIT\r\n");
  BOOST_TEST(h.session().command_counts().Text() ==
             " ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8");
}

BOOST_AUTO_TEST_CASE(a_failed_auth_is_a_warning_with_method_and_user) {
  Harness h(WithTls);
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  h.Say("STARTTLS\r\n");
  h.Tls();
  h.Say("EHLO client.example.net\r\n");
  h.Say("AUTH LOGIN " + Base64Encode("alice") + "\r\n");
  h.Auth(AuthOutcome::kContinue, "Password:");
  h.Say(Base64Encode("wrong") + "\r\n");
  // authd names the user in a failure's data.
  BOOST_TEST(h.Auth(AuthOutcome::kFailure, "alice") == "535 5.7.3 Authentication unsuccessful\r\n");
  BOOST_TEST(h.log_lines ==
             std::vector<std::string>{"warning: client.example.net[192.0.2.10]: SASL LOGIN "
                                      "authentication failed: authentication failure, "
                                      "sasl_username=alice"});
  h.Eof();
  BOOST_TEST(h.session().command_counts().Text() == " ehlo=2 starttls=1 auth=0/1 commands=3/4");
}

BOOST_AUTO_TEST_CASE(content_over_the_size_limit_is_an_end_of_message_reject) {
  Harness h([](ListenerConfig& l) { l.max_message_size = 10; });
  h.Open();
  h.Say("DATA\r\n");
  BOOST_TEST(h.Say("Subject: far more than ten octets\r\n\r\n.\r\n") == kMessageTooBig);
  const std::string id = h.envelopes.back().queue_id;
  BOOST_TEST(h.log_lines ==
             (std::vector<std::string>{
                 id + ": client=client.example.net[192.0.2.10]",
                 id + ": reject: END-OF-MESSAGE from client.example.net[192.0.2.10]: 552 5.3.4 "
                      "Message size exceeds fixed maximum message size; from=<alice@example.org> "
                      "to=<bob@example.test> proto=ESMTP helo=<client.example.net>"}));
}

BOOST_AUTO_TEST_CASE(data_cut_short_by_the_client_counts_as_failed) {
  Harness h;
  h.Open();
  h.Say("DATA\r\nSubject: x\r\n");
  h.Eof();
  BOOST_TEST(h.session().command_counts().Text() == " ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4");
}

BOOST_AUTO_TEST_CASE(a_client_without_a_name_is_unknown) {
  ClientInfo client = DefaultClient();
  client.hostname.clear();
  Harness h({}, client);
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  h.Say("MAIL FROM:<alice@example.org>\r\n");
  h.Say("RCPT TO:<bob@elsewhere.example>\r\n");
  BOOST_REQUIRE(h.log_lines.size() == 1u);
  BOOST_TEST(h.log_lines[0].find("RCPT from unknown[192.0.2.10]: 550") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
