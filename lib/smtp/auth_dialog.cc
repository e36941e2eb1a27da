// lib/smtp/auth_dialog.cc — see lib/smtp/auth_dialog.h.
#include "lib/smtp/auth_dialog.h"

#include <algorithm>
#include <utility>

#include "lib/base/ascii.h"
#include "lib/smtp/base64.h"

namespace postern {
namespace {

// A step without a reply of the dialog's own.
AuthDialog::Step Unanswered(AuthDialog::Next next) {
  AuthDialog::Step step;
  step.next = next;
  return step;
}

AuthDialog::Step Answering(AuthDialog::Next next, const Reply& reply,
                           std::initializer_list<std::string_view> args = {}) {
  AuthDialog::Step step = Unanswered(next);
  step.reply = &reply;
  step.text = ExpandReply(reply, args);
  return step;
}

}  // namespace

AuthDialog::AuthDialog(const ListenerConfig& listener, std::vector<Action>* actions)
    : listener_(listener), actions_(actions) {}

bool AuthDialog::enabled() const {
  return listener_.advertise_auth && !listener_.auth_mechanisms.empty();
}

// Why AUTH with this mechanism cannot start here, in RFC 4954's order.
const Reply* AuthDialog::Refusal(std::string_view mechanism, Transport transport) const {
  bool tls = transport == Transport::kTls;
  if (listener_.require_tls && !tls) return &reply::kStarttlsBeforeAuth;
  if (mechanism.empty()) return &reply::kSyntaxError;
  bool configured = std::any_of(
      listener_.auth_mechanisms.begin(), listener_.auth_mechanisms.end(),
      [mechanism](const std::string& m) { return AsciiEqualsIgnoreCase(m, mechanism); });
  if (!configured) return &reply::kUnrecognizedAuthType;
  if (AuthMechanismWaitsForTls(listener_, mechanism) && !tls) return &reply::kEncryptionRequired;
  return nullptr;
}

AuthDialog::Step AuthDialog::Begin(std::string_view argument, Transport transport) {
  std::string_view mechanism = argument.substr(0, argument.find(' '));
  std::string_view initial;
  bool has_initial = mechanism.size() < argument.size();
  if (has_initial) {
    initial = argument.substr(mechanism.size());
    initial.remove_prefix(std::min(initial.find_first_not_of(' '), initial.size()));
  }
  if (const Reply* refusal = Refusal(mechanism, transport))
    return Answering(Next::kReadCommands, *refusal);
  if (initial.find(' ') != std::string_view::npos)
    return Answering(Next::kReadCommands, reply::kSyntaxError);
  std::optional<std::string> initial_response;
  if (has_initial) {
    // RFC 4954 4: "=" is an initial response of zero length.
    initial_response = initial == "=" ? std::optional<std::string>("") : Base64Decode(initial);
    if (!initial_response) return Answering(Next::kReadCommands, reply::kCannotDecodeResponse);
  }
  exchange_ = Exchange{AuthMechanismName(mechanism), false};
  if (exchange_->mechanism == "NTLM" && !has_initial) {
    // [MS-SMTP] 3.1.5.2: the NEGOTIATE message comes as the next line.
    return Answering(Next::kReadAnswer, reply::kNtlmSupported);
  }
  return Start(std::move(initial_response));
}

AuthDialog::Step AuthDialog::Start(std::optional<std::string> initial_response) {
  AppendAction(actions_, action::AuthStart{exchange_->mechanism, std::move(initial_response)});
  exchange_->started = true;
  return Unanswered(Next::kAwaitAuthd);
}

AuthDialog::Step AuthDialog::Answer(std::string_view line) {
  if (line == "*") return EndWith(reply::kAuthCancelled);
  std::optional<std::string> response = Base64Decode(line);
  if (!response) return EndWith(reply::kCannotDecodeResponse);
  if (!exchange_->started) return Start(std::move(response));
  AppendAction(actions_, action::AuthStep{std::move(*response)});
  return Unanswered(Next::kAwaitAuthd);
}

void AuthDialog::Abandon() {
  if (exchange_ && exchange_->started) AppendAction(actions_, action::AuthCancel{});
  exchange_.reset();
}

AuthDialog::Step AuthDialog::EndWith(const Reply& reply) {
  Abandon();
  return Answering(Next::kReadCommands, reply);
}

AuthDialog::Step AuthDialog::Result(ipc::AuthOutcome outcome, const std::string& data) {
  if (outcome == ipc::AuthOutcome::kContinue)
    return Answering(Next::kReadAnswer, reply::kAuthChallenge, {Base64Encode(data)});
  std::string mechanism = exchange_ ? exchange_->mechanism : "";
  exchange_.reset();  // authd ended the exchange itself: nothing to cancel
  Step step = Concluded(outcome, data);
  step.mechanism = std::move(mechanism);
  return step;
}

AuthDialog::Step AuthDialog::Concluded(ipc::AuthOutcome outcome, const std::string& data) {
  switch (outcome) {
    case ipc::AuthOutcome::kSuccess: {
      Step step = Answering(Next::kAuthenticated, reply::kAuthSuccessful);
      step.user = data;
      return step;
    }
    case ipc::AuthOutcome::kFailure:
      return LogonFailed(reply::kAuthUnsuccessful);
    case ipc::AuthOutcome::kUnknownMechanism:
      return Answering(Next::kReadCommands, reply::kUnrecognizedAuthType);
    case ipc::AuthOutcome::kTemporaryFailure:
    case ipc::AuthOutcome::kContinue:
      break;
  }
  return LogonFailed(reply::kTemporaryAuthFailure);
}

AuthDialog::Step AuthDialog::LogonFailed(const Reply& reply) {
  ++logon_failures_;
  // ProtocolViolationCount (MS-OXSMTP 3.2.7): the server ends the session.
  if (listener_.max_logon_failures != 0 && logon_failures_ > listener_.max_logon_failures)
    return Unanswered(Next::kTooManyFailures);
  return Answering(Next::kReadCommands, reply);
}

}  // namespace postern
