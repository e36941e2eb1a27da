// tests/lib/smtp/server_session_test.cc — the SMTP server session, driven with
// byte strings, a FakeClock and a fixed wall clock.
//
// Expected replies are typed from MS-OXSMTP 3.2.5-3.2.7 and RFC 5321, 1870,
// 2034, 2920, 3030; none is taken from the reply catalogue.
#include "lib/queue/queue_id.h"
#include "tests/lib/smtp/session_harness.h"

namespace postern {
namespace {

using namespace postern::testing;  // NOLINT: the harness is this file's vocabulary

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(session_greeting)

BOOST_AUTO_TEST_CASE(banner) {
  Harness h;
  BOOST_TEST(h.Start() == "220 mail.example.test ESMTP postern ready\r\n");
}

BOOST_AUTO_TEST_CASE(ehlo_lists_every_extension_in_spec_order) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Say("EHLO client.example.net\r\n") ==
             "250-mail.example.test Hello 192.0.2.10\r\n"
             "250-SIZE 10485760\r\n"
             "250-DSN\r\n"
             "250-ENHANCEDSTATUSCODES\r\n"
             "250-PIPELINING\r\n"
             "250-8BITMIME\r\n"
             "250-BINARYMIME\r\n"
             "250 CHUNKING\r\n");
}

BOOST_AUTO_TEST_CASE(ehlo_greets_an_ipv6_client_without_brackets) {
  ClientInfo client = DefaultClient();
  client.address = "2001:db8::5";
  Harness h({}, client);
  h.Start();
  std::string reply = h.Say("EHLO [IPv6:2001:db8::5]\r\n");
  BOOST_TEST(reply.substr(0, reply.find("\r\n")) == "250-mail.example.test Hello 2001:db8::5");
}

BOOST_AUTO_TEST_CASE(each_advertise_switch_removes_its_keyword) {
  const std::vector<std::pair<Harness::Adjust, std::string>> cases = {
      {[](ListenerConfig& l) { l.advertise_size = false; }, "250-SIZE 10485760\r\n"},
      {[](ListenerConfig& l) { l.advertise_dsn = false; }, "250-DSN\r\n"},
      {[](ListenerConfig& l) { l.advertise_enhancedstatuscodes = false; },
       "250-ENHANCEDSTATUSCODES\r\n"},
      {[](ListenerConfig& l) { l.advertise_pipelining = false; }, "250-PIPELINING\r\n"},
      {[](ListenerConfig& l) { l.advertise_8bitmime = false; }, "250-8BITMIME\r\n"},
      {[](ListenerConfig& l) { l.advertise_binarymime = false; }, "250-BINARYMIME\r\n"},
  };
  for (const auto& [adjust, keyword] : cases) {
    BOOST_TEST_CONTEXT(keyword) {
      Harness h(adjust);
      h.Start();
      std::string expected = kEhloReply;
      expected.erase(expected.find(keyword), keyword.size());
      BOOST_TEST(h.Say("EHLO client.example.net\r\n") == expected);
    }
  }
}

BOOST_AUTO_TEST_CASE(without_chunking_neither_chunking_nor_binarymime_is_offered) {
  Harness h([](ListenerConfig& l) { l.advertise_chunking = false; });
  h.Start();
  BOOST_TEST(h.Say("EHLO client.example.net\r\n") ==
             "250-mail.example.test Hello 192.0.2.10\r\n"
             "250-SIZE 10485760\r\n"
             "250-DSN\r\n"
             "250-ENHANCEDSTATUSCODES\r\n"
             "250-PIPELINING\r\n"
             "250 8BITMIME\r\n");
}

BOOST_AUTO_TEST_CASE(no_size_limit_is_announced_as_bare_size) {
  Harness h([](ListenerConfig& l) { l.max_message_size = 0; });
  h.Start();
  BOOST_TEST(h.Say("EHLO client.example.net\r\n").find("250-SIZE\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_switch_off_leaves_the_greeting_alone) {
  Harness h([](ListenerConfig& l) {
    l.advertise_size = l.advertise_dsn = l.advertise_enhancedstatuscodes = false;
    l.advertise_pipelining = l.advertise_8bitmime = l.advertise_binarymime = false;
    l.advertise_chunking = false;
  });
  h.Start();
  BOOST_TEST(h.Say("EHLO client.example.net\r\n") == "250 mail.example.test Hello 192.0.2.10\r\n");
  // Without ENHANCEDSTATUSCODES the replies carry no enhanced code.
  BOOST_TEST(h.Say("NOOP\r\n") == "250 OK\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org> SIZE=10\r\n") == "501 Invalid arguments\r\n");
}

BOOST_AUTO_TEST_CASE(helo) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Say("HELO client.example.net\r\n") == "250 mail.example.test Hello 192.0.2.10\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == kSenderOk);
}

BOOST_AUTO_TEST_CASE(hello_argument_checks) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Say("EHLO\r\n") == kSyntax);
  BOOST_TEST(h.Say("HELO\r\n") == kSyntax);
  BOOST_TEST(h.Say("EHLO bad(name)\r\n") == "501 5.5.4 Invalid domain name\r\n");
  BOOST_TEST(h.Say("EHLO [192.0.2.10]\r\n") == kEhloReply);
  BOOST_TEST(h.Say("EHLO MY_PC\r\n") == kEhloReply);
}

BOOST_AUTO_TEST_CASE(a_refused_ehlo_leaves_the_state_unchanged) {
  Harness h;
  h.Start();
  h.Say("HELO client.example.net\r\n");
  h.Say("MAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(h.Say("EHLO bad!name\r\n") == "501 5.5.4 Invalid domain name\r\n");
  // Still in the HELO session, the transaction intact.
  BOOST_TEST(h.Say("RCPT TO:<b@example.test>\r\n") == kRecipientOk);
}

BOOST_AUTO_TEST_CASE(ehlo_resets_the_transaction) {
  Harness h;
  h.Open();
  BOOST_TEST(h.Say("EHLO client.example.net\r\n") == kEhloReply);
  BOOST_TEST(h.Say("RCPT TO:<b@example.test>\r\n") == kNeedMail);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(session_simple_commands)

BOOST_AUTO_TEST_CASE(noop_rset_vrfy_expn_help_quit) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Say("NOOP\r\n") == "250 2.0.0 OK\r\n");
  BOOST_TEST(h.Say("NOOP anything at all\r\n") == "250 2.0.0 OK\r\n");
  BOOST_TEST(h.Say("RSET\r\n") == "250 2.0.0 OK\r\n");
  BOOST_TEST(h.Say("RSET now\r\n") == kSyntax);
  BOOST_TEST(h.Say("VRFY bob\r\n") ==
             "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n");
  BOOST_TEST(h.Say("VRFY\r\n") == kSyntax);
  BOOST_TEST(h.Say("EXPN list\r\n") == "502 5.5.1 Command not implemented\r\n");
  BOOST_TEST(h.Say("HELP\r\n") ==
             "214-2.0.0 Commands supported:\r\n"
             "214 2.0.0 EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP\r\n");
  BOOST_TEST(h.Say("QUIT now\r\n") == kSyntax);
  BOOST_TEST(h.Say("quit\r\n") ==
             "221 2.0.0 mail.example.test Service closing transmission channel\r\n");
  BOOST_TEST(h.closed_seen);
  BOOST_TEST(h.session().closed());
  BOOST_TEST(h.Say("NOOP\r\n").empty());
}

BOOST_AUTO_TEST_CASE(unknown_and_unoffered_commands) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Say("TURN\r\n") == kUnrecognized);
  BOOST_TEST(h.Say("ETRN example.test\r\n") == kUnrecognized);
  BOOST_TEST(h.Say("\r\n") == kUnrecognized);
}

BOOST_AUTO_TEST_CASE(input_after_quit_is_ignored) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Say("QUIT\r\nNOOP\r\nNOOP\r\n") == kBye);
}

BOOST_AUTO_TEST_CASE(xexch50_is_not_authorized) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Say("XEXCH50 1024 2\r\n") == "504 5.7.1 Not authorized\r\n");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(session_data_transaction)

