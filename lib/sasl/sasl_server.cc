// lib/sasl/sasl_server.cc — see lib/sasl/sasl_server.h.
//
// libsasl2 is initialised once per process (InitSaslServer); each exchange
// brings its own callbacks, which override the global ones, so a reloaded
// configuration applies to the next exchange while running ones keep theirs.
#include "lib/sasl/sasl_server.h"

#include <algorithm>

#include "lib/base/ascii.h"

namespace postern {
namespace {

bool IsSaslSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::string Join(const std::vector<std::string>& words) {
  std::string joined;
  for (const std::string& word : words) {
    if (!joined.empty()) joined += ' ';
    joined += word;
  }
  return joined;
}

// What a libsasl2 result means for the client: a verdict about what it sent,
// or trouble on our side that another attempt may not meet.
ipc::AuthOutcome OutcomeOf(int rc) {
  switch (rc) {
    case SASL_NOMECH:
      return ipc::AuthOutcome::kUnknownMechanism;
    case SASL_BADAUTH:
    case SASL_NOUSER:
    case SASL_BADPROT:
    case SASL_NOAUTHZ:
    case SASL_NOVERIFY:
    case SASL_EXPIRED:
    case SASL_DISABLED:
    case SASL_TOOWEAK:
    case SASL_ENCRYPT:
    case SASL_TRANS:
    case SASL_BADPARAM:
    case SASL_WEAKPASS:
    case SASL_BADVERS:
    // What the client sent does not fit libsasl2's fixed buffers: a user
    // name of about 1,000 octets or more overflows the canonicalisation
    // buffer. The client's doing, not the server's trouble.
    case SASL_BUFOVER:
      return ipc::AuthOutcome::kFailure;
    default:  // SASL_FAIL, SASL_NOMEM, SASL_TRYAGAIN, SASL_UNAVAIL, ...
      return ipc::AuthOutcome::kTemporaryFailure;
  }
}

}  // namespace

SaslServerSettings SaslServerSettingsFor(const Config& config, std::string realm) {
  SaslServerSettings settings{config.sasldb_path, std::move(realm), config.myhostname, {}};
  for (const ListenerConfig& listener : config.listeners) {
    for (const std::string& mechanism : listener.auth_mechanisms) {
      std::string upper = AsciiUpperCase(mechanism);
      if (std::find(settings.mechanisms.begin(), settings.mechanisms.end(), upper) ==
          settings.mechanisms.end())
        settings.mechanisms.push_back(std::move(upper));
    }
  }
  return settings;
}

std::string CanonicalLogin(std::string_view name, std::string_view realm) {
  while (!name.empty() && IsSaslSpace(name.front())) name.remove_prefix(1);
  while (!name.empty() && IsSaslSpace(name.back())) name.remove_suffix(1);
  if (!realm.empty() && name.size() > realm.size() + 1 && name.ends_with(realm) &&
      name[name.size() - realm.size() - 1] == '@')
    name.remove_suffix(realm.size() + 1);
  return std::string(name);
}

SaslServerExchange::SaslServerExchange(const SaslServerSettings& settings, UserGate gate)
    : realm_(settings.realm),
      mechanisms_(settings.mechanisms),
      gate_(std::move(gate)),
      callbacks_(SaslOptions{settings.sasldb_path, Join(settings.mechanisms)}, this) {}

SaslServerExchange::~SaslServerExchange() {
  if (conn_ != nullptr) sasl_dispose(&conn_);
}

Result<std::unique_ptr<SaslServerExchange>> SaslServerExchange::Create(
    const SaslServerSettings& settings, UserGate gate) {
  // Every connection brings its own options, so the global list needs none.
  static const SaslCallbacks global{SaslOptions{}};
  if (Status s = InitSaslServer(&global); !s.ok()) return s;
  std::unique_ptr<SaslServerExchange> exchange(new SaslServerExchange(settings, std::move(gate)));
  int rc = sasl_server_new(kSaslService, settings.server_fqdn.c_str(), settings.realm.c_str(),
                           nullptr, nullptr, exchange->callbacks_.get(), 0, &exchange->conn_);
  if (rc != SASL_OK)
    return Status::Error(std::string("cannot start a SASL server connection: ") +
                         sasl_errstring(rc, nullptr, nullptr));
  return exchange;
}

Result<std::vector<std::string>> SaslServerExchange::UnavailableMechanisms(
    const SaslServerSettings& settings) {
  Result<std::unique_ptr<SaslServerExchange>> exchange = Create(settings, nullptr);
  if (!exchange.ok()) return exchange.status();
  const char* list = nullptr;
  int rc = sasl_listmech((*exchange)->conn_, nullptr, " ", " ", " ", &list, nullptr, nullptr);
  if (rc != SASL_OK && rc != SASL_NOMECH)
    return Status::Error(std::string("cannot list libsasl2's mechanisms: ") +
                         sasl_errstring(rc, nullptr, nullptr));
  std::string provided = rc == SASL_OK && list != nullptr ? list : " ";
  std::vector<std::string> missing;
  for (const std::string& mechanism : settings.mechanisms) {
    if (provided.find(" " + mechanism + " ") == std::string::npos) missing.push_back(mechanism);
  }
  return missing;
}

SaslStep SaslServerExchange::Start(std::string_view mechanism,
                                   std::optional<std::string_view> initial_response) {
  if (state_ != State::kNew)
    return Fail(ipc::AuthOutcome::kFailure, "a second start of the same exchange");
  state_ = State::kRunning;
  bool offered = std::any_of(mechanisms_.begin(), mechanisms_.end(), [&](const std::string& m) {
    return AsciiEqualsIgnoreCase(m, mechanism);
  });
  if (!offered) return Fail(ipc::AuthOutcome::kUnknownMechanism, "mechanism not offered");
  std::string name(mechanism);
  // libsasl2 tells an empty initial response from none by the pointer alone.
  const char* in = nullptr;
  if (initial_response) in = initial_response->empty() ? "" : initial_response->data();
  const char* out = nullptr;
  unsigned out_length = 0;
  int rc = sasl_server_start(conn_, name.c_str(), in,
                             in != nullptr ? static_cast<unsigned>(initial_response->size()) : 0,
                             &out, &out_length);
  return Finish(rc, out, out_length);
}

SaslStep SaslServerExchange::Step(std::string_view response) {
  if (state_ != State::kRunning)
    return Fail(ipc::AuthOutcome::kFailure, "a step outside a running exchange");
  const char* out = nullptr;
  unsigned out_length = 0;
  int rc = sasl_server_step(conn_, response.data(), static_cast<unsigned>(response.size()), &out,
                            &out_length);
  return Finish(rc, out, out_length);
}

SaslStep SaslServerExchange::Finish(int rc, const char* out, unsigned out_length) {
  if (rc == SASL_CONTINUE) {
    reason_.clear();
    return {ipc::AuthOutcome::kContinue, std::string(out != nullptr ? out : "", out_length)};
  }
  if (refused_by_gate_)
    return Fail(ipc::AuthOutcome::kFailure, "refused before any password check");
  if (rc != SASL_OK) {
    const char* detail = sasl_errdetail(conn_);
    return Fail(OutcomeOf(rc), detail != nullptr ? detail : sasl_errstring(rc, nullptr, nullptr));
  }
  const void* name = nullptr;
  if (sasl_getprop(conn_, SASL_USERNAME, &name) != SASL_OK || name == nullptr)
    return Fail(ipc::AuthOutcome::kTemporaryFailure, "libsasl2 reports success without a user");
  state_ = State::kDone;
  user_ = CanonicalLogin(static_cast<const char*>(name), realm_);
  reason_.clear();
  return {ipc::AuthOutcome::kSuccess, user_};
}

SaslStep SaslServerExchange::Fail(ipc::AuthOutcome outcome, std::string reason) {
  state_ = State::kDone;
  reason_ = std::move(reason);
  return {outcome, ""};
}

bool SaslServerExchange::OnAuthenticationId(std::string_view name) {
  // libsasl2 may canonicalise again what it was handed after a refusal.
  if (refused_by_gate_) return false;
  user_ = CanonicalLogin(name, realm_);
  if (gate_ && !gate_(user_)) refused_by_gate_ = true;
  return !refused_by_gate_;
}

}  // namespace postern
