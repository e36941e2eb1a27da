// tests/lib/smtp/auth_dialog_test.cc — lib/smtp/auth_dialog: the AUTH
// exchange alone, without a session: the steps it decides, the replies it
// chooses and what it asks of authd.
//
// Expected replies are typed from RFC 4954, [MS-SMTP] 3.1.5.2, [MS-XLOGIN]
// and MS-OXSMTP 3.2.5, never taken from the reply catalogue.
#define BOOST_TEST_DYN_LINK
#include "lib/smtp/auth_dialog.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <variant>
#include <vector>

#include "lib/smtp/base64.h"

namespace postern {
namespace {

using ipc::AuthOutcome;
using Next = AuthDialog::Next;

ListenerConfig Listener() {
  ListenerConfig l;
  l.auth_mechanisms = {"NTLM", "LOGIN"};
  l.max_logon_failures = 2;
  return l;
}

// The reply a step asks the session to send, as it goes on the wire.
std::string Wire(const AuthDialog::Step& step) {
  if (step.reply == nullptr) return "";
  return FormatReply(step.reply->code, step.reply->enhanced ? step.reply->enhanced : "", step.text);
}

// One letter per request to authd: a (AuthStart), s (AuthStep), x (AuthCancel).
std::string Requests(std::vector<Action>& actions) {
  std::string letters;
  for (const Action& action : actions) {
    if (std::holds_alternative<action::AuthStart>(action)) letters += 'a';
    if (std::holds_alternative<action::AuthStep>(action)) letters += 's';
    if (std::holds_alternative<action::AuthCancel>(action)) letters += 'x';
  }
  return letters;
}

BOOST_AUTO_TEST_SUITE(auth_dialog)

BOOST_AUTO_TEST_CASE(login_with_initial_response_through_to_success) {
  ListenerConfig l = Listener();
  std::vector<Action> actions;
  AuthDialog dialog(l, &actions);
  AuthDialog::Step step = dialog.Begin("login " + Base64Encode("alice"), Transport::kTls);
  BOOST_TEST((step.next == Next::kAwaitAuthd));
  BOOST_TEST(Wire(step) == "");
  BOOST_REQUIRE(actions.size() == 1u);
  const auto& start = std::get<action::AuthStart>(actions[0]);
  BOOST_TEST(start.mechanism == "LOGIN");
  BOOST_TEST(start.initial_response.value_or("none") == "alice");

  step = dialog.Result(AuthOutcome::kContinue, "Password:");
  BOOST_TEST((step.next == Next::kReadAnswer));
  BOOST_TEST(Wire(step) == "334 UGFzc3dvcmQ6\r\n");
  step = dialog.Answer(Base64Encode("secret"));
  BOOST_TEST((step.next == Next::kAwaitAuthd));
  BOOST_REQUIRE(actions.size() == 2u);
  BOOST_TEST(std::get<action::AuthStep>(actions[1]).response == "secret");

  step = dialog.Result(AuthOutcome::kSuccess, "alice");
  BOOST_TEST((step.next == Next::kAuthenticated));
  BOOST_TEST(step.user == "alice");
  BOOST_TEST(Wire(step) == "235 2.7.0 Authentication successful\r\n");
  dialog.Abandon();  // authd ended the exchange: nothing to cancel
  BOOST_TEST(Requests(actions) == "as");
}

BOOST_AUTO_TEST_CASE(bare_ntlm_is_answered_by_the_dialog_and_negotiate_starts_it) {
  ListenerConfig l = Listener();
  std::vector<Action> actions;
  AuthDialog dialog(l, &actions);
  AuthDialog::Step step = dialog.Begin("NTLM", Transport::kCleartext);
  BOOST_TEST((step.next == Next::kReadAnswer));
  BOOST_TEST(Wire(step) == "334 NTLM supported\r\n");
  BOOST_TEST(actions.empty());
  step = dialog.Answer(Base64Encode("NEGOTIATE"));
  BOOST_TEST((step.next == Next::kAwaitAuthd));
  BOOST_REQUIRE(actions.size() == 1u);
  const auto& start = std::get<action::AuthStart>(actions[0]);
  BOOST_TEST(start.mechanism == "NTLM");
  BOOST_TEST(start.initial_response.value_or("none") == "NEGOTIATE");
}

BOOST_AUTO_TEST_CASE(an_equals_sign_is_an_empty_initial_response) {
  ListenerConfig l = Listener();
  std::vector<Action> actions;
  AuthDialog dialog(l, &actions);
  BOOST_TEST((dialog.Begin("NTLM =", Transport::kCleartext).next == Next::kAwaitAuthd));
  BOOST_REQUIRE(actions.size() == 1u);
  BOOST_TEST(std::get<action::AuthStart>(actions[0]).initial_response.value_or("none") == "");
}

BOOST_AUTO_TEST_CASE(refusals_before_any_exchange_ask_nothing_of_authd) {
  ListenerConfig l = Listener();
  ListenerConfig require_tls = Listener();
  require_tls.require_tls = true;
  std::vector<Action> actions;
  AuthDialog dialog(l, &actions);
  AuthDialog strict(require_tls, &actions);
  struct Case {
    AuthDialog* dialog;
    std::string argument;
    std::string reply;
  };
  const std::vector<Case> cases = {
      {&strict, "NTLM", "530 5.7.0 Must issue a STARTTLS command first\r\n"},
      {&dialog, "", "501 5.5.4 Syntax error in parameters or arguments\r\n"},
      {&dialog, "CRAM-MD5", "504 5.7.4 Unrecognized authentication type\r\n"},
      {&dialog, "LOGIN",
       "538 5.7.11 Encryption required for requested authentication mechanism\r\n"},
      {&dialog, "NTLM abc def", "501 5.5.4 Syntax error in parameters or arguments\r\n"},
      {&dialog, "NTLM !!!!", "501 5.5.2 Cannot decode response\r\n"},
  };
  for (const Case& c : cases) {
    AuthDialog::Step step = c.dialog->Begin(c.argument, Transport::kCleartext);
    BOOST_TEST((step.next == Next::kReadCommands), c.argument);
    BOOST_TEST(Wire(step) == c.reply, c.argument);
  }
  BOOST_TEST(actions.empty());
}

BOOST_AUTO_TEST_CASE(cancel_tells_authd_only_once_the_exchange_began_there) {
  ListenerConfig l = Listener();
  std::vector<Action> actions;
  AuthDialog dialog(l, &actions);
  dialog.Begin("NTLM", Transport::kCleartext);
  AuthDialog::Step step = dialog.Answer("*");
  BOOST_TEST((step.next == Next::kReadCommands));
  BOOST_TEST(Wire(step) == "501 5.5.4 Authentication cancelled\r\n");
  BOOST_TEST(Requests(actions) == "");

  dialog.Begin("LOGIN", Transport::kTls);
  dialog.Result(AuthOutcome::kContinue, "Username:");
  step = dialog.Answer("*");
  BOOST_TEST(Wire(step) == "501 5.5.4 Authentication cancelled\r\n");
  BOOST_TEST(Requests(actions) == "ax");

  dialog.Begin("LOGIN", Transport::kTls);
  dialog.Result(AuthOutcome::kContinue, "Username:");
  step = dialog.Answer("not base64!");
  BOOST_TEST(Wire(step) == "501 5.5.2 Cannot decode response\r\n");
  BOOST_TEST(Requests(actions) == "axax");
}

BOOST_AUTO_TEST_CASE(abandon_cancels_a_started_exchange_once) {
  ListenerConfig l = Listener();
  std::vector<Action> actions;
  AuthDialog dialog(l, &actions);
  dialog.Abandon();
  BOOST_TEST(actions.empty());
  dialog.Begin("LOGIN", Transport::kTls);
  dialog.Abandon();
  dialog.Abandon();
  BOOST_TEST(Requests(actions) == "ax");
}

// max_logon_failures = 2: failures and undecided exchanges count, the third
// ends the session; an unknown mechanism at authd does not count.
BOOST_AUTO_TEST_CASE(the_logon_failure_past_the_limit_ends_the_session) {
  ListenerConfig l = Listener();
  std::vector<Action> actions;
  AuthDialog dialog(l, &actions);
  dialog.Begin("NTLM =", Transport::kCleartext);
  AuthDialog::Step step = dialog.Result(AuthOutcome::kFailure, "");
  BOOST_TEST((step.next == Next::kReadCommands));
  BOOST_TEST(Wire(step) == "535 5.7.3 Authentication unsuccessful\r\n");
  dialog.Begin("NTLM =", Transport::kCleartext);
  step = dialog.Result(AuthOutcome::kUnknownMechanism, "");
  BOOST_TEST(Wire(step) == "504 5.7.4 Unrecognized authentication type\r\n");
  dialog.Begin("NTLM =", Transport::kCleartext);
  step = dialog.Result(AuthOutcome::kTemporaryFailure, "");
  BOOST_TEST((step.next == Next::kReadCommands));
  BOOST_TEST(Wire(step) == "454 4.7.0 Temporary authentication failure\r\n");
  dialog.Begin("NTLM =", Transport::kCleartext);
  step = dialog.Result(AuthOutcome::kFailure, "");
  BOOST_TEST((step.next == Next::kTooManyFailures));
  BOOST_TEST(Wire(step) == "");
  BOOST_TEST(Requests(actions) == "aaaa");
}

BOOST_AUTO_TEST_CASE(enabled_needs_advertise_auth_and_a_mechanism) {
  std::vector<Action> actions;
  ListenerConfig l = Listener();
  BOOST_TEST(AuthDialog(l, &actions).enabled());
  l.advertise_auth = false;
  BOOST_TEST(!AuthDialog(l, &actions).enabled());
  l = Listener();
  l.auth_mechanisms.clear();
  BOOST_TEST(!AuthDialog(l, &actions).enabled());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