BOOST_AUTO_TEST_CASE(a_complete_transaction) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Say("EHLO client.example.net\r\n") == kEhloReply);
  BOOST_TEST(h.Say("MAIL FROM:<alice@example.org> BODY=8BITMIME RET=HDRS ENVID=E+2B1\r\n") ==
             kSenderOk);
  BOOST_TEST(h.Say("RCPT TO:<bob@example.test> NOTIFY=FAILURE,DELAY "
                   "ORCPT=rfc822;bob@example.test\r\n") == kRecipientOk);
  BOOST_TEST(h.Say("DATA\r\n") == "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
  BOOST_TEST(h.events == "SSMSSBS");
  BOOST_TEST(h.Say("Subject: test\r\n\r\n..dot line\r\nbody\r\n.\r\n").empty());
  BOOST_TEST(h.session().input_paused());
  BOOST_TEST(h.ends == 1);

  BOOST_REQUIRE(h.envelopes.size() == 1u);
  const Envelope& e = h.envelopes[0];
  BOOST_TEST(IsValidQueueId(e.queue_id));
  BOOST_TEST(e.sender == "alice@example.org");
  BOOST_REQUIRE(e.recipients.size() == 1u);
  BOOST_TEST(e.recipients[0].address == "bob@example.test");
  BOOST_TEST(e.recipients[0].notify == (kNotifyFailure | kNotifyDelay));
  BOOST_TEST(e.recipients[0].orcpt == "rfc822;bob@example.test");
  BOOST_TEST((e.body == BodyType::k8BitMime));
  BOOST_TEST((e.ret == DsnRet::kHeaders));
  BOOST_TEST(e.envid == "E+2B1");
  BOOST_TEST(e.arrival_time == kWallTime);
  BOOST_TEST(e.client_address == "192.0.2.10");
  BOOST_TEST(e.client_helo == "client.example.net");
  BOOST_TEST(e.listener == "smtp");
  BOOST_TEST(e.auth_user.empty());
  BOOST_TEST(e.auth_mailbox.empty());

  BOOST_TEST(h.messages[0] ==
             "Received: from client.example.net (client.example.net [192.0.2.10])\r\n" +
                 ReceivedLine(e.queue_id, "<bob@example.test>") +
                 "Subject: test\r\n\r\n.dot line\r\nbody\r\n");

  BOOST_TEST(h.Queue() == "250 2.6.0 " + e.queue_id + " Queued mail for delivery\r\n");
  BOOST_TEST(!h.session().input_paused());
  BOOST_TEST(h.events == "SSMSSBSDES");
  // The transaction is over: a new one starts with MAIL.
  BOOST_TEST(h.Say("RCPT TO:<bob@example.test>\r\n") == kNeedMail);
  BOOST_TEST(h.Say("MAIL FROM:<>\r\n") == kSenderOk);
}

BOOST_AUTO_TEST_CASE(helo_sessions_are_received_with_smtp_and_several_recipients_without_for) {
  Harness h;
  h.Start();
  h.Say("HELO client.example.net\r\n");
  h.Say("MAIL FROM:<a@example.org>\r\n");
  h.Say("RCPT TO:<b@example.test>\r\n");
  h.Say("RCPT TO:<c@example.test>\r\n");
  h.Say("DATA\r\nx\r\n.\r\n");
  BOOST_REQUIRE(h.envelopes.size() == 1u);
  BOOST_TEST(h.envelopes[0].recipients.size() == 2u);
  BOOST_TEST(h.messages[0] ==
             "Received: from client.example.net (client.example.net [192.0.2.10])\r\n" +
                 ReceivedLine(h.envelopes[0].queue_id, "", "SMTP") + "x\r\n");
}

BOOST_AUTO_TEST_CASE(client_without_reverse_name_is_unknown) {
  ClientInfo client = DefaultClient();
  client.hostname.clear();
  Harness h({}, client);
  h.Open();
  h.Say("DATA\r\n\r\n.\r\n");
  BOOST_TEST(
      h.messages[0].rfind("Received: from client.example.net (unknown [192.0.2.10])\r\n", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(data_sequence_errors) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Say("DATA\r\n") == kSendHelloFirst);
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("DATA\r\n") == kNeedMail);
  h.Say("MAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(h.Say("DATA\r\n") == kNeedRcpt);
  h.Say("RCPT TO:<b@example.test>\r\n");
  BOOST_TEST(h.Say("DATA now\r\n") == kSyntax);
  BOOST_TEST(h.envelopes.empty());
}

BOOST_AUTO_TEST_CASE(rset_discards_the_transaction) {
  Harness h;
  h.Open();
  BOOST_TEST(h.Say("RSET\r\n") == kOk);
  BOOST_TEST(h.Say("DATA\r\n") == kNeedMail);
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == kSenderOk);
}

BOOST_AUTO_TEST_CASE(empty_message) {
  Harness h;
  h.Open();
  h.Say("DATA\r\n.\r\n");
  BOOST_TEST(h.ends == 1);
  BOOST_TEST(h.Body().empty());
}

BOOST_AUTO_TEST_CASE(nul_and_long_lines_in_content_pass_through) {
  Harness h;
  h.Open();
  std::string content = std::string("A: b\r\n\r\nx\0y\r\n", 13) + std::string(3000, 'L') + "\r\n";
  h.Say("DATA\r\n" + content + ".\r\n");
  BOOST_TEST(h.ends == 1);
  BOOST_TEST(h.Body() == content);
}

BOOST_AUTO_TEST_CASE(queue_failures) {
  Harness h;
  h.Open();
  h.Say("DATA\r\nx\r\n.\r\n");
  BOOST_TEST(h.Queue(ipc::QueueOutcome::kInsufficientResources) ==
             "452 4.3.1 Insufficient system resources\r\n");
  h.Say("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\nDATA\r\nx\r\n.\r\n");
  BOOST_TEST(h.Queue(ipc::QueueOutcome::kTemporaryFailure) ==
             "451 4.3.0 Requested action aborted: local error in processing\r\n");
  BOOST_TEST(h.Say("NOOP\r\n") == kOk);
  BOOST_TEST(!h.session().closed());
}

BOOST_AUTO_TEST_CASE(a_queue_result_nobody_waits_for_is_ignored) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Queue().empty());
}

BOOST_AUTO_TEST_CASE(content_goes_out_in_64k_pieces) {
  Harness h;
  h.Open();
  std::string line = std::string(998, 'x') + "\r\n";
  std::string content = "Subject: big\r\n\r\n";
  while (content.size() < 300000) content += line;
  h.Say("DATA\r\n");
  // Fed in odd-sized pieces, as a socket would.
  for (size_t i = 0; i < content.size(); i += 7001) h.Say(content.substr(i, 7001));
  h.Say(".\r\n");
  BOOST_REQUIRE(h.ends == 1);
  BOOST_TEST(h.Body() == content);
  BOOST_REQUIRE(h.pieces.size() >= 2u);
  for (size_t i = 0; i + 1 < h.pieces.size(); ++i) BOOST_TEST(h.pieces[i] == 65536u);
  BOOST_TEST(h.pieces.back() <= 65536u);
}

BOOST_AUTO_TEST_CASE(one_huge_receive_still_gives_64k_pieces) {
  Harness h;
  h.Open();
  std::string content = "\r\n" + std::string(1000000, 'z') + "\r\n";
  h.Say("DATA\r\n" + content + ".\r\n");
  BOOST_REQUIRE(h.ends == 1);
  for (size_t size : h.pieces) BOOST_TEST(size <= 65536u);
  BOOST_TEST(h.Body() == content);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// MS-OXSMTP 3.2.5: every error row that does not need TLS or AUTH.
BOOST_AUTO_TEST_SUITE(session_spec_error_rows)

BOOST_AUTO_TEST_CASE(mail_and_rcpt_before_ehlo) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == "503 5.5.2 Send hello first\r\n");
  BOOST_TEST(h.Say("RCPT TO:<b@example.test>\r\n") == "503 5.5.2 Send hello first\r\n");
}

BOOST_AUTO_TEST_CASE(mail_and_rcpt_after_bdat) {
  Harness h;
  h.Open();
  BOOST_TEST(h.Say("BDAT 3\r\nabc") == "250 2.0.0 3 octets received\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == "503 5.5.1 Bad sequence of commands\r\n");
  BOOST_TEST(h.Say("RCPT TO:<c@example.test>\r\n") == "503 5.5.1 Bad sequence of commands\r\n");
  BOOST_TEST(h.Say("DATA\r\n") == "503 5.5.1 Bad sequence of commands\r\n");
}

BOOST_AUTO_TEST_CASE(rcpt_after_xexch50) {
  Harness h;
  h.Open();
  BOOST_TEST(h.Say("XEXCH50 100 2\r\n") == "504 5.7.1 Not authorized\r\n");
  BOOST_TEST(h.Say("RCPT TO:<c@example.test>\r\n") == "503 5.5.1 Bad sequence of commands\r\n");
  // A new transaction forgets it.
  h.Say("RSET\r\nMAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(h.Say("RCPT TO:<c@example.test>\r\n") == kRecipientOk);
}

BOOST_AUTO_TEST_CASE(starttls_required) {
  Harness h([](ListenerConfig& l) { l.require_tls = true; });
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") ==
             "451 5.7.3 Must issue a STARTTLS command first\r\n");
}

BOOST_AUTO_TEST_CASE(second_mail) {
  Harness h;
  h.Open();
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == "503 5.5.2 Sender already specified\r\n");
}

BOOST_AUTO_TEST_CASE(missing_colon) {
  Harness h;
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM <a@example.org>\r\n") == "501 5.5.4 Unrecognized parameter\r\n");
  BOOST_TEST(h.Say("MAIL\r\n") == "501 5.5.4 Unrecognized parameter\r\n");
  h.Say("MAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(h.Say("RCPT TO <b@example.test>\r\n") == "501 5.5.4 Unrecognized parameter\r\n");
}

BOOST_AUTO_TEST_CASE(invalid_extension) {
  Harness h;
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org> FOO=BAR\r\n") == "501 5.5.4 Invalid arguments\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org> SIZE=1 SIZE=1\r\n") ==
             "501 5.5.4 Invalid arguments\r\n");
  // This listener offers no AUTH (no auth_mechanisms), so AUTH= is unknown
  // here (RFC 5321 4.1.2); where AUTH is offered see session_mail_auth_parameter.
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org> AUTH=<>\r\n") == "501 5.5.4 Invalid arguments\r\n");
  h.Say("MAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(h.Say("RCPT TO:<b@example.test> NOTIFY=SOMETIMES\r\n") ==
             "501 5.5.4 Invalid arguments\r\n");
}

