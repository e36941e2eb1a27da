// tests/lib/smtp/client_session_test.cc — the SMTP client session's connection:
// greeting, EHLO/HELO, STARTTLS, AUTH, timeouts, 421 and the repairs of
// MS-OXSMTP 3.2.5 rows, driven with byte strings and a FakeClock.
//
// Commands are typed from RFC 5321, 3207, 4954 and [MS-SMTP]; server
// replies from the same and from MS-OXSMTP 3.2.5.
#include <random>

#include "tests/lib/smtp/client_harness.h"

namespace postern {
namespace {

using namespace postern::testing;  // NOLINT: the harness is this file's vocabulary

const std::string kTlsEhloReply =
    "250-mx.example.org Hello relay.example.test\r\n"
    "250-PIPELINING\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250 STARTTLS\r\n";

ClientHarness::Adjust WithCredentials(RelayTls tls = RelayTls::kMay) {
  return [tls](ClientSettings& s) {
    s.tls = tls;
    s.credentials = true;
  };
}

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(client_greeting)

BOOST_AUTO_TEST_CASE(greeting_ehlo_then_ready_and_quit) {
  ClientHarness h;
  BOOST_TEST(h.Start() == "");
  BOOST_TEST(h.Say(kGreeting) == "EHLO relay.example.test\r\n");
  BOOST_TEST(h.Say(kPlainEhloReply) == "");
  BOOST_TEST(h.events == "SR");
  BOOST_TEST(h.Quit() == "QUIT\r\n");
  BOOST_TEST(h.Say("221 2.0.0 Bye\r\n") == "");
  BOOST_REQUIRE(h.end.has_value());
  BOOST_TEST(h.end->completed);
  BOOST_TEST(h.session().closed());
}

BOOST_AUTO_TEST_CASE(a_message_given_before_the_greeting_goes_after_ehlo) {
  ClientHarness h;
  h.Start();
  BOOST_TEST(h.Deliver(Message("Q1", {"bob@example.net"})) == "");
  h.Say(kGreeting);
  BOOST_TEST(h.Say(kPlainEhloReply) == "MAIL FROM:<alice@example.org> SIZE=20\r\n");
}

BOOST_AUTO_TEST_CASE(a_refused_greeting_defers_and_quits) {
  ClientHarness h;
  h.Start();
  h.Deliver(Message("Q1", {"bob@example.net"}));
  BOOST_TEST(h.Say("554 mx.example.org no service here\r\n") == "QUIT\r\n");
  std::vector<std::string> results = {"0:Q:554 mx.example.org no service here"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
  h.Say("221 Bye\r\n");
  BOOST_TEST(!h.end->completed);
  BOOST_TEST(h.end->reason.ToString() == "554 mx.example.org no service here");
}

BOOST_AUTO_TEST_CASE(ehlo_refused_with_500_or_502_falls_back_to_helo) {
  for (std::string refusal : {"500 5.5.1 Command unrecognized\r\n", "502 Not implemented\r\n"}) {
    BOOST_TEST_CONTEXT(refusal) {
      ClientHarness h;
      h.Start();
      h.Say(kGreeting);
      BOOST_TEST(h.Say(refusal) == "HELO relay.example.test\r\n");
      BOOST_TEST(h.Say("250 mx.example.org\r\n") == "");
      BOOST_TEST(h.readies == 1);
      // No extension after HELO: no SIZE=, one command at a time.
      BOOST_TEST(h.Deliver(Message("Q1", {"bob@example.net"})) ==
                 "MAIL FROM:<alice@example.org>\r\n");
      BOOST_TEST(h.Say("250 OK\r\n") == "RCPT TO:<bob@example.net>\r\n");
    }
  }
}

BOOST_AUTO_TEST_CASE(ehlo_refused_otherwise_defers) {
  ClientHarness h;
  h.Start();
  h.Deliver(Message("Q1", {"bob@example.net"}));
  h.Say(kGreeting);
  BOOST_TEST(h.Say("554 5.7.1 go away\r\n") == "QUIT\r\n");
  std::vector<std::string> results = {"0:Q:554 5.7.1 go away"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(helo_refused_defers) {
  ClientHarness h;
  h.Start();
  h.Deliver(Message("Q1", {"bob@example.net"}));
  h.Say(kGreeting);
  h.Say("502 no\r\n");
  BOOST_TEST(h.Say("501 who are you\r\n") == "QUIT\r\n");
  std::vector<std::string> results = {"0:Q:501 who are you"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_message_after_the_end_is_deferred_at_once) {
  ClientHarness h;
  h.Start();
  h.Say("421 4.3.2 shutting down\r\n");
  BOOST_TEST(h.Deliver(Message("Q1", {"bob@example.net"})) == "");
  std::vector<std::string> results = {"0:Q:421 4.3.2 shutting down"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(client_starttls)

BOOST_AUTO_TEST_CASE(starttls_when_offered_then_ehlo_again) {
  ClientHarness h;
  BOOST_TEST(h.Connect(kTlsEhloReply) == "STARTTLS\r\n");
  BOOST_TEST(h.Say("220 2.0.0 Ready to start TLS\r\n") == "");
  BOOST_TEST(h.tls_starts == 1);
  BOOST_TEST(h.Tls() == "EHLO relay.example.test\r\n");
  // Under TLS the server no longer offers STARTTLS; the session is ready.
  BOOST_TEST(h.Say(kPipeliningEhloReply) == "");
  BOOST_TEST(h.readies == 1);
}

BOOST_AUTO_TEST_CASE(cleartext_after_the_220_is_never_read_as_a_reply) {
  ClientHarness h;
  h.Connect(kTlsEhloReply);
  BOOST_TEST(h.Say("220 Ready\r\n250 injected\r\n") == "");
  BOOST_TEST(h.Say("250 more injected\r\n") == "");
  BOOST_TEST(h.Tls() == kEhlo);
  // The first reply read under TLS answers the EHLO.
  BOOST_TEST(h.Say(kPlainEhloReply) == "");
  BOOST_TEST(h.readies == 1);
  BOOST_TEST(!h.end.has_value());
}

BOOST_AUTO_TEST_CASE(policy_none_never_starts_tls) {
  ClientHarness h([](ClientSettings& s) { s.tls = RelayTls::kNone; });
  BOOST_TEST(h.Connect(kTlsEhloReply) == "");
  BOOST_TEST(h.readies == 1);
}

BOOST_AUTO_TEST_CASE(encrypt_or_verify_without_starttls_defers_with_4_7_4) {
  for (RelayTls tls : {RelayTls::kEncrypt, RelayTls::kVerify}) {
    ClientHarness h([tls](ClientSettings& s) { s.tls = tls; });
    h.Start();
    h.Deliver(Message("Q1", {"bob@example.net"}));
    h.Say(kGreeting);
    BOOST_TEST(h.Say(kPipeliningEhloReply) == "QUIT\r\n");
    std::vector<std::string> results = {
        "0:Q:4.7.4 TLS is required, but the server did not offer STARTTLS"};
    BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
    h.Say("221 Bye\r\n");
    BOOST_TEST(h.end->reason.enhanced == "4.7.4");
  }
}

BOOST_AUTO_TEST_CASE(starttls_refused_goes_on_in_cleartext_under_may_only) {
  ClientHarness may;
  may.Connect(kTlsEhloReply);
  BOOST_TEST(may.Say("454 4.7.0 TLS not available\r\n") == "");
  BOOST_TEST(may.readies == 1);

  ClientHarness encrypt([](ClientSettings& s) { s.tls = RelayTls::kEncrypt; });
  encrypt.Connect(kTlsEhloReply);
  BOOST_TEST(encrypt.Say("454 4.7.0 TLS not available\r\n") == "QUIT\r\n");
  encrypt.Say("221 Bye\r\n");
  BOOST_TEST(encrypt.end->reason.ToString() == "454 4.7.0 TLS not available");
}

BOOST_AUTO_TEST_CASE(a_failed_handshake_closes_without_quit) {
  ClientHarness h;
  h.Connect(kTlsEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  h.Say("220 Ready\r\n");
  BOOST_TEST(h.TlsFailed("certificate verify failed") == "");
  BOOST_REQUIRE(h.end.has_value());
  BOOST_TEST(h.end->reason.ToString() == "4.7.5 TLS handshake failed: certificate verify failed");
  std::vector<std::string> results = {"0:Q:4.7.5 TLS handshake failed: certificate verify failed"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(client_auth)

const std::string kAuthEhloReply =
    "250-mx.example.org Hello relay.example.test\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250 AUTH PLAIN LOGIN\r\n";

// Connects, runs STARTTLS, and answers the EHLO under TLS with ehlo_reply.
std::string ConnectTls(ClientHarness& h, const std::string& ehlo_reply) {
  BOOST_TEST(h.Connect(kTlsEhloReply) == "STARTTLS\r\n");
  h.Say("220 Ready\r\n");
  BOOST_TEST(h.Tls() == kEhlo);
  return h.Say(ehlo_reply);
}

BOOST_AUTO_TEST_CASE(login_in_our_preference_order_after_tls) {
  ClientHarness h(WithCredentials());
  BOOST_TEST(ConnectTls(h, kAuthEhloReply) == "");
  // NTLM, LOGIN, PLAIN is our order; the server's does not count.
  std::vector<std::string> starts = {"LOGIN"};
  BOOST_TEST(h.auth_starts == starts, boost::test_tools::per_element());
  BOOST_TEST(h.Auth(std::nullopt) == "AUTH LOGIN\r\n");
  BOOST_TEST(h.Say("334 VXNlcm5hbWU6\r\n") == "");
  BOOST_TEST(h.challenges.back() == "Username:");
  BOOST_TEST(h.Auth("relay") == "cmVsYXk=\r\n");
  h.Say("334 UGFzc3dvcmQ6\r\n");
  BOOST_TEST(h.challenges.back() == "Password:");
  BOOST_TEST(h.Auth("secret") == "c2VjcmV0\r\n");
  BOOST_TEST(h.Say("235 2.7.0 Authentication successful\r\n") == "");
  BOOST_TEST(h.readies == 1);
}

BOOST_AUTO_TEST_CASE(plain_sends_its_initial_response_on_the_auth_line) {
  ClientHarness h([](ClientSettings& s) {
    s.credentials = true;
    s.auth_mechanisms = {"PLAIN"};
  });
  ConnectTls(h, kAuthEhloReply);
  BOOST_TEST(h.Auth(std::string("\0relay\0secret", 13)) == "AUTH PLAIN AHJlbGF5AHNlY3JldA==\r\n");
  h.Say("235 2.7.0 OK\r\n");
  BOOST_TEST(h.readies == 1);

  ClientHarness empty([](ClientSettings& s) {
    s.credentials = true;
    s.auth_mechanisms = {"PLAIN"};
  });
  ConnectTls(empty, kAuthEhloReply);
  BOOST_TEST(empty.Auth(std::string()) == "AUTH PLAIN =\r\n");
}

BOOST_AUTO_TEST_CASE(ntlm_as_ms_smtp_3_1_5_2_says) {
  ClientHarness h(WithCredentials());
  ConnectTls(h, "250-mx.example.org\r\n250 AUTH NTLM LOGIN\r\n");
  BOOST_TEST(h.auth_starts.front() == "NTLM");
  // The NEGOTIATE message waits for "334 NTLM supported", which is no base64.
  BOOST_TEST(h.Auth("NEG") == "AUTH NTLM\r\n");
  BOOST_TEST(h.Say("334 NTLM supported\r\n") == "TkVH\r\n");
  BOOST_TEST(h.Say("334 Q0hBTA==\r\n") == "");
  BOOST_TEST(h.challenges.back() == "CHAL");
  BOOST_TEST(h.Auth("RESP") == "UkVTUA==\r\n");
  h.Say("235 2.7.0 Authentication successful\r\n");
  BOOST_TEST(h.readies == 1);
}

BOOST_AUTO_TEST_CASE(never_over_cleartext_unless_allowed) {
  ClientHarness h(WithCredentials());
  h.Start();
  h.Deliver(Message("Q1", {"bob@example.net"}));
  h.Say(kGreeting);
  BOOST_TEST(h.Say(kAuthEhloReply) == "QUIT\r\n");
  BOOST_TEST(h.auth_starts.empty());
  std::vector<std::string> results = {
      "0:Q:4.7.0 the server offers AUTH without TLS, and AUTH over a cleartext connection is not "
      "allowed"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());

  ClientHarness allowed([](ClientSettings& s) {
    s.credentials = true;
    s.allow_plaintext_auth = true;
  });
  allowed.Connect(kAuthEhloReply);
  std::vector<std::string> starts = {"LOGIN"};
  BOOST_TEST(allowed.auth_starts == starts, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(no_common_mechanism_defers) {
  ClientHarness h(WithCredentials());
  BOOST_TEST(ConnectTls(h, "250-mx.example.org\r\n250 AUTH CRAM-MD5 GSSAPI\r\n") == "QUIT\r\n");
  h.Say("221 Bye\r\n");
  BOOST_TEST(h.end->reason.ToString() ==
             "4.7.0 no common AUTH mechanism: the server offers CRAM-MD5 GSSAPI");
}

BOOST_AUTO_TEST_CASE(a_server_without_auth_is_used_unauthenticated) {
  ClientHarness h(WithCredentials());
  ConnectTls(h, kPipeliningEhloReply);
  BOOST_TEST(h.auth_starts.empty());
  BOOST_TEST(h.readies == 1);
}

BOOST_AUTO_TEST_CASE(a_refused_auth_defers_everything) {
  ClientHarness h(WithCredentials());
  ConnectTls(h, kAuthEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  h.Auth(std::nullopt);
  h.Say("334 VXNlcm5hbWU6\r\n");
  h.Auth("relay");
  h.Say("334 UGFzc3dvcmQ6\r\n");
  h.Auth("wrong");
  BOOST_TEST(h.Say("535 5.7.8 Authentication credentials invalid\r\n") == "QUIT\r\n");
  std::vector<std::string> results = {"0:Q:535 5.7.8 Authentication credentials invalid"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_sasl_client_failure_cancels_the_exchange) {
  ClientHarness h(WithCredentials());
  ConnectTls(h, kAuthEhloReply);
  h.Auth(std::nullopt);
  h.Say("334 VXNlcm5hbWU6\r\n");
  BOOST_TEST(h.AuthFailed("no password") == "*\r\n");
  BOOST_TEST(h.Say("501 5.7.0 Authentication cancelled\r\n") == "QUIT\r\n");
  h.Say("221 Bye\r\n");
  BOOST_TEST(h.end->reason.ToString() ==
             "4.7.0 the SASL client failed for AUTH LOGIN: no password");
}

BOOST_AUTO_TEST_CASE(a_sasl_client_failure_before_the_auth_line_quits) {
  ClientHarness h(WithCredentials());
  ConnectTls(h, kAuthEhloReply);
  BOOST_TEST(h.AuthFailed("no password file") == "QUIT\r\n");
}

BOOST_AUTO_TEST_CASE(a_challenge_that_is_not_base64_is_cancelled) {
  ClientHarness h(WithCredentials());
  ConnectTls(h, kAuthEhloReply);
  h.Auth(std::nullopt);
  BOOST_TEST(h.Say("334 Username:\r\n") == "*\r\n");
  BOOST_TEST(h.challenges.empty());
  BOOST_TEST(h.Say("501 5.7.0 cancelled\r\n") == "QUIT\r\n");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(client_timeouts)

// RFC 5321 4.5.3.2: each wait times out at its limit, not a millisecond
// before, and defers the message without QUIT.
void ExpectTimeout(ClientHarness& h, Duration limit, const std::string& waiting_for) {
  BOOST_TEST(h.Advance(limit - milliseconds(1)) == "");
  BOOST_TEST(!h.end.has_value());
  BOOST_TEST(h.Advance(milliseconds(1)) == "");
  BOOST_REQUIRE(h.end.has_value());
  BOOST_TEST(h.end->reason.ToString() == "4.4.2 timed out waiting for " + waiting_for);
}

BOOST_AUTO_TEST_CASE(initial_greeting_5_minutes) {
  ClientHarness h;
  h.Start();
  h.Deliver(Message("Q1", {"bob@example.net"}));
  ExpectTimeout(h, minutes(5), "the server's greeting");
  std::vector<std::string> results = {"0:Q:4.4.2 timed out waiting for the server's greeting"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(mail_5_minutes) {
  ClientHarness h;
  h.Connect(kPlainEhloReply);
  h.Advance(minutes(30));  // idle between messages: the driver's time, no timer
  BOOST_TEST(!h.end.has_value());
  h.Deliver(Message("Q1", {"bob@example.net"}));
  ExpectTimeout(h, minutes(5), "the reply to MAIL FROM");
}

BOOST_AUTO_TEST_CASE(rcpt_5_minutes) {
  ClientHarness h;
  h.Connect(kPlainEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  h.Say("250 2.1.0 OK\r\n");
  ExpectTimeout(h, minutes(5), "the reply to RCPT TO");
}

BOOST_AUTO_TEST_CASE(data_initiation_2_minutes) {
  ClientHarness h;
  h.Connect(kPlainEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  h.Say("250 2.1.0 OK\r\n");
  BOOST_TEST(h.Say("250 2.1.5 OK\r\n") == "DATA\r\n");
  ExpectTimeout(h, minutes(2), "the reply to DATA");
}

BOOST_AUTO_TEST_CASE(data_block_3_minutes) {
  ClientHarness h;
  h.auto_content = false;
  h.Connect(kPipeliningEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  h.Say("250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 go ahead\r\n");
  BOOST_TEST(h.content_requests.size() == 1u);
  // Each piece supplied restarts the block timer.
  h.Advance(minutes(2));
  h.Content("Subject: x\r\n", false);
  ExpectTimeout(h, minutes(3), "message content to send");
}

BOOST_AUTO_TEST_CASE(data_termination_10_minutes) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  h.Say("250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 go ahead\r\n");
  ExpectTimeout(h, minutes(10), "the reply to the end of the message");
  std::vector<std::string> results = {
      "0:Q:4.4.2 timed out waiting for the reply to the end of the message"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(limits_come_from_the_settings) {
  ClientHarness h([](ClientSettings& s) { s.greeting_timeout = seconds(7); });
  h.Start();
  ExpectTimeout(h, seconds(7), "the server's greeting");
}

BOOST_AUTO_TEST_CASE(the_tls_handshake_has_the_command_timeout) {
  ClientHarness h;
  h.Connect(kTlsEhloReply);
  h.Say("220 Ready\r\n");
  ExpectTimeout(h, minutes(5), "the TLS handshake");
}

BOOST_AUTO_TEST_CASE(a_silent_server_after_quit_is_closed) {
  ClientHarness h;
  h.Connect(kPlainEhloReply);
  h.Quit();
  h.Advance(minutes(5));
  BOOST_REQUIRE(h.end.has_value());
  BOOST_TEST(h.end->completed);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(client_connection_failures)

BOOST_AUTO_TEST_CASE(a_421_anywhere_closes_and_defers_what_is_not_final) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net", "carol@example.net"}));
  h.Deliver(Message("Q2", {"dave@example.net"}));
  BOOST_TEST(h.Say("250 2.1.0 OK\r\n550 5.1.1 no such user\r\n"
                   "421 4.4.2 mx.example.org Connection dropped\r\n") == "");
  BOOST_REQUIRE(h.end.has_value());
  BOOST_TEST(h.outcomes.size() == 2u);
  std::vector<std::string> first = {"0:F:550 5.1.1 no such user",
                                    "1:Q:421 4.4.2 mx.example.org Connection dropped"};
  std::vector<std::string> second = {"0:Q:421 4.4.2 mx.example.org Connection dropped"};
  BOOST_TEST(h.Results() == second, boost::test_tools::per_element());
  h.outcomes.pop_back();
  BOOST_TEST(h.Results() == first, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_unasked_421_while_idle_closes) {
  ClientHarness h;
  h.Connect(kPlainEhloReply);
  BOOST_TEST(h.Say("421 4.4.1 Connection timed out\r\n") == "");
  BOOST_TEST(h.end->reason.ToString() == "421 4.4.1 Connection timed out");
}

BOOST_AUTO_TEST_CASE(a_lost_connection_defers) {
  ClientHarness h;
  h.Connect(kPlainEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  BOOST_TEST(h.PeerClosed() == "");
  std::vector<std::string> results = {
      "0:Q:4.4.2 lost connection with the server while waiting for the reply to MAIL FROM"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(garbage_is_a_protocol_error) {
  ClientHarness h;
  h.Start();
  h.Deliver(Message("Q1", {"bob@example.net"}));
  BOOST_TEST(h.Say("HTTP/1.1 400 Bad Request\r\n") == "");
  std::vector<std::string> results = {
      "0:Q:4.5.0 protocol error: the server sent a reply line that does not start with a reply "
      "code: \"HTTP/1.1 400 Bad Request\""};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_reply_nothing_asked_for_is_a_protocol_error) {
  ClientHarness h;
  h.Connect(kPlainEhloReply);
  h.Say("250 2.0.0 surprise\r\n");
  BOOST_REQUIRE(h.end.has_value());
  BOOST_TEST(h.end->reason.ToString() ==
             "4.5.0 protocol error: the server sent a reply nothing asked for: 250 2.0.0 surprise");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// MS-OXSMTP 3.2.5 rows whose cause the client can remove.
BOOST_AUTO_TEST_SUITE(client_repairs)

BOOST_AUTO_TEST_CASE(send_hello_first_says_ehlo_and_retries_once) {
  ClientHarness h;
  h.Connect(kPlainEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  BOOST_TEST(h.Say("503 5.5.2 Send hello first\r\n") == kEhlo);
  BOOST_TEST(h.Say(kPlainEhloReply) == "MAIL FROM:<alice@example.org> SIZE=20\r\n");
  // A second time the reply decides by its code.
  BOOST_TEST(h.Say("503 5.5.2 Send hello first\r\n") == "");
  std::vector<std::string> results = {"0:F:503 5.5.2 Send hello first"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
  BOOST_TEST(h.readies == 2);
}

BOOST_AUTO_TEST_CASE(a_503_without_enhanced_code_says_ehlo_but_5_5_1_does_not) {
  ClientHarness bare;
  bare.Connect("250-mx.example.org\r\n250 8BITMIME\r\n");
  bare.Deliver(Message("Q1", {"bob@example.net"}));
  BOOST_TEST(bare.Say("503 Polite people say hello first\r\n") == kEhlo);

  ClientHarness sequence;
  sequence.Connect(kPlainEhloReply);
  sequence.Deliver(Message("Q1", {"bob@example.net"}));
  BOOST_TEST(sequence.Say("503 5.5.1 Bad sequence of commands\r\n") == "");
  std::vector<std::string> results = {"0:F:503 5.5.1 Bad sequence of commands"};
  BOOST_TEST(sequence.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(starttls_required_starts_tls_even_when_not_listed) {
  ClientHarness h;
  h.Connect(kPipeliningEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  BOOST_TEST(h.Say("451 5.7.3 Must issue a STARTTLS command first\r\n"
                   "503 5.5.1 Bad sequence of commands\r\n"
                   "503 5.5.1 Bad sequence of commands\r\n") == "STARTTLS\r\n");
  h.Say("220 Ready\r\n");
  BOOST_TEST(h.Tls() == kEhlo);
  BOOST_TEST(h.Say(kPipeliningEhloReply) ==
             "MAIL FROM:<alice@example.org> SIZE=20\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n");
}

BOOST_AUTO_TEST_CASE(starttls_required_and_refused_defers) {
  ClientHarness h;
  h.Connect(kPlainEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  BOOST_TEST(h.Say("451 5.7.3 Must issue a STARTTLS command first\r\n") == "STARTTLS\r\n");
  BOOST_TEST(h.Say("502 5.5.1 Not implemented\r\n") == "MAIL FROM:<alice@example.org> SIZE=20\r\n");
  h.Say("451 5.7.3 Must issue a STARTTLS command first\r\n");
  std::vector<std::string> results = {"0:Q:451 5.7.3 Must issue a STARTTLS command first"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(auth_required_authenticates_and_retries) {
  ClientHarness h(WithCredentials());
  h.Connect(kTlsEhloReply);
  h.Say("220 Ready\r\n");
  h.Tls();
  // Under TLS the server lists no AUTH, yet requires it at MAIL.
  h.Say(kPlainEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  BOOST_TEST(h.Say("530 5.7.0 Must issue a STARTTLS command first\r\n") == "");
  std::vector<std::string> starts = {"NTLM"};
  BOOST_TEST(h.auth_starts == starts, boost::test_tools::per_element());
  h.Auth("NEG");
  h.Say("334 NTLM supported\r\n");
  h.Say("334 Q0hBTA==\r\n");
  h.Auth("RESP");
  BOOST_TEST(h.Say("235 2.7.0 Authentication successful\r\n") ==
             "MAIL FROM:<alice@example.org> SIZE=20 AUTH=<>\r\n");
}

BOOST_AUTO_TEST_CASE(auth_required_in_cleartext_starts_tls_first) {
  ClientHarness h(WithCredentials());
  h.Connect(kPlainEhloReply);  // no STARTTLS, no AUTH listed
  h.Deliver(Message("Q1", {"bob@example.net"}));
  BOOST_TEST(h.Say("530 5.7.1 Client was not authenticated\r\n") == "STARTTLS\r\n");
  h.Say("220 Ready\r\n");
  h.Tls();
  BOOST_TEST(h.Say("250-mx.example.org\r\n250 AUTH LOGIN\r\n") == "");
  std::vector<std::string> starts = {"LOGIN"};
  BOOST_TEST(h.auth_starts == starts, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(auth_required_without_credentials_fails_by_its_code) {
  ClientHarness h;
  h.Connect(kPlainEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  BOOST_TEST(h.Say("530 5.7.1 Client was not authenticated\r\n") == "");
  std::vector<std::string> results = {"0:F:530 5.7.1 Client was not authenticated"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(auth_required_with_credentials_that_cannot_be_used_defers) {
  ClientHarness h([](ClientSettings& s) {
    s.credentials = true;
    s.tls = RelayTls::kNone;
  });
  h.Connect(kPlainEhloReply);
  h.Deliver(Message("Q1", {"bob@example.net"}));
  BOOST_TEST(h.Say("530 5.7.1 Client was not authenticated\r\n") == "");
  std::vector<std::string> results = {"0:Q:530 5.7.1 Client was not authenticated"};
  BOOST_TEST(h.Results() == results, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(client_robustness)

// Whatever a server sends, in whatever pieces, and whatever the driver
// answers: every message given gets exactly one MessageDone, nothing is
// written after Close, and the session ends when the connection does.
BOOST_AUTO_TEST_CASE(every_message_gets_one_outcome_whatever_the_server_sends) {
  const std::vector<std::string> replies = {"220 ready\r\n",
                                            "250 OK\r\n",
                                            "250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
                                            "250 AUTH LOGIN PLAIN\r\n",
                                            "250-STARTTLS\r\n250 SIZE 10\r\n",
                                            "354 go\r\n",
                                            "334 VXNlcm5hbWU6\r\n",
                                            "334 NTLM supported\r\n",
                                            "235 2.7.0 OK\r\n",
                                            "421 4.4.2 bye\r\n",
                                            "452 4.5.3 Too many recipients\r\n",
                                            "503 5.5.2 Send hello first\r\n",
                                            "530 5.7.0 auth\r\n",
                                            "451 5.7.3 tls\r\n",
                                            "550 5.1.1 no\r\n",
                                            "450 4.2.1 busy\r\n",
                                            "502 no\r\n",
                                            "250 2.0.0",
                                            "\r\n",
                                            "25",
                                            "x\r\n",
                                            std::string(5000, 'a')};
  for (unsigned seed = 0; seed < 300; ++seed) {
    BOOST_TEST_CONTEXT("seed " << seed) {
      std::mt19937 random(seed);
      auto pick = [&](size_t n) { return static_cast<size_t>(random() % n); };
      ClientHarness h([&](ClientSettings& s) {
        s.credentials = pick(2) == 0;
        s.allow_plaintext_auth = pick(2) == 0;
        s.tls = pick(4) == 0 ? RelayTls::kEncrypt : RelayTls::kMay;
      });
      h.piece = 1 + pick(30);
      h.Start();
      h.Deliver(Message("Q1", {"a@example.net", "b@example.net", "c@example.net"}));
      Envelope binary = Message("Q2", {"d@example.net"});
      binary.body = static_cast<BodyType>(pick(3));
      h.Deliver(binary, ".\r\n..\r\nbody");
      const std::string ehlo[] = {kPlainEhloReply, kPipeliningEhloReply, kChunkingEhloReply,
                                  kTlsEhloReply, "250-mx\r\n250 AUTH NTLM LOGIN\r\n"};
      h.Say(kGreeting);
      h.Say(ehlo[pick(5)]);
      for (int step = 0; step < 60 && !h.end; ++step) {
        switch (pick(8)) {
          case 0:
            h.Tls();
            break;
          case 1:
            h.Auth(pick(2) ? std::optional<std::string>("x") : std::nullopt);
            break;
          case 2:
            h.Advance(pick(10) == 0 ? minutes(10) : seconds(1 + pick(60)));
            break;
          case 3:
            h.Quit();
            break;
          default:
            // Mostly "250 OK", so that transactions get far; garbage (the
            // last four) only now and then.
            if (pick(2) == 0) {
              h.Say("250 OK\r\n");
            } else {
              h.Say(replies[pick(pick(10) == 0 ? replies.size() : replies.size() - 4)]);
            }
        }
      }
      h.PeerClosed();
      BOOST_TEST(h.end.has_value());
      BOOST_TEST(h.outcomes.size() == 2u);
      for (const MessageOutcome& outcome : h.outcomes)
        BOOST_TEST(outcome.recipients.size() == (outcome.queue_id == "Q1" ? 3u : 1u));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
