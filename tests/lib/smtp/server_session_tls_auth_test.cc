// tests/lib/smtp/server_session_tls_auth_test.cc — STARTTLS, AUTH and the
// submission policies that depend on them, in the pure session.
//
// Expected replies are typed from RFC 3207, RFC 4954, [MS-SMTP] NTLM,
// [MS-XLOGIN], MS-OXSMTP 3.2.5 and the reply list; none is taken
// from the reply catalogue.
#include "lib/smtp/base64.h"
#include "lib/smtp/ehlo_offer.h"
#include "tests/lib/smtp/session_harness.h"

namespace postern {
namespace {

using namespace postern::testing;  // NOLINT: the harness is this file's vocabulary
using ipc::AuthOutcome;

const std::string kTlsReady = "220 2.0.0 SMTP server ready\r\n";
const std::string kAuthOk = "235 2.7.0 Authentication successful\r\n";
const std::string kAuthBad = "535 5.7.3 Authentication unsuccessful\r\n";
const std::string kEhloPrefix = "EHLO client.example.net\r\n";

void WithTls(ListenerConfig& l) {
  l.tls_cert_file = "/etc/postern/tls/cert.pem";
  l.tls_key_file = "/etc/postern/tls/key.pem";
  l.auth_mechanisms = {"NTLM", "LOGIN"};
}

// The EHLO reply's keyword lines, without the greeting line.
std::string Keywords(const std::string& reply) { return reply.substr(reply.find("\r\n") + 2); }

// Harness with TLS and AUTH configured, greeted, for kTls after STARTTLS.
std::unique_ptr<Harness> Greeted(Transport transport, Harness::Adjust more = {}) {
  auto h = std::make_unique<Harness>([more](ListenerConfig& l) {
    WithTls(l);
    if (more) more(l);
  });
  h->Start();
  if (transport == Transport::kTls) {
    BOOST_TEST(h->Say(kEhloPrefix).find("250-STARTTLS\r\n") != std::string::npos);
    BOOST_TEST(h->Say("STARTTLS\r\n") == kTlsReady);
    BOOST_TEST(h->Tls() == "");
  }
  h->Say(kEhloPrefix);
  return h;
}

// AUTH LOGIN through to success for alice.
void LogIn(Harness& h, const std::string& user = "alice") {
  BOOST_TEST(h.Say("AUTH LOGIN " + Base64Encode(user) + "\r\n") == "");
  BOOST_TEST(h.Auth(AuthOutcome::kContinue, "Password:") == "334 UGFzc3dvcmQ6\r\n");
  BOOST_TEST(h.Say(Base64Encode("secret") + "\r\n") == "");
  BOOST_TEST(h.Auth(AuthOutcome::kSuccess, user) == kAuthOk);
}

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(session_starttls)

// A 421 in the middle of the handshake would go out in cleartext into it.
BOOST_AUTO_TEST_CASE(a_server_stopping_during_the_handshake_closes_without_a_reply) {
  auto h = std::make_unique<Harness>(WithTls);
  h->Start();
  h->Say(kEhloPrefix);
  BOOST_TEST(h->Say("STARTTLS\r\n") == kTlsReady);
  BOOST_TEST(h->ShutDown().empty());
  BOOST_TEST(h->closed_seen);
}

BOOST_AUTO_TEST_CASE(ehlo_offers_starttls_after_pipelining_when_a_certificate_is_set) {
  Harness h(WithTls);
  h.Start();
  BOOST_TEST(Keywords(h.Say(kEhloPrefix)) ==
             "250-SIZE 10485760\r\n"
             "250-DSN\r\n"
             "250-ENHANCEDSTATUSCODES\r\n"
             "250-PIPELINING\r\n"
             "250-STARTTLS\r\n"
             "250-AUTH NTLM\r\n"
             "250-8BITMIME\r\n"
             "250-BINARYMIME\r\n"
             "250 CHUNKING\r\n");
}

// MS-OXSMTP 3.2.5 "The server MUST use the following EHLO extension
// responses", to the letter: with a certificate and allow_plaintext_auth the
// cleartext reply carries STARTTLS and "AUTH NTLM LOGIN" among the rest.
BOOST_AUTO_TEST_CASE(the_letter_of_the_spec_lists_every_keyword_in_cleartext) {
  Harness h([](ListenerConfig& l) {
    WithTls(l);
    l.allow_plaintext_auth = true;
  });
  h.Start();
  BOOST_TEST(h.Say(kEhloPrefix) ==
             "250-mail.example.test Hello 192.0.2.10\r\n"
             "250-SIZE 10485760\r\n"
             "250-DSN\r\n"
             "250-ENHANCEDSTATUSCODES\r\n"
             "250-PIPELINING\r\n"
             "250-STARTTLS\r\n"
             "250-AUTH NTLM LOGIN\r\n"
             "250-8BITMIME\r\n"
             "250-BINARYMIME\r\n"
             "250 CHUNKING\r\n");
}

BOOST_AUTO_TEST_CASE(starttls_answers_220_and_asks_for_the_handshake) {
  Harness h(WithTls);
  h.Start();
  h.Say(kEhloPrefix);
  BOOST_TEST(h.Say("STARTTLS\r\n") == "220 2.0.0 SMTP server ready\r\n");
  BOOST_TEST(h.tls_starts == 1);
  BOOST_TEST(h.session().input_paused());
}

// RFC 3207 5 / CVE-2011-0411: commands pipelined behind STARTTLS in
// cleartext are never executed, not even after the handshake.
BOOST_AUTO_TEST_CASE(cleartext_pipelined_after_starttls_is_discarded) {
  Harness h(WithTls);
  h.Start();
  h.Say(kEhloPrefix);
  BOOST_TEST(h.Say("STARTTLS\r\nRSET\r\nMAIL FROM:<a@example.org>\r\n") == kTlsReady);
  BOOST_TEST(h.Say("NOOP\r\n") == "");  // cleartext racing the handshake
  BOOST_TEST(h.Tls() == "");
  BOOST_TEST(h.Say("NOOP\r\n") == "250 2.0.0 OK\r\n");
}

BOOST_AUTO_TEST_CASE(tls_resets_the_session_and_starttls_is_no_longer_offered) {
  Harness h(WithTls);
  h.Start();
  h.Say(kEhloPrefix);
  h.Say("STARTTLS\r\n");
  h.Tls();
  // RFC 3207 4.2: the client must EHLO again.
  BOOST_TEST(h.Say("MAIL FROM:<a@example.org>\r\n") == "503 5.5.2 Send hello first\r\n");
  std::string ehlo = h.Say(kEhloPrefix);
  BOOST_TEST(ehlo.find("STARTTLS") == std::string::npos);
  BOOST_TEST(ehlo.find("250-AUTH NTLM LOGIN\r\n") != std::string::npos);
  BOOST_TEST(h.Say("STARTTLS\r\n") ==
             "503 5.5.2 Only one STARTTLS command can be issued per session\r\n");
}

BOOST_AUTO_TEST_CASE(starttls_refusals) {
  Harness plain;  // no certificate
  plain.Start();
  BOOST_TEST(plain.Say("STARTTLS\r\n") == "503 5.5.2 Send hello first\r\n");
  plain.Say(kEhloPrefix);
  BOOST_TEST(plain.Say("STARTTLS\r\n") == "502 5.5.1 Command not implemented\r\n");

  Harness off([](ListenerConfig& l) {
    WithTls(l);
    l.advertise_starttls = false;
  });
  off.Start();
  BOOST_TEST(off.Say(kEhloPrefix).find("STARTTLS") == std::string::npos);
  BOOST_TEST(off.Say("STARTTLS\r\n") == "502 5.5.1 Command not implemented\r\n");

  Harness h(WithTls);
  h.Open();
  BOOST_TEST(h.Say("STARTTLS now\r\n") == "501 5.5.4 Syntax error in parameters or arguments\r\n");
  BOOST_TEST(h.Say("STARTTLS\r\n") == "503 5.5.1 Bad sequence of commands\r\n");
  BOOST_TEST(h.tls_starts == 0);
}

BOOST_AUTO_TEST_CASE(require_tls_refuses_mail_until_tls) {
  auto h = Greeted(Transport::kCleartext, [](ListenerConfig& l) { l.require_tls = true; });
  BOOST_TEST(h->Say("MAIL FROM:<a@example.org>\r\n") ==
             "451 5.7.3 Must issue a STARTTLS command first\r\n");
  auto t = Greeted(Transport::kTls, [](ListenerConfig& l) { l.require_tls = true; });
  BOOST_TEST(t->Say("MAIL FROM:<a@example.org>\r\n") == kSenderOk);
}

BOOST_AUTO_TEST_CASE(implicit_tls_offers_no_starttls) {
  Harness h([](ListenerConfig& l) {
    WithTls(l);
    l.tls_wrapper = true;
  });
  BOOST_TEST(h.Start(TlsInfo{"TLS1.2", "TLS_ECDHE_RSA_AES_256_GCM_SHA384"}) == kBanner);
  std::string ehlo = h.Say(kEhloPrefix);
  BOOST_TEST(ehlo.find("STARTTLS") == std::string::npos);
  BOOST_TEST(ehlo.find("250-AUTH NTLM LOGIN\r\n") != std::string::npos);
  BOOST_TEST(h.Say("STARTTLS\r\n") ==
             "503 5.5.2 Only one STARTTLS command can be issued per session\r\n");
}

BOOST_AUTO_TEST_CASE(received_field_records_tls_and_auth) {
  auto h = Greeted(Transport::kTls);
  h->Say("MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
  h->Say("Subject: x\r\n\r\nhi\r\n.\r\n");
  BOOST_TEST(h->messages.back().find("\t(using TLS1.3 with cipher TLS_AES_256_GCM_SHA384)\r\n"
                                     "\tby mail.example.test (postern) with ESMTPS id ") !=
             std::string::npos);
  h->Queue();
  LogIn(*h);
  h->Say("MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
  h->Say("Subject: x\r\n\r\nhi\r\n.\r\n");
  BOOST_TEST(h->messages.back().find(" with ESMTPSA id ") != std::string::npos);
  BOOST_TEST(h->envelopes.back().auth_user == "alice");
}

BOOST_AUTO_TEST_CASE(a_handshake_that_never_finishes_is_closed_without_a_cleartext_reply) {
  Harness h(WithTls);
  h.Start();
  h.Say(kEhloPrefix);
  h.Say("STARTTLS\r\n");
  BOOST_TEST(h.Advance(std::chrono::minutes(1)) == "");
  BOOST_TEST(h.closed_seen);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(session_auth_line)

BOOST_AUTO_TEST_CASE(cleartext_offers_ntlm_alone_and_tls_offers_both) {
  Harness h(WithTls);
  h.Start();
  BOOST_TEST(h.Say(kEhloPrefix).find("250-AUTH NTLM\r\n") != std::string::npos);
  auto t = Greeted(Transport::kTls);
  BOOST_TEST(t->Say(kEhloPrefix).find("250-AUTH NTLM LOGIN\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(allow_plaintext_auth_offers_login_in_cleartext) {
  Harness h([](ListenerConfig& l) {
    WithTls(l);
    l.allow_plaintext_auth = true;
  });
  h.Start();
  BOOST_TEST(h.Say(kEhloPrefix).find("250-AUTH NTLM LOGIN\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(require_tls_offers_no_auth_before_tls) {
  Harness h([](ListenerConfig& l) {
    WithTls(l);
    l.require_tls = true;
  });
  h.Start();
  BOOST_TEST(h.Say(kEhloPrefix).find("AUTH") == std::string::npos);
  BOOST_TEST(h.Say("AUTH NTLM\r\n") == "530 5.7.0 Must issue a STARTTLS command first\r\n");
}

// auth_require_tls = all: NTLM too waits for TLS (its NTLMv2 response can
// be cracked offline by whoever reads the cleartext).
BOOST_AUTO_TEST_CASE(auth_require_tls_all_offers_and_accepts_nothing_before_tls) {
  auto all = [](ListenerConfig& l) {
    l.auth_require_tls = AuthRequireTls::kAll;
    l.allow_plaintext_auth = true;  // no effect under all
  };
  Harness h([&all](ListenerConfig& l) {
    WithTls(l);
    all(l);
  });
  h.Start();
  BOOST_TEST(h.Say(kEhloPrefix).find("AUTH") == std::string::npos);
  for (const char* command :
       {"AUTH NTLM\r\n", "AUTH NTLM TlRMTVNTUAABAAAA\r\n", "AUTH LOGIN\r\n"}) {
    BOOST_TEST(h.Say(command) ==
               "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
  }
  BOOST_TEST(h.Say("AUTH CRAM-MD5\r\n") == "504 5.7.4 Unrecognized authentication type\r\n");
  BOOST_TEST(h.auth_starts.empty());
  auto t = Greeted(Transport::kTls, all);
  BOOST_TEST(t->Say(kEhloPrefix).find("250-AUTH NTLM LOGIN\r\n") != std::string::npos);
  BOOST_TEST(t->Say("AUTH NTLM\r\n") == "334 NTLM supported\r\n");
}

// The default, as Exchange: NTLM in cleartext, LOGIN only under TLS.
BOOST_AUTO_TEST_CASE(auth_require_tls_login_lets_ntlm_start_in_cleartext) {
  Harness h([](ListenerConfig& l) {
    WithTls(l);
    l.auth_require_tls = AuthRequireTls::kLogin;
  });
  h.Start();
  h.Say(kEhloPrefix);
  BOOST_TEST(h.Say("AUTH NTLM\r\n") == "334 NTLM supported\r\n");
}

BOOST_AUTO_TEST_CASE(advertise_auth_no_offers_and_accepts_nothing) {
  auto h = Greeted(Transport::kTls, [](ListenerConfig& l) { l.advertise_auth = false; });
  BOOST_TEST(h->Say(kEhloPrefix).find("AUTH") == std::string::npos);
  BOOST_TEST(h->Say("AUTH LOGIN\r\n") == "502 5.5.1 Command not implemented\r\n");
  BOOST_TEST(h->auth_starts.empty());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(session_auth_exchanges)

// [MS-XLOGIN] 3.1.5: AUTH LOGIN, username, password.
BOOST_AUTO_TEST_CASE(login_without_initial_response) {
  auto h = Greeted(Transport::kTls);
  BOOST_TEST(h->Say("AUTH LOGIN\r\n") == "");
  BOOST_REQUIRE(h->auth_starts.size() == 1u);
  BOOST_TEST(h->auth_starts[0].mechanism == "LOGIN");
  BOOST_TEST(!h->auth_starts[0].initial_response.has_value());
  BOOST_TEST(h->Auth(AuthOutcome::kContinue, "Username:") == "334 VXNlcm5hbWU6\r\n");
  BOOST_TEST(h->Say("YWxpY2U=\r\n") == "");
  BOOST_TEST(h->Auth(AuthOutcome::kContinue, "Password:") == "334 UGFzc3dvcmQ6\r\n");
  BOOST_TEST(h->Say("c2VjcmV0\r\n") == "");
  BOOST_TEST(h->auth_steps == (std::vector<std::string>{"alice", "secret"}));
  BOOST_TEST(h->Auth(AuthOutcome::kSuccess, "alice") == "235 2.7.0 Authentication successful\r\n");
  BOOST_TEST(h->session().authenticated_user() == "alice");
}

BOOST_AUTO_TEST_CASE(login_with_initial_response_goes_to_the_password) {
  auto h = Greeted(Transport::kTls);
  BOOST_TEST(h->Say("auth login YWxpY2U=\r\n") == "");
  BOOST_REQUIRE(h->auth_starts.size() == 1u);
  BOOST_TEST(h->auth_starts[0].mechanism == "LOGIN");
  BOOST_TEST(h->auth_starts[0].initial_response.value() == "alice");
}

// [MS-SMTP] 3.1.5.2: AUTH NTLM, 334 NTLM supported, NEGOTIATE, CHALLENGE,
// AUTHENTICATE.
BOOST_AUTO_TEST_CASE(ntlm_without_initial_response) {
  Harness h(WithTls);
  h.Start();
  h.Say(kEhloPrefix);
  BOOST_TEST(h.Say("AUTH NTLM\r\n") == "334 NTLM supported\r\n");
  BOOST_TEST(h.auth_starts.empty());  // the session answered that itself
  std::string negotiate("NTLMSSP\0\1\0\0\0", 12);
  BOOST_TEST(h.Say(Base64Encode(negotiate) + "\r\n") == "");
  BOOST_REQUIRE(h.auth_starts.size() == 1u);
  BOOST_TEST(h.auth_starts[0].mechanism == "NTLM");
  BOOST_TEST(h.auth_starts[0].initial_response.value() == negotiate);
  std::string challenge("NTLMSSP\0\2\0\0\0challenge", 21);
  BOOST_TEST(h.Auth(AuthOutcome::kContinue, challenge) ==
             "334 " + Base64Encode(challenge) + "\r\n");
  // An AUTHENTICATE message longer than a command line may be.
  std::string authenticate(3000, 'x');
  BOOST_TEST(h.Say(Base64Encode(authenticate) + "\r\n") == "");
  BOOST_TEST(h.auth_steps == std::vector<std::string>{authenticate});
  BOOST_TEST(h.Auth(AuthOutcome::kSuccess, "alice") == kAuthOk);
  // Back to the command line limit.
  BOOST_TEST(h.Say("NOOP " + std::string(600, 'x') + "\r\n") == "500 5.5.2 Line too long\r\n");
}

BOOST_AUTO_TEST_CASE(ntlm_with_initial_response) {
  Harness h(WithTls);
  h.Start();
  h.Say(kEhloPrefix);
  BOOST_TEST(h.Say("AUTH NTLM " + Base64Encode("negotiate") + "\r\n") == "");
  BOOST_REQUIRE(h.auth_starts.size() == 1u);
  BOOST_TEST(h.auth_starts[0].initial_response.value() == "negotiate");
}

BOOST_AUTO_TEST_CASE(an_empty_initial_response_is_written_as_equals) {
  auto h = Greeted(Transport::kTls);
  h->Say("AUTH LOGIN =\r\n");
  BOOST_REQUIRE(h->auth_starts.size() == 1u);
  BOOST_TEST(h->auth_starts[0].initial_response.value() == "");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(session_auth_failures)

BOOST_AUTO_TEST_CASE(wrong_credentials) {
  auto h = Greeted(Transport::kTls);
  h->Say("AUTH LOGIN YWxpY2U=\r\n");
  h->Auth(AuthOutcome::kContinue, "Password:");
  h->Say("d3Jvbmc=\r\n");
  BOOST_TEST(h->Auth(AuthOutcome::kFailure) == kAuthBad);
  BOOST_TEST(h->session().authenticated_user() == "");
}

BOOST_AUTO_TEST_CASE(star_cancels_and_tells_authd) {
  auto h = Greeted(Transport::kTls);
  h->Say("AUTH LOGIN\r\n");
  h->Auth(AuthOutcome::kContinue, "Username:");
  BOOST_TEST(h->Say("*\r\n") == "501 5.5.4 Authentication cancelled\r\n");
  BOOST_TEST(h->auth_cancels == 1);
  BOOST_TEST(h->Say("NOOP\r\n") == kOk);
}

BOOST_AUTO_TEST_CASE(cancelling_the_ntlm_prompt_needs_no_authd) {
  Harness h(WithTls);
  h.Start();
  h.Say(kEhloPrefix);
  h.Say("AUTH NTLM\r\n");
  BOOST_TEST(h.Say("*\r\n") == "501 5.5.4 Authentication cancelled\r\n");
  BOOST_TEST(h.auth_cancels == 0);
}

BOOST_AUTO_TEST_CASE(refusals_before_any_exchange) {
  auto h = Greeted(Transport::kTls);
  BOOST_TEST(h->Say("AUTH CRAM-MD5\r\n") == "504 5.7.4 Unrecognized authentication type\r\n");
  BOOST_TEST(h->Say("AUTH\r\n") == "501 5.5.4 Syntax error in parameters or arguments\r\n");
  BOOST_TEST(h->Say("AUTH LOGIN !!!!\r\n") == "501 5.5.2 Cannot decode response\r\n");
  BOOST_TEST(h->auth_starts.empty());

  Harness clear(WithTls);
  clear.Start();
  BOOST_TEST(clear.Say("AUTH NTLM\r\n") == "503 5.5.2 Send hello first\r\n");
  clear.Say(kEhloPrefix);
  BOOST_TEST(clear.Say("AUTH LOGIN\r\n") ==
             "538 5.7.11 Encryption required for requested authentication mechanism\r\n");

  Harness helo(WithTls);
  helo.Start();
  helo.Say("HELO client.example.net\r\n");
  BOOST_TEST(helo.Say("AUTH NTLM\r\n") == "502 5.5.1 Command not implemented\r\n");
}

BOOST_AUTO_TEST_CASE(a_response_that_is_not_base64_ends_the_exchange) {
  auto h = Greeted(Transport::kTls);
  h->Say("AUTH LOGIN\r\n");
  h->Auth(AuthOutcome::kContinue, "Username:");
  BOOST_TEST(h->Say("not base64\r\n") == "501 5.5.2 Cannot decode response\r\n");
  BOOST_TEST(h->auth_cancels == 1);
}

BOOST_AUTO_TEST_CASE(auth_twice_and_auth_in_a_transaction) {
  auto h = Greeted(Transport::kTls);
  LogIn(*h);
  BOOST_TEST(h->Say("AUTH LOGIN\r\n") == "503 5.5.2 Auth command already specified\r\n");
  auto t = Greeted(Transport::kTls);
  t->Say("MAIL FROM:<a@example.org>\r\n");
  BOOST_TEST(t->Say("AUTH LOGIN\r\n") == "503 5.5.1 Bad sequence of commands\r\n");
}

BOOST_AUTO_TEST_CASE(authd_trouble_is_a_temporary_failure) {
  auto h = Greeted(Transport::kTls);
  h->Say("AUTH LOGIN\r\n");
  BOOST_TEST(h->Auth(AuthOutcome::kTemporaryFailure) ==
             "454 4.7.0 Temporary authentication failure\r\n");
  h->Say("AUTH LOGIN\r\n");
  BOOST_TEST(h->Auth(AuthOutcome::kUnknownMechanism) ==
             "504 5.7.4 Unrecognized authentication type\r\n");
}

// Issue 8 point 10: an AUTH that authd could not decide counts like a
// failure, or a client could guess for free by making authd stumble.
BOOST_AUTO_TEST_CASE(temporary_failures_count_toward_max_logon_failures) {
  auto h = Greeted(Transport::kTls);
  for (int i = 0; i < 3; ++i) {
    h->Say("AUTH LOGIN YWxpY2U=\r\n");
    BOOST_TEST(h->Auth(AuthOutcome::kTemporaryFailure) ==
               "454 4.7.0 Temporary authentication failure\r\n");
  }
  h->Say("AUTH LOGIN YWxpY2U=\r\n");
  BOOST_TEST(h->Auth(AuthOutcome::kTemporaryFailure) ==
             "421 4.7.0 Too many errors on this connection, closing transmission channel\r\n");
  BOOST_TEST(h->closed_seen);
}

// MS-OXSMTP 3.2.7 ProtocolViolationCount: more than max_logon_failures.
BOOST_AUTO_TEST_CASE(the_fourth_failure_ends_the_session) {
  auto h = Greeted(Transport::kTls);
  for (int i = 0; i < 3; ++i) {
    h->Say("AUTH LOGIN YWxpY2U=\r\n");
    h->Auth(AuthOutcome::kContinue, "Password:");
    h->Say("d3Jvbmc=\r\n");
    BOOST_TEST(h->Auth(AuthOutcome::kFailure) == kAuthBad);
  }
  h->Say("AUTH LOGIN YWxpY2U=\r\n");
  h->Auth(AuthOutcome::kContinue, "Password:");
  h->Say("d3Jvbmc=\r\n");
  BOOST_TEST(h->Auth(AuthOutcome::kFailure) ==
             "421 4.7.0 Too many errors on this connection, closing transmission channel\r\n");
  BOOST_TEST(h->closed_seen);
}

BOOST_AUTO_TEST_CASE(failures_and_cancels_are_not_protocol_errors) {
  auto h = Greeted(Transport::kTls, [](ListenerConfig& l) { l.max_protocol_errors = 1; });
  for (int i = 0; i < 2; ++i) {
    h->Say("AUTH LOGIN\r\n");
    h->Auth(AuthOutcome::kContinue, "Username:");
    BOOST_TEST(h->Say("*\r\n") == "501 5.5.4 Authentication cancelled\r\n");
    h->Say("AUTH LOGIN\r\n");
    BOOST_TEST(h->Auth(AuthOutcome::kFailure) == kAuthBad);
  }
  BOOST_TEST(!h->closed_seen);
}

BOOST_AUTO_TEST_CASE(a_session_that_ends_mid_exchange_cancels_it) {
  auto h = Greeted(Transport::kTls);
  h->Say("AUTH LOGIN\r\n");
  h->Eof();
  BOOST_TEST(h->auth_cancels == 1);
  BOOST_TEST(h->Auth(AuthOutcome::kSuccess, "alice") == "");  // too late: ignored
}

BOOST_AUTO_TEST_CASE(timers_while_waiting_for_the_answer_line) {
  auto h = Greeted(Transport::kTls);
  h->Say("AUTH LOGIN\r\n");
  h->Auth(AuthOutcome::kContinue, "Username:");
  BOOST_TEST(h->Advance(std::chrono::minutes(1)) ==
             "451 4.7.0 Timeout waiting for client input\r\n");
  BOOST_TEST(h->auth_cancels == 1);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(session_submission_policy)

BOOST_AUTO_TEST_CASE(require_auth_refuses_mail_until_auth) {
  auto h = Greeted(Transport::kTls, [](ListenerConfig& l) { l.require_auth = true; });
  BOOST_TEST(h->Say("MAIL FROM:<alice@example.test>\r\n") == "530 5.7.1 Not authenticated\r\n");
  LogIn(*h);
  BOOST_TEST(h->Say("MAIL FROM:<alice@example.test>\r\n") == kSenderOk);
}

BOOST_AUTO_TEST_CASE(only_authenticated_clients_relay) {
  auto h = Greeted(Transport::kTls);
  h->Say("MAIL FROM:<alice@example.test>\r\n");
  BOOST_TEST(h->Say("RCPT TO:<carol@elsewhere.example>\r\n") == "550 5.7.1 Unable to relay\r\n");
  h->Say("RSET\r\n");
  LogIn(*h);
  h->Say("MAIL FROM:<alice@example.test>\r\n");
  BOOST_TEST(h->Say("RCPT TO:<carol@elsewhere.example>\r\n") == kRecipientOk);
}

BOOST_AUTO_TEST_CASE(sender_login_check) {
  auto h = Greeted(Transport::kTls, [](ListenerConfig& l) { l.sender_login_check = true; });
  // Unauthenticated sessions are not checked (relay rules apply to them).
  BOOST_TEST(h->Say("MAIL FROM:<bob@example.test>\r\nRSET\r\n") == kSenderOk + kOk);
  Result<SenderLoginMap> map = SenderLoginMap::Parse("sales@example.test alice\n", "map");
  BOOST_REQUIRE(map.ok());
  h->session().UseSenderLoginMap(&*map);
  LogIn(*h);
  BOOST_TEST(h->Say("MAIL FROM:<bob@example.test>\r\n") ==
             "550 5.7.1 Client does not have permissions to submit to this server\r\n");
  BOOST_TEST(h->Say("MAIL FROM:<alice@example.test>\r\nRSET\r\n") == kSenderOk + kOk);
  BOOST_TEST(h->Say("MAIL FROM:<sales@example.test>\r\nRSET\r\n") == kSenderOk + kOk);
  BOOST_TEST(h->Say("MAIL FROM:<>\r\n") == kSenderOk);
}

BOOST_AUTO_TEST_CASE(relay_listeners_count_messages_per_user_once_authenticated) {
  auto h = Greeted(Transport::kTls, [](ListenerConfig& l) {
    l.role = Role::kRelay;
    l.message_rate_limit = 5;
  });
  h->Say("MAIL FROM:<alice@example.test>\r\n");
  BOOST_REQUIRE(h->mail_checks.size() == 1u);
  BOOST_TEST(h->mail_checks[0].rate_key == "ip:192.0.2.10");
  h->MailCheck(ipc::MailVerdict::kAllowed);
  h->Say("RSET\r\n");
  LogIn(*h);
  h->Say("MAIL FROM:<alice@example.test>\r\n");
  BOOST_REQUIRE(h->mail_checks.size() == 2u);
  BOOST_TEST(h->mail_checks[1].rate_key == "user:alice");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// RFC 4954 5: the AUTH= parameter of MAIL FROM.
BOOST_AUTO_TEST_SUITE(session_mail_auth_parameter)

const std::string kInvalidArguments = "501 5.5.4 Invalid arguments\r\n";

// Sends one message with this MAIL line; returns the envelope's auth_mailbox.
std::string KeptAuth(Harness& h, const std::string& mail) {
  BOOST_TEST(h.Say(mail + "\r\n") == kSenderOk);
  BOOST_TEST(h.Say("RCPT TO:<bob@example.test>\r\nDATA\r\n") == kRecipientOk + kGoAhead);
  h.Say("Subject: x\r\n\r\nhi\r\n.\r\n");
  BOOST_TEST(h.Queue() == h.Queued());
  return h.envelopes.back().auth_mailbox;
}

BOOST_AUTO_TEST_CASE(null_is_accepted_wherever_auth_is_offered) {
  auto h = Greeted(Transport::kCleartext);  // cleartext: "250-AUTH NTLM"
  BOOST_TEST(KeptAuth(*h, "MAIL FROM:<a@example.org> AUTH=<>") == "<>");
  auto t = Greeted(Transport::kTls);
  LogIn(*t);
  BOOST_TEST(KeptAuth(*t, "MAIL FROM:<alice@example.test> AUTH=<>") == "<>");
}

BOOST_AUTO_TEST_CASE(a_mailbox_from_an_unauthenticated_client_is_accepted_and_not_kept) {
  auto h = Greeted(Transport::kTls);
  BOOST_TEST(KeptAuth(*h, "MAIL FROM:<a@example.org> AUTH=alice+2Blists@example.test") == "<>");
  BOOST_TEST(h->envelopes.back().auth_user.empty());
}

BOOST_AUTO_TEST_CASE(a_mailbox_from_an_authenticated_client_is_kept_decoded) {
  auto h = Greeted(Transport::kTls);
  LogIn(*h);
  BOOST_TEST(KeptAuth(*h, "MAIL FROM:<alice@example.test> AUTH=alice+2Blists@example.test") ==
             "alice+lists@example.test");
  // It belongs to that transaction only.
  BOOST_TEST(KeptAuth(*h, "MAIL FROM:<alice@example.test>") == "");
}

BOOST_AUTO_TEST_CASE(sender_login_check_decides_which_mailbox_a_login_may_name) {
  auto h = Greeted(Transport::kTls, [](ListenerConfig& l) { l.sender_login_check = true; });
  LogIn(*h);
  // Not the login's address: accepted, but treated as <>.
  BOOST_TEST(KeptAuth(*h, "MAIL FROM:<alice@example.test> AUTH=bob@example.test") == "<>");
  BOOST_TEST(KeptAuth(*h, "MAIL FROM:<alice@example.test> AUTH=alice@example.test") ==
             "alice@example.test");
}

BOOST_AUTO_TEST_CASE(malformed_or_repeated_auth_is_refused) {
  auto h = Greeted(Transport::kTls);
  BOOST_TEST(h->Say("MAIL FROM:<a@example.org> AUTH=a+ZZ@example.org\r\n") == kInvalidArguments);
  BOOST_TEST(h->Say("MAIL FROM:<a@example.org> AUTH=a+2\r\n") == kInvalidArguments);
  BOOST_TEST(h->Say("MAIL FROM:<a@example.org> AUTH=a@example.org\r\n") == kSenderOk);
  h->Say("RSET\r\n");
  LogIn(*h);
  BOOST_TEST(h->Say("MAIL FROM:<a@example.org> AUTH=<> AUTH=<>\r\n") == kInvalidArguments);
  BOOST_TEST(h->Say("MAIL FROM:<a@example.org> AUTH=<alice@example.test>\r\n") ==
             kInvalidArguments);
  BOOST_TEST(h->envelopes.empty());
}

BOOST_AUTO_TEST_CASE(auth_is_an_unknown_parameter_where_auth_is_not_offered) {
  // HELO negotiates no extension.
  Harness helo(WithTls);
  helo.Start();
  helo.Say("HELO client.example.net\r\n");
  BOOST_TEST(helo.Say("MAIL FROM:<a@example.org> AUTH=<>\r\n") == kInvalidArguments);
  // advertise_auth = no.
  auto off = Greeted(Transport::kTls, [](ListenerConfig& l) { l.advertise_auth = false; });
  BOOST_TEST(off->Say("MAIL FROM:<a@example.org> AUTH=<>\r\n") == kInvalidArguments);
  // Before TLS, where LOGIN (the only mechanism) is not offered.
  auto login_only =
      Greeted(Transport::kCleartext, [](ListenerConfig& l) { l.auth_mechanisms = {"LOGIN"}; });
  BOOST_TEST(login_only->Say(kEhloPrefix).find("AUTH") == std::string::npos);
  BOOST_TEST(login_only->Say("MAIL FROM:<a@example.org> AUTH=<>\r\n") == kInvalidArguments);
  // The same listener under TLS offers it, and takes the parameter.
  auto under_tls =
      Greeted(Transport::kTls, [](ListenerConfig& l) { l.auth_mechanisms = {"LOGIN"}; });
  BOOST_TEST(under_tls->Say("MAIL FROM:<a@example.org> AUTH=<>\r\n") == kSenderOk);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// MS-OXSMTP 3.2.7 Tarpit, as decided in lib/smtp/server_session.h.
BOOST_AUTO_TEST_SUITE(session_tarpit_and_auth)

BOOST_AUTO_TEST_CASE(error_replies_to_unauthenticated_sessions_are_delayed) {
  auto h = Greeted(Transport::kTls,
                   [](ListenerConfig& l) { l.tarpit_interval = std::chrono::seconds(5); });
  BOOST_TEST(h->Say("RCPT TO:<bob@example.test>\r\nNOOP\r\n") == "");
  BOOST_TEST(h->Advance(std::chrono::seconds(4)) == "");
  BOOST_TEST(h->Advance(std::chrono::seconds(1)) == "503 5.5.2 Need mail command\r\n" + kOk);
  h->Say("AUTH LOGIN YWxpY2U=\r\n");
  h->Auth(AuthOutcome::kContinue, "Password:");
  h->Say("d3Jvbmc=\r\n");
  BOOST_TEST(h->Auth(AuthOutcome::kFailure) == "");  // a failed logon is tarpitted too
  BOOST_TEST(h->Advance(std::chrono::seconds(5)) == kAuthBad);
}

BOOST_AUTO_TEST_CASE(authenticated_sessions_wait_only_for_mail_errors) {
  auto h = Greeted(Transport::kTls,
                   [](ListenerConfig& l) { l.tarpit_interval = std::chrono::seconds(5); });
  LogIn(*h);
  BOOST_TEST(h->Say("RCPT TO:<bob@example.test>\r\n") == "503 5.5.2 Need mail command\r\n");
  BOOST_TEST(h->Say("MAIL FROM:alice\r\n") == "");
  BOOST_TEST(h->Advance(std::chrono::seconds(5)) == "501 5.1.7 Invalid address\r\n");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