BOOST_AUTO_TEST_CASE(esmtp_parameters_after_helo_are_invalid) {
  Harness h;
  h.Start();
  h.Say("HELO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org> BODY=8BITMIME\r\n") ==
             "501 5.5.4 Invalid arguments\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == kSenderOk);
  BOOST_TEST(h.Say("RCPT TO:<b@example.test> NOTIFY=NEVER\r\n") ==
             "501 5.5.4 Invalid arguments\r\n");
}

BOOST_AUTO_TEST_CASE(invalid_addresses) {
  Harness h;
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<not an address>\r\n") == "501 5.1.7 Invalid address\r\n");
  BOOST_TEST(h.Say("MAIL FROM:alice@example.org\r\n") == "501 5.1.7 Invalid address\r\n");
  h.Say("MAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(h.Say("RCPT TO:<b@@example.test>\r\n") == "501 5.1.3 Invalid address\r\n");
  BOOST_TEST(h.Say("RCPT TO:<" + std::string(65, 'l') + "@example.test>\r\n") ==
             "501 5.1.3 Invalid address\r\n");
}

BOOST_AUTO_TEST_CASE(null_path_as_recipient) {
  Harness h;
  h.Open();
  BOOST_TEST(h.Say("RCPT TO:<>\r\n") == "501 5.1.3 Invalid address\r\n");
}

BOOST_AUTO_TEST_CASE(rcpt_without_mail) {
  Harness h;
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("RCPT TO:<b@example.test>\r\n") == kNeedMail);
}

BOOST_AUTO_TEST_CASE(relay_is_refused_for_other_domains) {
  Harness h;
  h.Open();
  BOOST_TEST(h.Say("RCPT TO:<someone@elsewhere.example>\r\n") == "550 5.7.1 Unable to relay\r\n");
  BOOST_TEST(h.Say("RCPT TO:<someone@sub.example.test>\r\n") == "550 5.7.1 Unable to relay\r\n");
  BOOST_TEST(h.Say("RCPT TO:<someone@[192.0.2.99]>\r\n") == "550 5.7.1 Unable to relay\r\n");
  BOOST_TEST(h.Say("RCPT TO:<Someone@EXAMPLE.TEST>\r\n") == kRecipientOk);
  BOOST_TEST(h.Say("RCPT TO:<Postmaster>\r\n") == kRecipientOk);
}

