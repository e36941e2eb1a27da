// lib/smtp/auth_dialog.h — the AUTH exchange of one session (RFC 4954,
// [MS-SMTP] 3.1.5.2 for NTLM, [MS-XLOGIN] for LOGIN).
//
// Owns the exchange in progress and the count of logon failures. It reads
// the AUTH command's argument and the client's answers to challenges,
// relays them to authd as raw bytes (AuthStart, AuthStep, AuthCancel,
// appended to the session's actions) and turns authd's answers into
// replies. It sends no reply and holds no phase itself: every call returns
// a Step that says which reply the session sends and what it reads or
// waits for next, so the tarpit and the protocol-error count apply to AUTH
// replies as to any other. Whether AUTH may be used at this point of the
// session (a hello first, not twice, not inside a transaction) is the
// session's check; which mechanism may be used where is decided here.
//
// Decided here:
//   - The bare "AUTH NTLM" is answered "334 NTLM supported" by the dialog
//     itself ([MS-SMTP] 3.1.5.2); the client's NEGOTIATE message then
//     starts the exchange with authd.
//   - Where the listener has require_tls, AUTH is not accepted before TLS
//     (530 5.7.0). Elsewhere a mechanism that waits for TLS
//     (AuthMechanismWaitsForTls: auth_require_tls, allow_plaintext_auth) is
//     refused before it with 538 5.7.11, because LOGIN carries the password
//     itself and an eavesdropper can crack a captured NTLMv2 response
//     offline.
//   - A failed AUTH (535), and one that authd could not decide (454 4.7.0: a
//     client must not get free guesses by making authd stumble), count
//     towards max_logon_failures, not towards the protocol errors; the
//     failure that would be number max_logon_failures + 1 is answered
//     421 4.7.0 and ends the session. A cancelled AUTH ("*", 501) counts as
//     neither. An initial response of "=" is one of zero length (RFC 4954 4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/config/config.h"
#include "lib/ipc/messages_auth.h"
#include "lib/smtp/ehlo_offer.h"
#include "lib/smtp/reply_catalogue.h"
#include "lib/smtp/server_session.h"

namespace postern {

class AuthDialog {
 public:
  // What the session does after a call.
  enum class Next {
    kReadCommands,     // send reply; the exchange is over, or never began
    kReadAnswer,       // send reply, a challenge; read the client's answer line
    kAwaitAuthd,       // an AuthStart or AuthStep went out: wait for Result()
    kAuthenticated,    // send reply (235); user is the login authd proved
    kTooManyFailures,  // one logon failure too many: 421 4.7.0, end the session
  };
  struct Step {
    Next next = Next::kReadCommands;
    const Reply* reply = nullptr;  // nullptr for kAwaitAuthd and kTooManyFailures
    std::string text;              // the reply's text, expanded
    std::string user;              // kAuthenticated
    // The mechanism of an exchange authd ended (Result()), for the log.
    std::string mechanism;
  };

  // listener must outlive the dialog; authd's requests are appended to
  // *actions, which must outlive it too.
  AuthDialog(const ListenerConfig& listener, std::vector<Action>* actions);

  // Whether the listener offers AUTH after EHLO at all (advertise_auth and
  // at least one mechanism); without it AUTH is not implemented (502).
  bool enabled() const;
  // The AUTH command's argument: mechanism [SP initial-response].
  Step Begin(std::string_view argument, Transport transport);
  // The client's answer line to the last challenge.
  Step Answer(std::string_view line);
  // authd's answer to the last AuthStart or AuthStep: the challenge (raw
  // bytes) for kContinue, the user name for kSuccess (and, for the log
  // only, for kFailure and kTemporaryFailure).
  Step Result(ipc::AuthOutcome outcome, const std::string& data);
  // The exchange ends unanswered (an over-long answer line, the end of the
  // session): cancels it with authd if it began there. No-op without one.
  void Abandon();

 private:
  // An exchange in progress.
  struct Exchange {
    std::string mechanism;  // upper-case
    bool started = false;   // AuthStart sent (not yet while NTLM waits for NEGOTIATE)
  };

  const Reply* Refusal(std::string_view mechanism, Transport transport) const;
  Step Start(std::optional<std::string> initial_response);
  // Ends the exchange (cancelled with authd if it began) with reply.
  Step EndWith(const Reply& reply);
  // An exchange that ended without success, answered with reply (535 or
  // 454): one more logon failure.
  Step LogonFailed(const Reply& reply);
  // Result() for an answer that ends the exchange.
  Step Concluded(ipc::AuthOutcome outcome, const std::string& data);

  const ListenerConfig& listener_;
  std::vector<Action>* actions_;
  std::optional<Exchange> exchange_;
  uint32_t logon_failures_ = 0;
};

}  // namespace postern
