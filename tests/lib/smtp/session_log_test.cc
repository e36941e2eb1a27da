// tests/lib/smtp/session_log_test.cc — lib/smtp/session_log.h: smtpd's lines
// in Postfix's shape, typed from Postfix 3.7's smtpd output.
#include "lib/smtp/session_log.h"

#include <boost/test/unit_test.hpp>

namespace postern {
namespace {

BOOST_AUTO_TEST_SUITE(session_log_lines)

BOOST_AUTO_TEST_CASE(a_client_is_its_name_or_unknown_and_its_address) {
  BOOST_TEST(ClientLogName("mx.example.net", "192.0.2.1") == "mx.example.net[192.0.2.1]");
  BOOST_TEST(ClientLogName("", "2001:db8::1") == "unknown[2001:db8::1]");
  BOOST_TEST(ClientLogName("a\nb", "192.0.2.1") == "a\\x0ab[192.0.2.1]");
}

BOOST_AUTO_TEST_CASE(connect_and_disconnect) {
  BOOST_TEST(ConnectLogLine("unknown[127.0.0.1]", 54321, "submission") ==
             "connect from unknown[127.0.0.1]:54321 to listener submission");
  CommandCounts counts;
  counts.Count(Verb::kQuit, true);
  counts.Count(Verb::kRcpt, false);
  counts.Count(Verb::kEhlo, true);
  counts.Count(Verb::kData, true);
  counts.Count(Verb::kRcpt, true);
  counts.Count(Verb::kMail, true);
  counts.Count(Verb::kAuth, true);
  counts.Count(Verb::kStarttls, true);
  counts.Count(Verb::kEhlo, true);
  counts.Count(Verb::kInvalidCharacters, false);
  BOOST_TEST(DisconnectLogLine("unknown[127.0.0.1]", counts) ==
             "disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1/2 data=1 "
             "quit=1 unknown=0/1 commands=8/10");
  BOOST_TEST(DisconnectLogLine("unknown[127.0.0.1]", CommandCounts()) ==
             "disconnect from unknown[127.0.0.1] commands=0/0");
}

BOOST_AUTO_TEST_CASE(client_and_message_id) {
  BOOST_TEST(ClientLogLine("6A1F.2B.3", "unknown[127.0.0.1]", "", "") ==
             "6A1F.2B.3: client=unknown[127.0.0.1]");
  BOOST_TEST(ClientLogLine("6A1F.2B.3", "unknown[127.0.0.1]", "LOGIN", "alice") ==
             "6A1F.2B.3: client=unknown[127.0.0.1], sasl_method=LOGIN, sasl_username=alice");
  BOOST_TEST(MessageIdLogLine("6A1F.2B.3", "<x@y>") == "6A1F.2B.3: message-id=<x@y>");
}

BOOST_AUTO_TEST_CASE(rejects_have_postfix_shape_for_each_stage) {
  RejectLogFields rcpt{.stage = "RCPT",
                       .client = "unknown[192.0.2.1]",
                       .reply = "550 5.7.1 Unable to relay",
                       .from = "a@b.example",
                       .to = "c@d.example",
                       .extended = true,
                       .helo = "client.example"};
  BOOST_TEST(RejectLogLine(rcpt) ==
             "NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 550 5.7.1 <c@d.example>: Unable to "
             "relay; from=<a@b.example> to=<c@d.example> proto=ESMTP helo=<client.example>");
  rcpt.reply = "452 Too many recipients";  // without enhanced status codes
  BOOST_TEST(RejectLogLine(rcpt) ==
             "NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 452 <c@d.example>: Too many "
             "recipients; from=<a@b.example> to=<c@d.example> proto=ESMTP helo=<client.example>");
  RejectLogFields connect{.stage = "CONNECT",
                          .client = "unknown[192.0.2.1]:4711",
                          .reply = "550 5.7.1 Client host rejected"};
  BOOST_TEST(RejectLogLine(connect) ==
             "NOQUEUE: reject: CONNECT from unknown[192.0.2.1]:4711: 550 5.7.1 Client host "
             "rejected; proto=SMTP");
  RejectLogFields end{.queue_id = "6A1F.2B.3",
                      .stage = "END-OF-MESSAGE",
                      .client = "unknown[192.0.2.1]",
                      .reply = "452 4.3.1 Insufficient system resources",
                      .from = "",
                      .to = "c@d.example",
                      .extended = false,
                      .helo = "h"};
  BOOST_TEST(RejectLogLine(end) ==
             "6A1F.2B.3: reject: END-OF-MESSAGE from unknown[192.0.2.1]: 452 4.3.1 Insufficient "
             "system resources; from=<> to=<c@d.example> proto=SMTP helo=<h>");
}

BOOST_AUTO_TEST_CASE(a_reply_is_logged_as_its_first_line) {
  BOOST_TEST(ReplyLogText("550 5.7.1 Unable to relay\r\n") == "550 5.7.1 Unable to relay");
  BOOST_TEST(ReplyLogText("421-4.4.2 first\r\n421 second\r\n") == "421 4.4.2 first");
}

BOOST_AUTO_TEST_CASE(sasl_failures_name_method_and_user) {
  BOOST_TEST(SaslFailureLogLine("unknown[192.0.2.1]", "LOGIN", "authentication failure", "alice") ==
             "unknown[192.0.2.1]: SASL LOGIN authentication failed: authentication failure, "
             "sasl_username=alice");
  BOOST_TEST(SaslFailureLogLine("unknown[192.0.2.1]", "NTLM", "temporary failure", "") ==
             "unknown[192.0.2.1]: SASL NTLM authentication failed: temporary failure");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