// RFC 5321 4.5.1 (issue 8 point 5): <Postmaster> from any client goes to
// postmaster_address, so that qmgr delivers it instead of keeping it.
BOOST_AUTO_TEST_CASE(postmaster_is_delivered_to_postmaster_address) {
  Harness h;
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  h.Say("MAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(h.Say("RCPT TO:<POSTMASTER>\r\n") == kRecipientOk);
  BOOST_TEST(h.Say("RCPT TO:<postmaster> ORCPT=rfc822;pm+40example.org\r\n") == kRecipientOk);
  BOOST_TEST(h.Say("DATA\r\nSubject: hi\r\n\r\nx\r\n.\r\n") == kGoAhead);
  BOOST_TEST(h.Queue() == h.Queued());
  const std::vector<Recipient>& r = h.envelopes.back().recipients;
  BOOST_REQUIRE(r.size() == 2u);
  // The harness's local domain is example.test.
  BOOST_TEST(r[0].address == "postmaster@example.test");
  BOOST_TEST(r[0].orcpt == "rfc822;POSTMASTER");
  BOOST_TEST(r[1].address == "postmaster@example.test");
  BOOST_TEST(r[1].orcpt == "rfc822;pm+40example.org");
}

BOOST_AUTO_TEST_CASE(trusted_clients_may_relay) {
  ClientInfo client = DefaultClient();
  client.trusted = true;
  Harness h({}, client);
  h.Open();
  BOOST_TEST(h.Say("RCPT TO:<someone@elsewhere.example>\r\n") == kRecipientOk);
}

BOOST_AUTO_TEST_CASE(authentication_required) {
  Harness h([](ListenerConfig& l) { l.require_auth = true; });
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == "530 5.7.1 Not authenticated\r\n");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// MS-OXSMTP 3.2.7 local events.
BOOST_AUTO_TEST_SUITE(session_local_events)

BOOST_AUTO_TEST_CASE(too_many_recipients_ends_the_session) {
  Harness h;
  h.Open();  // one recipient
  for (int i = 2; i <= 200; ++i) {
    BOOST_REQUIRE(h.Say("RCPT TO:<r" + std::to_string(i) + "@example.test>\r\n") == kRecipientOk);
  }
  BOOST_TEST(h.Say("RCPT TO:<r201@example.test>\r\n") == "452 4.5.3 Too many recipients\r\n");
  BOOST_TEST(h.closed_seen);
  BOOST_TEST(h.Say("DATA\r\n").empty());
}

BOOST_AUTO_TEST_CASE(recipient_limit_of_zero_is_off) {
  Harness h([](ListenerConfig& l) { l.max_recipients = 0; });
  h.Open();
  for (int i = 0; i < 300; ++i) {
    BOOST_REQUIRE(h.Say("RCPT TO:<r" + std::to_string(i) + "@example.test>\r\n") == kRecipientOk);
  }
}

BOOST_AUTO_TEST_CASE(declared_size_over_the_limit) {
  Harness h;
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org> SIZE=10485761\r\n") ==
             "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  BOOST_TEST(!h.closed_seen);
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org> SIZE=10485760\r\n") == kSenderOk);
}

// Issue 8 point 10: more digits than a size can hold is still too large.
BOOST_AUTO_TEST_CASE(declared_size_too_large_to_hold) {
  Harness h;
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org> SIZE=184467440737095516160000\r\n") ==
             "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  BOOST_TEST(!h.closed_seen);
}

BOOST_AUTO_TEST_CASE(declared_size_without_limit) {
  Harness h([](ListenerConfig& l) { l.max_message_size = 0; });
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org> SIZE=99999999999\r\n") == kSenderOk);
}

std::string ContentOfSize(size_t size) {
  std::string content = "Subject: big\r\n\r\n";
  std::string line = std::string(998, 'x') + "\r\n";
  while (content.size() + line.size() <= size) content += line;
  content += std::string(size - content.size() - 2, 'y') + "\r\n";
  return content;
}

BOOST_AUTO_TEST_CASE(message_size_default_limit_is_exact) {
  Harness h;
  h.Open();
  std::string content = ContentOfSize(10485760);
  BOOST_REQUIRE(content.size() == 10485760u);
  h.Say("DATA\r\n" + content + ".\r\n");
  BOOST_TEST(h.ends == 1);
  BOOST_TEST(h.Body() == content);

  h.Queue();
  h.Say("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n");
  std::string over = ContentOfSize(10485761);
  // Data is dropped as it arrives: the stream is given up before the end.
  h.Say(over.substr(0, 10485761 - 100));
  BOOST_TEST(h.aborts == 0);
  h.Say(over.substr(10485761 - 100));
  BOOST_TEST(h.aborts == 1);
  BOOST_TEST(!h.closed_seen);
  BOOST_TEST(h.Say(".\r\n") == "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  BOOST_TEST(h.closed_seen);
  BOOST_TEST(h.ends == 1);
}

BOOST_AUTO_TEST_CASE(header_size_limit) {
  Harness h;
  h.Open();
  std::string header = "X-Filler: " + std::string(65536 - 12, 'f') + "\r\n";  // 65536 octets
  h.Say("DATA\r\n" + header + "\r\nbody\r\n.\r\n");
  BOOST_TEST(h.ends == 1);
  h.Queue();
  h.Say("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n");
  BOOST_TEST(h.Say("X" + header + "\r\nbody\r\n.\r\n") ==
             "552 5.3.4 Header size exceeds fixed maximum size\r\n");
  BOOST_TEST(h.aborts == 1);
  BOOST_TEST(h.closed_seen);
}

BOOST_AUTO_TEST_CASE(max_hop_count) {
  Harness h;
  h.Open();
  h.Say("DATA\r\n" + Hops(60, "relay.example.org") + "\r\nbody\r\n.\r\n");
  BOOST_TEST(h.ends == 1);
  h.Queue();
  h.Say("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n");
  BOOST_TEST(h.Say(Hops(61, "relay.example.org") + "\r\nbody\r\n.\r\n") ==
             "554 5.4.6 Hop count exceeded - possible mail loop\r\n");
  BOOST_TEST(h.aborts == 1);
  BOOST_TEST(h.closed_seen);
}

BOOST_AUTO_TEST_CASE(max_local_hop_count) {
  Harness h;
  h.Open();
  h.Say("DATA\r\n" + Hops(12, "Mail.Example.Test") + "\r\nbody\r\n.\r\n");
  BOOST_TEST(h.ends == 1);
  h.Queue();
  h.Say("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n");
  BOOST_TEST(h.Say(Hops(13, "mail.example.test") + "\r\nbody\r\n.\r\n") ==
             "554 5.4.6 Hop count exceeded - possible mail loop\r\n");
  BOOST_TEST(h.closed_seen);
}

BOOST_AUTO_TEST_CASE(hop_limits_of_zero_are_off) {
  Harness h([](ListenerConfig& l) { l.max_hop_count = l.max_local_hop_count = 0; });
  h.Open();
  h.Say("DATA\r\n" + Hops(100, "mail.example.test") + "\r\nbody\r\n.\r\n");
  BOOST_TEST(h.ends == 1);
}

BOOST_AUTO_TEST_CASE(protocol_violation_count) {
  Harness h;
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  // Refusals on policy do not count.
  h.Say("MAIL FROM:<a@example.org>\r\n");
  for (int i = 0; i < 10; ++i) h.Say("RCPT TO:<x@elsewhere.example>\r\n");
  BOOST_TEST(h.Say("XEXCH50 1 2\r\nEXPN x\r\n") ==
             "504 5.7.1 Not authorized\r\n502 5.5.1 Command not implemented\r\n");
  // Five protocol errors are answered, the sixth ends the session.
  BOOST_TEST(h.Say("BOGUS\r\n") == kUnrecognized);
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == "503 5.5.2 Sender already specified\r\n");
  BOOST_TEST(h.Say("RCPT TO:<c@example.test>\r\n") == kBadSequence);  // after XEXCH50
  BOOST_TEST(h.Say(std::string(600, 'x') + "\r\n") == "500 5.5.2 Line too long\r\n");
  BOOST_TEST(h.Say("VRFY\r\n") == kSyntax);
  BOOST_TEST(!h.closed_seen);
  BOOST_TEST(h.Say("BOGUS\r\n") ==
             "421 4.7.0 Too many errors on this connection, closing transmission channel\r\n");
  BOOST_TEST(h.closed_seen);
}

BOOST_AUTO_TEST_CASE(protocol_error_limit_of_zero_is_off) {
  Harness h([](ListenerConfig& l) { l.max_protocol_errors = 0; });
  h.Start();
  for (int i = 0; i < 50; ++i) BOOST_REQUIRE(h.Say("BOGUS\r\n") == kUnrecognized);
}

BOOST_AUTO_TEST_CASE(protocol_errors_end_an_open_bdat_stream) {
  Harness h;
  h.Open();
  h.Say("BDAT 1\r\nx");
  h.Say("X1\r\nX2\r\nX3\r\nX4\r\nX5\r\n");
  BOOST_TEST(h.aborts == 0);
  BOOST_TEST(h.Say("X6\r\n") == kTooManyErrors);
  BOOST_TEST(h.aborts == 1);
  BOOST_TEST(h.events.back() == 'C');
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(session_shutdown)

// RFC 5321 3.8: a server that is shut down SHOULD send 421 before it closes.
const std::string kShuttingDown =
    "421 4.3.2 Service shutting down, closing transmission channel\r\n";

BOOST_AUTO_TEST_CASE(an_idle_session_gets_421_and_ends) {
  Harness h;
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.ShutDown() == kShuttingDown);
  BOOST_TEST(h.closed_seen);
  BOOST_TEST(h.events.substr(h.events.size() - 2) == "SC");
  BOOST_TEST((h.session().NextDeadline() == TimePoint::max()));
  BOOST_TEST(h.ShutDown().empty());  // once
  BOOST_TEST(h.Say("NOOP\r\n").empty());
}

BOOST_AUTO_TEST_CASE(a_message_in_data_is_abandoned_and_not_queued) {
  Harness h;
  h.Open();
  BOOST_TEST(h.Say("DATA\r\n") == kGoAhead);
  h.Say("Subject: half\r\n\r\nsome of the body\r\n");
  BOOST_TEST(h.ShutDown() == kShuttingDown);
  BOOST_TEST(h.aborts == 1);
  BOOST_TEST(h.ends == 0);
  BOOST_TEST(h.closed_seen);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(session_timers)

BOOST_AUTO_TEST_CASE(inactivity_timeout) {
  Harness h;
  h.Start();
  BOOST_TEST((h.session().NextDeadline() == h.clock().Now() + minutes(1)));
  BOOST_TEST(h.Advance(seconds(59)).empty());
  BOOST_TEST(h.Advance(seconds(1)) == "451 4.7.0 Timeout waiting for client input\r\n");
  BOOST_TEST(h.closed_seen);
  BOOST_TEST((h.session().NextDeadline() == TimePoint::max()));
}

BOOST_AUTO_TEST_CASE(any_input_restarts_the_inactivity_timer) {
  Harness h;
  h.Start();
  h.Advance(seconds(50));
  h.Say("NO");  // not even a whole command
  BOOST_TEST(h.Advance(seconds(50)).empty());
  BOOST_TEST((h.session().NextDeadline() == h.clock().Now() + seconds(10)));
  BOOST_TEST(h.Advance(seconds(10)) == "451 4.7.0 Timeout waiting for client input\r\n");
}

BOOST_AUTO_TEST_CASE(data_bytes_restart_the_inactivity_timer_and_a_timeout_aborts) {
  Harness h([](ListenerConfig& l) { l.connection_timeout = minutes(10); });
  h.Open();
  h.Say("DATA\r\n");
  for (int i = 0; i < 5; ++i) {
    h.Advance(seconds(50));
    h.Say("line\r\n");
  }
  BOOST_TEST(!h.closed_seen);
  BOOST_TEST(h.Advance(seconds(60)) == "451 4.7.0 Timeout waiting for client input\r\n");
  BOOST_TEST(h.aborts == 1);
  BOOST_TEST(h.events.substr(h.events.size() - 3) == "SAC");
}

BOOST_AUTO_TEST_CASE(bdat_bytes_restart_the_inactivity_timer) {
  Harness h([](ListenerConfig& l) { l.connection_timeout = minutes(10); });
  h.Open();
  h.Say("BDAT 1000\r\n");
  for (int i = 0; i < 5; ++i) {
    h.Advance(seconds(50));
    h.Say("0123456789");
  }
  BOOST_TEST(!h.closed_seen);
  BOOST_TEST(h.Advance(seconds(60)) == "451 4.7.0 Timeout waiting for client input\r\n");
  BOOST_TEST(h.aborts == 1);
}

BOOST_AUTO_TEST_CASE(connection_timeout) {
  Harness h;
  h.Start();
  TimePoint start = h.clock().Now();
  for (int i = 0; i < 5; ++i) {
    h.Advance(seconds(50));
    BOOST_REQUIRE(h.Say("NOOP\r\n") == kOk);
  }
  BOOST_TEST((h.session().NextDeadline() == start + minutes(5)));
  BOOST_TEST(h.Advance(seconds(49)).empty());
  BOOST_TEST(h.Advance(seconds(1)) == "421 4.4.1 Connection timed out\r\n");
  BOOST_TEST(h.closed_seen);
}

// MS-OXSMTP 3.2.2: the ConnectionTimer is initialized when the session is
// initiated, i.e. at the accept, not when the banner goes out after a
// reverse lookup or an implicit TLS handshake.
BOOST_AUTO_TEST_CASE(the_connection_timer_runs_from_the_accept) {
  ClientInfo client = DefaultClient();
  client.connected_at = TimePoint{};  // the harness clock's start
  Harness h({}, client);
  h.clock().Advance(seconds(70));  // lookup and handshake took 70 s
  h.Start();
  BOOST_TEST((h.session().NextDeadline() <= TimePoint{} + minutes(5)));
  for (int i = 0; i < 4; ++i) {
    h.Advance(seconds(50));
    BOOST_REQUIRE(h.Say("NOOP\r\n") == kOk);
  }
  BOOST_TEST(h.Advance(seconds(29)).empty());
  BOOST_TEST(h.Advance(seconds(1)) == "421 4.4.1 Connection timed out\r\n");
  BOOST_TEST(h.closed_seen);
}

BOOST_AUTO_TEST_CASE(connection_timeout_in_data_aborts) {
  Harness h;
  h.Open();
  h.Say("DATA\r\nSubject: x\r\n");
  for (int i = 0; i < 6; ++i) {
    h.Advance(seconds(50));
    h.Say("more\r\n");
  }
  BOOST_TEST(h.closed_seen);
  BOOST_TEST(h.aborts == 1);
}

BOOST_AUTO_TEST_CASE(inactivity_is_suspended_while_waiting_for_the_queue) {
  Harness h;
  h.Open();
  TimePoint start = h.clock().Now();
  h.Say("DATA\r\nx\r\n.\r\n");
  BOOST_TEST((h.session().NextDeadline() == start + minutes(5)));
  BOOST_TEST(h.Advance(seconds(90)).empty());
  BOOST_TEST(h.Queue() == h.Queued());
  BOOST_TEST((h.session().NextDeadline() == h.clock().Now() + minutes(1)));
}

BOOST_AUTO_TEST_CASE(connection_timeout_while_waiting_for_the_queue) {
  Harness h;
  h.Open();
  h.Say("DATA\r\nx\r\n.\r\n");
  BOOST_TEST(h.Advance(minutes(5)) == "421 4.4.1 Connection timed out\r\n");
  // The message was handed over whole: nothing to abort.
  BOOST_TEST(h.aborts == 0);
  BOOST_TEST(h.Queue().empty());
}

BOOST_AUTO_TEST_CASE(timers_of_zero_are_off) {
  Harness h([](ListenerConfig& l) {
    l.connection_timeout = Duration(0);
    l.inactivity_timeout = Duration(0);
  });
  h.Start();
  BOOST_TEST((h.session().NextDeadline() == TimePoint::max()));
  BOOST_TEST(h.Advance(minutes(100)).empty());
}

BOOST_AUTO_TEST_CASE(only_the_connection_timer) {
  Harness h([](ListenerConfig& l) { l.inactivity_timeout = Duration(0); });
  h.Start();
  BOOST_TEST((h.session().NextDeadline() == h.clock().Now() + minutes(5)));
}

BOOST_AUTO_TEST_CASE(a_timer_call_with_nothing_due_does_nothing) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Advance(Duration(0)).empty());
  BOOST_TEST(!h.closed_seen);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(session_tarpit)

BOOST_AUTO_TEST_CASE(mail_errors_are_delayed_by_the_tarpit_interval) {
  Harness h([](ListenerConfig& l) { l.tarpit_interval = seconds(5); });
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  // The refused MAIL and the RCPT pipelined behind it.
  BOOST_TEST(h.Say("MAIL FROM:<bad address>\r\nRCPT TO:<b@example.test>\r\n").empty());
  BOOST_TEST(h.session().input_paused());
  BOOST_TEST((h.session().NextDeadline() == h.clock().Now() + seconds(5)));
  BOOST_TEST(h.Advance(seconds(4)).empty());
  BOOST_TEST(h.Advance(seconds(1)) == "501 5.1.7 Invalid address\r\n");
  // The RCPT's error, to a session that has not authenticated, waits too.
  BOOST_TEST(h.session().input_paused());
  BOOST_TEST(h.Advance(seconds(5)) == kNeedMail);
  BOOST_TEST(!h.session().input_paused());
  // An accepted MAIL is answered at once.
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == kSenderOk);
}

