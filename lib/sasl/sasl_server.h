// lib/sasl/sasl_server.h — one server-side SASL exchange (SMTP AUTH) with Cyrus SASL.
//
// Owns one sasl_conn_t and the callbacks it was created with, so no file
// under /etc/sasl2 decides anything: passwords are checked by the auxprop
// method against the sasldb at SaslServerSettings::sasldb_path, in the realm
// `postern user add` writes (lib/sasl/auth_realm), and only the configured
// mechanisms are offered. Deals in raw bytes (smtpd does the base64), and
// answers every step with an ipc::AuthOutcome. Never logs, returns or keeps a
// password or a client's response; the one thing it remembers of the
// client's data is the login name attempted, for failure accounting.
// Single-threaded, like libsasl2.
#pragma once

#include <sasl/sasl.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"
#include "lib/config/config.h"
#include "lib/ipc/messages_auth.h"
#include "lib/sasl/sasl_users.h"

namespace postern {

struct SaslServerSettings {
  std::string sasldb_path;
  std::string realm;                    // user_realm: where sasldb lookups go
  std::string server_fqdn;              // this host's name (NTLM's target name)
  std::vector<std::string> mechanisms;  // upper case; a mechanism outside is never started
};

// The settings authd uses: config sasldb_path, the auth realm (realm, from
// lib/sasl/auth_realm's AuthRealmFor), myhostname, and the union of every
// listener's auth_mechanisms (in order of first mention).
SaslServerSettings SaslServerSettingsFor(const Config& config, std::string realm);

// The login name as authd reports and accounts it: white space around it
// removed, as libsasl2's canonicalisation does, and a trailing "@realm" (the
// auth realm, which libsasl2 appends to a name without an @) removed. So
// "alice" and "alice@<realm>" are both "alice", the same sasldb entry, and
// "bob@example.test" stays as it is.
std::string CanonicalLogin(std::string_view name, std::string_view realm);

struct SaslStep {
  ipc::AuthOutcome outcome;
  // kContinue: the raw challenge; kSuccess: the canonical login; else empty.
  std::string data;
};

class SaslServerExchange : private SaslUserObserver {
 public:
  // Asked with the canonical login as soon as the mechanism reveals it, before
  // any password is checked; false refuses it and the step fails.
  using UserGate = std::function<bool(const std::string& user)>;

  // Fails only when libsasl2 cannot be initialised or refuses a connection.
  static Result<std::unique_ptr<SaslServerExchange>> Create(const SaslServerSettings& settings,
                                                            UserGate gate);
  // The configured mechanisms that libsasl2 does not provide (a plugin that
  // is not installed). Initialises libsasl2 as Create does, so a daemon calls
  // it at start-up to fail early and warn.
  static Result<std::vector<std::string>> UnavailableMechanisms(const SaslServerSettings& settings);

  ~SaslServerExchange();
  SaslServerExchange(const SaslServerExchange&) = delete;
  SaslServerExchange& operator=(const SaslServerExchange&) = delete;

  // The first step; no initial_response is not the same as an empty one.
  SaslStep Start(std::string_view mechanism, std::optional<std::string_view> initial_response);
  // Every later step, after a kContinue.
  SaslStep Step(std::string_view response);

  // The canonical login attempted, once the mechanism has revealed it.
  const std::string& user() const { return user_; }
  // True when the last failure was the gate's refusal, not libsasl2's verdict.
  bool refused_by_gate() const { return refused_by_gate_; }
  // Why the last step did not succeed, for the log: libsasl2's detail (which
  // never holds a secret) or the refusal; empty after kContinue or kSuccess.
  const std::string& reason() const { return reason_; }

 private:
  SaslServerExchange(const SaslServerSettings& settings, UserGate gate);
  bool OnAuthenticationId(std::string_view name) override;
  SaslStep Finish(int rc, const char* out, unsigned out_length);
  SaslStep Fail(ipc::AuthOutcome outcome, std::string reason);

  enum class State { kNew, kRunning, kDone };

  std::string realm_;
  std::vector<std::string> mechanisms_;
  UserGate gate_;
  SaslCallbacks callbacks_;  // libsasl2 keeps a pointer: declared before conn_
  sasl_conn_t* conn_ = nullptr;
  State state_ = State::kNew;
  std::string user_;
  bool refused_by_gate_ = false;
  std::string reason_;
};

}  // namespace postern