BOOST_AUTO_TEST_CASE(mail_before_hello_is_tarpitted_too) {
  Harness h([](ListenerConfig& l) { l.tarpit_interval = seconds(5); });
  h.Start();
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n").empty());
  BOOST_TEST(h.Advance(seconds(5)) == kSendHelloFirst);
}

BOOST_AUTO_TEST_CASE(every_error_to_an_unauthenticated_session_is_tarpitted) {
  Harness h([](ListenerConfig& l) { l.tarpit_interval = seconds(5); });
  BOOST_TEST(h.Start() == kBanner);  // the banner is not delayed
  BOOST_TEST(h.Say("BOGUS\r\n").empty());
  BOOST_TEST(h.Advance(seconds(5)) == kUnrecognized);
  BOOST_TEST(h.Say("RCPT TO:<b@example.test>\r\n").empty());
  BOOST_TEST(h.Advance(seconds(5)) == kSendHelloFirst);
  // Positive replies are never delayed.
  BOOST_TEST(h.Say("NOOP\r\n") == kOk);
}

// tarpit_at_connect = yes: MS-OXSMTP 3.2.7 "when an unauthenticated user
// connects to the server", to the letter.
BOOST_AUTO_TEST_CASE(tarpit_at_connect_holds_the_banner) {
  Harness h([](ListenerConfig& l) {
    l.tarpit_interval = seconds(5);
    l.tarpit_at_connect = true;
  });
  BOOST_TEST(h.Start().empty());
  BOOST_TEST(h.session().input_paused());  // nothing is read meanwhile
  BOOST_TEST((h.session().NextDeadline() == h.clock().Now() + seconds(5)));
  BOOST_TEST(h.Advance(seconds(4)).empty());
  BOOST_TEST(h.Advance(seconds(1)) == kBanner);
  BOOST_TEST(!h.session().input_paused());
  BOOST_TEST(h.Say("EHLO client.example.net\r\n") == kEhloReply);
  // Errors are tarpitted as always.
  BOOST_TEST(h.Say("BOGUS\r\n").empty());
  BOOST_TEST(h.Advance(seconds(5)) == kUnrecognized);
}

BOOST_AUTO_TEST_CASE(tarpit_at_connect_keeps_the_connection_timer) {
  Harness h([](ListenerConfig& l) {
    l.tarpit_interval = seconds(10);
    l.tarpit_at_connect = true;
    l.connection_timeout = seconds(3);
  });
  BOOST_TEST(h.Start().empty());
  BOOST_TEST(h.Advance(seconds(3)) == "421 4.4.1 Connection timed out\r\n");
  BOOST_TEST(h.closed_seen);
}

BOOST_AUTO_TEST_CASE(tarpit_at_connect_without_an_interval_is_off) {
  Harness h([](ListenerConfig& l) {
    l.tarpit_interval = seconds(0);
    l.tarpit_at_connect = true;
  });
  BOOST_TEST(h.Start() == kBanner);
}

BOOST_AUTO_TEST_CASE(tarpit_interval_zero_switches_it_off) {
  Harness h([](ListenerConfig& l) { l.tarpit_interval = seconds(0); });
  h.Start();
  BOOST_TEST(h.Say("BOGUS\r\n") == kUnrecognized);
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<bad address>\r\n") == "501 5.1.7 Invalid address\r\n");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(session_rate_limit)

const std::string kRateExceeded =
    "421 4.4.2 Message submission rate for this client has exceeded the configured limit\r\n";

void SpecRate(ListenerConfig& l) { l.message_rate_limit = 600; }

BOOST_AUTO_TEST_CASE(mail_waits_for_the_rate_answer_then_is_accepted) {
  Harness h(SpecRate);
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\n").empty());
  BOOST_TEST(h.mail_checks.size() == 1u);
  BOOST_TEST(h.mail_checks.at(0).listener == "smtp");
  BOOST_TEST(h.mail_checks.at(0).rate_key == "ip:192.0.2.10");
  BOOST_TEST(h.session().input_paused());
  BOOST_TEST(h.MailCheck(ipc::MailVerdict::kAllowed) == kSenderOk + kRecipientOk);
  BOOST_TEST(!h.session().input_paused());
  BOOST_TEST(h.Say("DATA\r\nx\r\n.\r\n") == kGoAhead);
  BOOST_TEST(h.Queue() == h.Queued());
}

BOOST_AUTO_TEST_CASE(a_refused_mail_is_answered_421_and_the_session_ends) {
  Harness h(SpecRate);
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\n").empty());
  // The pipelined RCPT is never answered.
  BOOST_TEST(h.MailCheck(ipc::MailVerdict::kRateLimitExceeded) == kRateExceeded);
  BOOST_TEST(h.closed_seen);
  BOOST_TEST(h.events.substr(h.events.size() - 3) == "MSC");
  BOOST_TEST(h.Say("RSET\r\n").empty());
  BOOST_TEST(h.envelopes.empty());
}

BOOST_AUTO_TEST_CASE(every_mail_of_a_session_is_counted) {
  Harness h(SpecRate);
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  h.Say("MAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(h.MailCheck(ipc::MailVerdict::kAllowed) == kSenderOk);
  BOOST_TEST(h.Say("RSET\r\n") == kOk);
  h.Say("MAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(h.mail_checks.size() == 2u);
  BOOST_TEST(h.MailCheck(ipc::MailVerdict::kRateLimitExceeded) == kRateExceeded);
  BOOST_TEST(h.closed_seen);
}

BOOST_AUTO_TEST_CASE(a_mail_refused_for_another_reason_is_not_counted) {
  Harness h([](ListenerConfig& l) {
    SpecRate(l);
    l.max_message_size = 1000;
  });
  h.Start();
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == kSendHelloFirst);
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<bad address>\r\n") == "501 5.1.7 Invalid address\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org> SIZE=1001\r\n") == kMessageTooBig);
  BOOST_TEST(h.mail_checks.empty());
  h.Say("MAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(h.MailCheck(ipc::MailVerdict::kAllowed) == kSenderOk);
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == "503 5.5.2 Sender already specified\r\n");
  BOOST_TEST(h.mail_checks.size() == 1u);
}

// master still decides about its resources where it counts nothing.
BOOST_AUTO_TEST_CASE(a_limit_of_zero_still_asks_master) {
  Harness h([](ListenerConfig& l) { l.message_rate_limit = 0; });
  h.auto_allow_mail = false;
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n").empty());
  BOOST_REQUIRE(h.mail_checks.size() == 1u);
  BOOST_TEST(h.mail_checks.at(0).rate_key == "ip:192.0.2.10");
  BOOST_TEST(h.MailCheck(ipc::MailVerdict::kAllowed) == kSenderOk);
}

BOOST_AUTO_TEST_CASE(relay_listeners_count_per_address_before_authentication) {
  ClientInfo client = DefaultClient();
  client.address = "2001:db8::5";
  Harness h(
      [](ListenerConfig& l) {
        l.name = "submission";
        l.role = Role::kRelay;
        l.message_rate_limit = 5;
      },
      client);
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  h.Say("MAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(h.mail_checks.size() == 1u);
  BOOST_TEST(h.mail_checks.at(0).listener == "submission");
  BOOST_TEST(h.mail_checks.at(0).rate_key == "ip:2001:db8::5");
}

BOOST_AUTO_TEST_CASE(inactivity_is_suspended_while_waiting_for_the_rate_answer) {
  Harness h(SpecRate);
  TimePoint start = h.clock().Now();
  h.Start();
  h.Say("EHLO client.example.net\r\nMAIL FROM:<a@example.org>\r\n");
  BOOST_TEST((h.session().NextDeadline() == start + minutes(5)));
  BOOST_TEST(h.Advance(seconds(90)).empty());
  BOOST_TEST(h.MailCheck(ipc::MailVerdict::kAllowed) == kSenderOk);
  BOOST_TEST((h.session().NextDeadline() == h.clock().Now() + minutes(1)));
}

BOOST_AUTO_TEST_CASE(connection_timeout_while_waiting_for_the_rate_answer) {
  Harness h(SpecRate);
  h.Start();
  h.Say("EHLO client.example.net\r\nMAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(h.Advance(minutes(5)) == "421 4.4.1 Connection timed out\r\n");
  BOOST_TEST(h.closed_seen);
  // The answer comes too late and is ignored.
  BOOST_TEST(h.MailCheck(ipc::MailVerdict::kAllowed).empty());
}

BOOST_AUTO_TEST_CASE(an_answer_nobody_waits_for_is_ignored) {
  Harness h(SpecRate);
  h.Start();
  BOOST_TEST(h.MailCheck(ipc::MailVerdict::kRateLimitExceeded).empty());
  h.Say("EHLO client.example.net\r\nMAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(h.MailCheck(ipc::MailVerdict::kAllowed) == kSenderOk);
  BOOST_TEST(h.MailCheck(ipc::MailVerdict::kRateLimitExceeded).empty());
  BOOST_TEST(!h.closed_seen);
  BOOST_TEST(h.Say("RCPT TO:<b@example.test>\r\n") == kRecipientOk);
}

BOOST_AUTO_TEST_CASE(the_refusal_is_tarpitted_like_any_mail_error) {
  Harness h([](ListenerConfig& l) {
    SpecRate(l);
    l.tarpit_interval = seconds(5);
  });
  h.Start();
  h.Say("EHLO client.example.net\r\nMAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(h.MailCheck(ipc::MailVerdict::kRateLimitExceeded).empty());
  BOOST_TEST(h.session().input_paused());
  BOOST_TEST(h.Advance(seconds(4)).empty());
  BOOST_TEST(!h.closed_seen);
  BOOST_TEST(h.Advance(seconds(1)) == kRateExceeded);
  BOOST_TEST(h.closed_seen);
}

BOOST_AUTO_TEST_CASE(an_allowed_mail_is_not_tarpitted) {
  Harness h([](ListenerConfig& l) {
    SpecRate(l);
    l.tarpit_interval = seconds(5);
  });
  h.Start();
  h.Say("EHLO client.example.net\r\nMAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(h.MailCheck(ipc::MailVerdict::kAllowed) == kSenderOk);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// MS-OXSMTP 3.2.5 MAIL "System resources are not available" and 3.2.7
// OutOfResources at MAIL: master answers kInsufficientResources.
BOOST_AUTO_TEST_SUITE(session_mail_resources)

const std::string kInsufficient = "452 4.3.1 Insufficient system resources\r\n";

std::unique_ptr<Harness> Asking(Harness::Adjust adjust = {}) {
  auto h = std::make_unique<Harness>(std::move(adjust));
  h->auto_allow_mail = false;
  h->Start();
  h->Say("EHLO client.example.net\r\n");
  return h;
}

BOOST_AUTO_TEST_CASE(a_mail_refused_for_resources_gets_452_and_the_session_goes_on) {
  auto h = Asking();
  BOOST_TEST(h->Say("MAIL FROM:<a@example.org>\r\n").empty());
  BOOST_TEST(h->session().input_paused());
  BOOST_TEST(h->MailCheck(ipc::MailVerdict::kInsufficientResources) == kInsufficient);
  BOOST_TEST(!h->closed_seen);
  BOOST_TEST(!h->session().input_paused());
  // No sender was accepted: the transaction has not begun.
  BOOST_TEST(h->Say("RCPT TO:<b@example.test>\r\n") == kNeedMail);
  // The client may try again, and is served once master has room.
  BOOST_TEST(h->Say("MAIL FROM:<a@example.org>\r\n").empty());
  BOOST_TEST(h->MailCheck(ipc::MailVerdict::kAllowed) == kSenderOk);
  BOOST_TEST(h->Say("RCPT TO:<b@example.test>\r\n") == kRecipientOk);
  BOOST_TEST(h->mail_checks.size() == 2u);
}

BOOST_AUTO_TEST_CASE(pipelined_commands_behind_a_refused_mail_are_answered_in_order) {
  auto h = Asking();
  BOOST_TEST(h->Say("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n").empty());
  BOOST_TEST(h->MailCheck(ipc::MailVerdict::kInsufficientResources) ==
             kInsufficient + kNeedMail + kNeedMail);
  BOOST_TEST(h->envelopes.empty());
}

BOOST_AUTO_TEST_CASE(the_452_is_tarpitted_like_any_mail_error) {
  auto h = Asking([](ListenerConfig& l) { l.tarpit_interval = seconds(5); });
  h->Say("MAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(h->MailCheck(ipc::MailVerdict::kInsufficientResources).empty());
  BOOST_TEST(h->session().input_paused());
  BOOST_TEST(h->Advance(seconds(4)).empty());
  BOOST_TEST(h->Advance(seconds(1)) == kInsufficient);
  BOOST_TEST(!h->closed_seen);
  BOOST_TEST(h->Say("NOOP\r\n") == kOk);
}

BOOST_AUTO_TEST_CASE(the_452_is_not_a_protocol_error) {
  auto h = Asking([](ListenerConfig& l) { l.max_protocol_errors = 1; });
  for (int i = 0; i < 3; ++i) {
    h->Say("MAIL FROM:<a@example.org>\r\n");
    BOOST_TEST(h->MailCheck(ipc::MailVerdict::kInsufficientResources) == kInsufficient);
  }
  BOOST_TEST(!h->closed_seen);
}

BOOST_AUTO_TEST_CASE(a_mail_refused_before_the_check_asks_nothing) {
  auto h = Asking();
  BOOST_TEST(h->Say("MAIL FROM:<bad address>\r\n") == "501 5.1.7 Invalid address\r\n");
  BOOST_TEST(h->mail_checks.empty());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(session_pipelining)

BOOST_AUTO_TEST_CASE(a_batch_is_answered_in_order_in_one_write) {
  Harness h;
  h.Start();
  std::string out = h.Say(
      "EHLO client.example.net\r\n"
      "MAIL FROM:<a@example.org>\r\n"
      "RCPT TO:<bad>\r\n"
      "RCPT TO:<b@example.test>\r\n"
      "FROB\r\n"
      "RCPT TO:<x@elsewhere.example>\r\n"
      "DATA\r\n");
  BOOST_TEST(out == kEhloReply + kSenderOk + "501 5.1.3 Invalid address\r\n" + kRecipientOk +
                        kUnrecognized + "550 5.7.1 Unable to relay\r\n" + kGoAhead);
  // The replies after MAIL wait for master's answer (M), then leave in one
  // write up to DATA; 354 follows BeginMessage.
  BOOST_TEST(h.events == "SSMSBS");
  BOOST_TEST(h.envelopes.at(0).recipients.size() == 1u);
}

BOOST_AUTO_TEST_CASE(commands_pipelined_past_the_end_of_data_wait_for_the_queue) {
  Harness h;
  h.Start();
  std::string out = h.Say(
      "EHLO client.example.net\r\n"
      "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n"
      "Subject: one\r\n\r\n1\r\n.\r\n"
      "MAIL FROM:<a@example.org>\r\nRCPT TO:<c@example.test>\r\nDATA\r\n"
      "Subject: two\r\n\r\n2\r\n.\r\n"
      "QUIT\r\n");
  BOOST_TEST(out == kEhloReply + kSenderOk + kRecipientOk + kGoAhead);
  BOOST_TEST(h.session().input_paused());
  BOOST_TEST(h.ends == 1);
  BOOST_TEST(h.Queue() == h.Queued(0) + kSenderOk + kRecipientOk + kGoAhead);
  BOOST_TEST(h.ends == 2);
  BOOST_TEST(h.Body() == "Subject: two\r\n\r\n2\r\n");
  BOOST_TEST(h.Queue() == h.Queued(1) + kBye);
  BOOST_TEST(h.closed_seen);
}

BOOST_AUTO_TEST_CASE(a_large_backlog_pauses_input) {
  Harness h;
  h.Open();
  h.Say("DATA\r\nx\r\n.\r\n");
  BOOST_TEST(h.session().input_paused());
  std::string noops;
  while (noops.size() <= 70000) noops += "NOOP\r\n";
  h.Say(noops);
  BOOST_TEST(h.session().input_paused());
  std::string out = h.Queue();
  BOOST_TEST(out.size() == h.Queued().size() + (noops.size() / 6) * kOk.size());
  BOOST_TEST(!h.session().input_paused());
}

// A client that pipelines commands and never reads the replies (issue 8:
// one such client grew a worker to 1.9 GB) gets 16 KB of replies, then the
// session reads nothing more until they are written.
BOOST_AUTO_TEST_CASE(replies_a_client_does_not_read_stop_the_session_at_16_kb) {
  Harness h;
  h.auto_write_output = false;
  h.Open();
  std::string ehlos;
  while (ehlos.size() < 60000) ehlos += "EHLO a\r\n";
  std::string out = h.Say(ehlos);
  size_t ehlo_reply = h.Say("").size();  // nothing more comes without a write
  BOOST_TEST(ehlo_reply == 0u);
  BOOST_TEST(out.size() >= 16u * 1024);
  BOOST_TEST(out.size() < 16u * 1024 + 1024);  // 16 KB and the reply that crossed it
  BOOST_TEST(h.session().input_paused());
  // Each written batch releases the next 16 KB, until every EHLO is answered.
  size_t total = out.size();
  size_t batches = 1;
  while (h.session().input_paused()) {
    h.session().OutputWritten();
    std::string batch = h.Say("");
    BOOST_REQUIRE(!batch.empty());
    BOOST_TEST(batch.size() < 16u * 1024 + 1024);
    total += batch.size();
    ++batches;
  }
  Harness one;
  one.Open();
  size_t one_reply = one.Say("EHLO a\r\n").size();
  BOOST_TEST(total == (ehlos.size() / 8) * one_reply);
  BOOST_TEST(batches > 10u);
  BOOST_TEST(h.Say("NOOP\r\n") == kOk);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(session_hostile_input)

const std::string kSmuggled =
    "MAIL FROM:<evil@example.org>\r\n"
    "RCPT TO:<victim@example.test>\r\n"
    "DATA\r\n"
    "Subject: smuggled\r\n\r\nx\r\n.\r\n";

// bare_newline = reject: every fake end refuses the whole message.
BOOST_AUTO_TEST_CASE(smuggling_attempts_stay_inside_the_message) {
  for (const std::string& fake_end : {std::string("\n.\n"), std::string("\n.\r\n"),
                                      std::string("\r\n.\n"), std::string("\r.\r\n")}) {
    BOOST_TEST_CONTEXT(fake_end.size()) {
      Harness h([](ListenerConfig& l) { l.bare_newline = BareNewline::kReject; });
      h.Open();
      h.Say("DATA\r\n");
      std::string out = h.Say("Subject: hi\r\n\r\nbody" + fake_end + kSmuggled);
      BOOST_TEST(out == kBareLf);
      BOOST_TEST(h.envelopes.size() == 1u);
      BOOST_TEST(h.ends == 0);
      BOOST_TEST(h.aborts == 1);
      // The session goes on; the next message is accepted.
      BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == kSenderOk);
    }
  }
}

// bare_newline = normalize (the default): a fake end with a bare LF is an
// empty line of one message that holds the smuggled commands as text; one
// with a bare CR is refused as in reject mode.
BOOST_AUTO_TEST_CASE(smuggling_attempts_are_content_when_normalizing) {
  for (const std::string& fake_end :
       {std::string("\n.\n"), std::string("\n.\r\n"), std::string("\r\n.\n")}) {
    BOOST_TEST_CONTEXT(fake_end.size() << (fake_end[0] == '\n' ? " LF" : " CRLF")) {
      Harness h;
      h.Open();
      h.Say("DATA\r\n");
      BOOST_TEST(h.Say("Subject: hi\r\n\r\nbody" + fake_end + kSmuggled) == "");
      BOOST_TEST(h.Queue() == h.Queued());
      BOOST_TEST(h.envelopes.size() == 1u);
      BOOST_TEST(h.ends == 1);
      BOOST_TEST(h.Body() ==
                 "Subject: hi\r\n\r\nbody\r\n\r\n" + kSmuggled.substr(0, kSmuggled.size() - 3));
    }
  }
  Harness h;
  h.Open();
  h.Say("DATA\r\n");
  BOOST_TEST(h.Say("Subject: hi\r\n\r\nbody\r.\r\n" + kSmuggled) == kBareLf);
  BOOST_TEST(h.envelopes.size() == 1u);
  BOOST_TEST(h.aborts == 1);
}

// Issue 8 point 7: what curl -T sends for a text file with LF line ends.
BOOST_AUTO_TEST_CASE(lf_lines_are_stored_with_crlf_when_normalizing) {
  Harness h;
  h.Open();
  BOOST_TEST(h.Say("DATA\r\nSubject: note\n\nfirst\n..dotted\nlast\n\r\n.\r\n") == kGoAhead);
  BOOST_TEST(h.Queue() == h.Queued());
  BOOST_TEST(h.Body() == "Subject: note\r\n\r\nfirst\r\n.dotted\r\nlast\r\n\r\n");
  // Command lines still end only with CRLF.
  BOOST_TEST(h.Say("NOOP\nNOOP\r\n") ==
             "500 5.5.2 Command line contains NUL, bare CR or bare LF\r\n");
}

BOOST_AUTO_TEST_CASE(bare_cr_in_content_is_refused) {
  Harness h;
  h.Open();
  BOOST_TEST(h.Say("DATA\r\nSubject: x\r\n\r\na\rb\r\n.\r\n") == kGoAhead + kBareLf);
}

BOOST_AUTO_TEST_CASE(nul_bytes_in_a_command) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Say(std::string("NOOP\0\r\n", 7)) ==
             "500 5.5.2 Command line contains NUL, bare CR or bare LF\r\n");
  BOOST_TEST(h.Say("NOOP\nMAIL FROM:<a@example.org>\r\n") ==
             "500 5.5.2 Command line contains NUL, bare CR or bare LF\r\n");
}

BOOST_AUTO_TEST_CASE(over_long_lines) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Say("NOOP " + std::string(505, 'x') + "\r\n") == kOk);  // 512 with CRLF
  BOOST_TEST(h.Say("NOOP " + std::string(506, 'x') + "\r\nNOOP\r\n") ==
             "500 5.5.2 Line too long\r\n" + kOk);
  // A long line in many pieces: one reply, nothing kept.
  BOOST_TEST(h.Say(std::string(300, 'a')).empty());
  BOOST_TEST(h.Say(std::string(300, 'a')) == "500 5.5.2 Line too long\r\n");
  for (int i = 0; i < 100; ++i) {
    BOOST_REQUIRE(h.Say(std::string(10000, 'a')).empty());
    BOOST_REQUIRE(!h.session().input_paused());
  }
  BOOST_TEST(h.Say("\r\nNOOP\r\n") == kOk);
}

BOOST_AUTO_TEST_CASE(binary_garbage_gets_replies_and_never_a_crash) {
  Harness h([](ListenerConfig& l) { l.max_protocol_errors = 0; });
  h.Start();
  uint32_t state = 12345;
  std::string garbage;
  for (int i = 0; i < 200000; ++i) {
    state = state * 1103515245u + 12345u;
    garbage.push_back(static_cast<char>(state >> 16));
    if (i % 97 == 0) garbage += "\r\n";
  }
  std::string out = h.Say(garbage);
  BOOST_TEST(!out.empty());
  // Every reply line is "DDD " or "DDD-" followed by text and CRLF.
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find("\r\n", start);
    BOOST_REQUIRE(end != std::string::npos);
    std::string line = out.substr(start, end - start);
    BOOST_REQUIRE(line.size() >= 4u);
    BOOST_TEST((line[3] == ' ' || line[3] == '-'));
    start = end + 2;
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(session_bdat)

BOOST_AUTO_TEST_CASE(chunks_then_last) {
  Harness h;
  h.Open();
  BOOST_TEST(h.Say("BDAT 17\r\nSubject: x\r\n\r\nhel") == "250 2.0.0 17 octets received\r\n");
  BOOST_TEST(h.Say("BDAT 10 LAST\r\nlo\r\n.\r\nend").empty());
  BOOST_TEST(h.ends == 1);
  BOOST_TEST(h.Body() == "Subject: x\r\n\r\nhello\r\n.\r\nend");
  BOOST_TEST(h.Queue() == h.Queued());
  BOOST_TEST(h.Say("BDAT 1 LAST\r\nx") == kNeedMail);
}

BOOST_AUTO_TEST_CASE(bdat_zero_last) {
  Harness h;
  h.Open();
  h.Say("BDAT 6\r\nA: b\r\n");
  BOOST_TEST(h.Say("BDAT 0 LAST\r\n").empty());
  BOOST_TEST(h.ends == 1);
  BOOST_TEST(h.Body() == "A: b\r\n");
  h.Queue();
  h.Say("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\n");
  BOOST_TEST(h.Say("BDAT 0 LAST\r\n").empty());
  BOOST_TEST(h.ends == 2);
  BOOST_TEST(h.Body().empty());
}

BOOST_AUTO_TEST_CASE(a_chunk_split_between_cr_and_lf) {
  Harness h;
  h.Open();
  h.Say("BDAT 5\r\nA: b\r");
  h.Say("BDAT 3 LAST\r\n\n\r\n");
  BOOST_TEST(h.ends == 1);
  BOOST_TEST(h.Body() == "A: b\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(pipelined_chunks) {
  Harness h;
  h.Start();
  std::string out = h.Say(
      "EHLO client.example.net\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\n"
      "BDAT 3\r\nabcBDAT 3\r\ndefBDAT 2 LAST\r\n\r\nNOOP\r\n");
  BOOST_TEST(out == kEhloReply + kSenderOk + kRecipientOk + "250 2.0.0 3 octets received\r\n" +
                        "250 2.0.0 3 octets received\r\n");
  BOOST_TEST(h.Queue() == h.Queued() + kOk);
  BOOST_TEST(h.Body() == "abcdef\r\n");
}

BOOST_AUTO_TEST_CASE(a_refused_chunk_is_read_and_dropped) {
  Harness h;
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  // The chunk holds command-like text that must not be obeyed.
  BOOST_TEST(h.Say("BDAT 6\r\nQUIT\r\n") == kNeedMail);
  BOOST_TEST(!h.closed_seen);
  h.Say("MAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(h.Say("BDAT 6 LAST\r\nQUIT\r\n") == kNeedRcpt);
  BOOST_TEST(h.envelopes.empty());
  BOOST_TEST(h.Say("NOOP\r\n") == kOk);
}

BOOST_AUTO_TEST_CASE(bdat_before_hello_and_after_helo) {
  Harness h;
  h.Start();
  BOOST_TEST(h.Say("BDAT 4\r\nQUIT") == kSendHelloFirst);
  h.Say("HELO client.example.net\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\n");
  BOOST_TEST(h.Say("BDAT 6\r\nQUIT\r\n") == "502 5.5.1 Command not implemented\r\n");
  BOOST_TEST(!h.closed_seen);
}

BOOST_AUTO_TEST_CASE(bdat_when_chunking_is_switched_off) {
  Harness h([](ListenerConfig& l) { l.advertise_chunking = false; });
  h.Open();
  BOOST_TEST(h.Say("BDAT 6\r\nQUIT\r\n") == "502 5.5.1 Command not implemented\r\n");
  h.Say("RSET\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org> BODY=BINARYMIME\r\n") ==
             "501 5.5.4 Invalid arguments\r\n");
}

BOOST_AUTO_TEST_CASE(bdat_syntax) {
  Harness h;
  h.Open();
  BOOST_TEST(h.Say("BDAT\r\n") == kSyntax);
  BOOST_TEST(h.Say("BDAT ten\r\n") == kSyntax);
  BOOST_TEST(h.Say("BDAT 5 FIRST\r\n") == kSyntax);
  BOOST_TEST(h.envelopes.empty());
}

BOOST_AUTO_TEST_CASE(data_after_bdat) {
  Harness h;
  h.Open();
  h.Say("BDAT 2\r\nab");
  BOOST_TEST(h.Say("DATA\r\n") == kBadSequence);
}

BOOST_AUTO_TEST_CASE(binarymime_needs_bdat) {
  Harness h;
  h.Open(" BODY=BINARYMIME");
  BOOST_TEST(h.Say("DATA\r\n") == kBadSequence);
  std::string binary = std::string("A: b\r\n\r\n\0\n\r\xff\n", 12);
  BOOST_TEST(h.Say("BDAT 12 LAST\r\n" + binary).empty());
  BOOST_TEST(h.ends == 1);
  BOOST_TEST((h.envelopes[0].body == BodyType::kBinaryMime));
  BOOST_TEST(h.Body() == binary);
}

BOOST_AUTO_TEST_CASE(rset_in_the_middle) {
  Harness h;
  h.Open();
  h.Say("BDAT 3\r\nabc");
  BOOST_TEST(h.Say("RSET\r\n") == kOk);
  BOOST_TEST(h.aborts == 1);
  BOOST_TEST(h.Say("BDAT 3 LAST\r\nabc") == kNeedMail);
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == kSenderOk);
}

BOOST_AUTO_TEST_CASE(quit_in_the_middle) {
  Harness h;
  h.Open();
  h.Say("BDAT 3\r\nabc");
  BOOST_TEST(h.Say("QUIT\r\n") == kBye);
  BOOST_TEST(h.aborts == 1);
}

BOOST_AUTO_TEST_CASE(size_limit_across_chunks_ends_the_session) {
  Harness h([](ListenerConfig& l) { l.max_message_size = 100; });
  h.Open();
  BOOST_TEST(h.Say("BDAT 60\r\n\r\n" + std::string(58, 'a')) == "250 2.0.0 60 octets received\r\n");
  BOOST_TEST(h.Say("BDAT 41\r\n" + std::string(41, 'b')) == kMessageTooBig);
  BOOST_TEST(h.aborts == 1);
  BOOST_TEST(h.closed_seen);
}

BOOST_AUTO_TEST_CASE(bare_lf_in_chunks_is_refused_at_the_last_chunk) {
  Harness h;
  h.Open();
  BOOST_TEST(h.Say("BDAT 7\r\nA: b\n\r\n") == "250 2.0.0 7 octets received\r\n");
  BOOST_TEST(h.aborts == 1);
  BOOST_TEST(h.Say("BDAT 3 LAST\r\nx\r\n") == kBareLf);
  BOOST_TEST(!h.closed_seen);
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == kSenderOk);
}

BOOST_AUTO_TEST_CASE(hop_count_in_chunks) {
  Harness h;
  h.Open();
  std::string hops = Hops(61, "relay.example.org") + "\r\n";
  BOOST_TEST(h.Say("BDAT " + std::to_string(hops.size()) + "\r\n" + hops) ==
             "554 5.4.6 Hop count exceeded - possible mail loop\r\n");
  BOOST_TEST(h.closed_seen);
}

BOOST_AUTO_TEST_CASE(eof_aborts_an_open_stream) {
  Harness h;
  h.Open();
  h.Say("BDAT 100\r\nabc");
  BOOST_TEST(h.Eof().empty());
  BOOST_TEST(h.aborts == 1);
  BOOST_TEST(h.closed_seen);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(session_end)

BOOST_AUTO_TEST_CASE(eof_in_data_aborts) {
  Harness h;
  h.Open();
  h.Say("DATA\r\nSubject: x\r\n");
  BOOST_TEST(h.Eof().empty());
  BOOST_TEST(h.events.substr(h.events.size() - 2) == "AC");
}

BOOST_AUTO_TEST_CASE(eof_between_commands_just_closes) {
  Harness h;
  h.Start();
  h.Eof();
  BOOST_TEST(h.events == "SC");
  BOOST_TEST(h.session().closed());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// The same bytes, cut anywhere, give the same dialogue.
BOOST_AUTO_TEST_SUITE(session_input_splitting)

const std::string kScript =
    "EHLO client.example.net\r\n"
    "MAIL FROM:<alice@example.org> SIZE=100\r\n"
    "RCPT TO:<bob@example.test> NOTIFY=NEVER\r\n"
    "RCPT TO:<nobody@elsewhere.example>\r\n"
    "DATA\r\n"
    "Subject: split\r\n\r\n..stuffed\r\nline\r\n.\r\n"
    "NOOP\r\n"
    "MAIL FROM:<> BODY=BINARYMIME\r\n"
    "RCPT TO:<carol@example.test>\r\n"
    "BDAT 5\r\nab\r\nc"
    "BDAT 4 LAST\r\n\r\n.\n"
    "RSET\r\n"
    "QUIT\r\n";

struct Transcript {
  std::string replies;
  std::vector<std::string> messages;
};

// Runs the script cut at `cuts`, answering each EndMessage at once, with
// queue ids replaced by QID0, QID1, ...
Transcript Run(const std::vector<size_t>& cuts) {
  Harness h;
  Transcript t;
  t.replies = h.Start();
  size_t start = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(kScript.size());
  for (size_t end : ends) {
    t.replies += h.Say(kScript.substr(start, end - start));
    while (h.queue_answers < h.ends) t.replies += h.Queue();
    start = end;
  }
  t.messages = h.messages;
  for (size_t i = 0; i < h.envelopes.size(); ++i) {
    const std::string& id = h.envelopes[i].queue_id;
    auto replace = [&](std::string& text) {
      for (size_t at = text.find(id); at != std::string::npos; at = text.find(id))
        text.replace(at, id.size(), "QID" + std::to_string(i));
    };
    replace(t.replies);
    for (std::string& m : t.messages) replace(m);
  }
  return t;
}

BOOST_AUTO_TEST_CASE(the_script_itself) {
  Transcript t = Run({});
  BOOST_TEST(t.replies == kBanner + kEhloReply + kSenderOk + kRecipientOk +
                              "550 5.7.1 Unable to relay\r\n" + kGoAhead +
                              "250 2.6.0 QID0 Queued mail for delivery\r\n" + kOk + kSenderOk +
                              kRecipientOk + "250 2.0.0 5 octets received\r\n" +
                              "250 2.6.0 QID1 Queued mail for delivery\r\n" + kOk + kBye);
  BOOST_REQUIRE(t.messages.size() == 2u);
  BOOST_TEST(t.messages[0].substr(t.messages[0].find(kDate) + kDate.size()) ==
             "\r\nSubject: split\r\n\r\n.stuffed\r\nline\r\n");
  BOOST_TEST(t.messages[1].substr(t.messages[1].find(kDate) + kDate.size()) ==
             "\r\nab\r\nc\r\n.\n");
}

BOOST_AUTO_TEST_CASE(byte_by_byte) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < kScript.size(); ++i) cuts.push_back(i);
  Transcript whole = Run({});
  Transcript bytewise = Run(cuts);
  BOOST_TEST(bytewise.replies == whole.replies);
  BOOST_TEST(bytewise.messages == whole.messages);
}

BOOST_AUTO_TEST_CASE(every_single_cut) {
  Transcript whole = Run({});
  for (size_t cut = 1; cut < kScript.size(); ++cut) {
    Transcript split = Run({cut});
    BOOST_TEST_CONTEXT("cut at " << cut) {
      BOOST_TEST(split.replies == whole.replies);
      BOOST_TEST(split.messages == whole.messages);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
