// auth/auth_server.cc — see auth/auth_server.h.
#include "auth/auth_server.h"

#include <chrono>

#include "lib/base/log.h"
#include "lib/base/printable.h"
#include "lib/sasl/auth_realm.h"

namespace postern {
namespace {

using ipc::AuthOutcome;

// smtpd keeps one exchange per session in AUTH; far more than any worker has
// sessions means a peer that never ends its exchanges.
constexpr size_t kMaxExchangesPerClient = 10000;
// Enough of a user name or a libsasl2 detail for the log.
constexpr size_t kMaxLoggedLength = 200;

std::string Seconds(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + "s";
}

}  // namespace

Result<AuthSettings> AuthSettingsFor(const Config& config) {
  Result<std::string> realm = AuthRealmFor(config);
  if (!realm.ok()) return realm.status();
  Result<RecipientDirectory> recipients = RecipientDirectory::Load(config, *realm);
  if (!recipients.ok()) return recipients.status();
  return AuthSettings{SaslServerSettingsFor(config, std::move(*realm)),
                      config.auth_lockout_failures, config.auth_lockout_time,
                      std::move(*recipients)};
}

AuthServer::AuthServer(event_base* base, int listen_fd, const Clock& clock, AuthSettings settings)
    : sasl_settings_(std::move(settings.sasl)),
      lockout_(clock, settings.lockout_failures, settings.lockout_time),
      recipients_(std::move(settings.recipients)),
      server_(base, "auth socket", listen_fd,
              FramedServer::Handlers{
                  .frame = [this](PeerId peer,
                                  const ipc::Frame& frame) { return ServeFrame(peer, frame); },
                  .closed = [this](PeerId peer) { exchanges_.erase(peer); }},
              FramedServer::Limits{}) {}

AuthServer::~AuthServer() = default;

Status AuthServer::Start() { return server_.Start(); }

void AuthServer::Reconfigure(AuthSettings settings) {
  sasl_settings_ = std::move(settings.sasl);
  lockout_.Reconfigure(settings.lockout_failures, settings.lockout_time);
  recipients_ = std::move(settings.recipients);
}

Status AuthServer::ServeFrame(PeerId peer, const ipc::Frame& frame) {
  switch (frame.type) {
    case ipc::MsgType::kPing:
      return ipc::DecodeThen<ipc::Ping>(frame,
                                        [&](const ipc::Ping&) { server_.Send(peer, ipc::Pong{}); });
    case ipc::MsgType::kAuthStart:
      return ipc::DecodeThen<ipc::AuthStart>(frame,
                                             [&](const ipc::AuthStart& m) { ServeStart(peer, m); });
    case ipc::MsgType::kAuthStep:
      return ipc::DecodeThen<ipc::AuthStep>(frame,
                                            [&](const ipc::AuthStep& m) { ServeStep(peer, m); });
    case ipc::MsgType::kAuthCancel:
      return ipc::DecodeThen<ipc::AuthCancel>(
          frame, [&](const ipc::AuthCancel& m) { exchanges_[peer].erase(m.auth_id); });
    case ipc::MsgType::kRecipientQuery:
      return ipc::DecodeThen<ipc::RecipientQuery>(frame, [&](const ipc::RecipientQuery& m) {
        RecipientDirectory::Lookup lookup = recipients_.Check(m.address);
        server_.Send(peer,
                     ipc::RecipientAnswer{m.query_id, lookup.verdict, std::move(lookup.known_as)});
      });
    default:
      return Status::Error("it sent " + ipc::MsgTypeName(frame.type) + " (" +
                           std::to_string(frame.payload.size()) +
                           " payload bytes), which authd does not serve");
  }
}

void AuthServer::ServeStart(PeerId peer, const ipc::AuthStart& start) {
  Exchange* exchange = Begin(peer, start.auth_id, start.mechanism, start.client_address);
  if (exchange == nullptr) return;
  SaslStep step = exchange->sasl->Start(
      start.mechanism, start.initial_response
                           ? std::optional<std::string_view>(*start.initial_response)
                           : std::nullopt);
  Conclude(peer, start.auth_id, step);
}

void AuthServer::ServeStep(PeerId peer, const ipc::AuthStep& step) {
  auto found = exchanges_[peer].find(step.auth_id);
  if (found == exchanges_[peer].end()) {
    LOG_WARNING(
        "auth client sent a step for exchange %llu, which it never started or which "
        "has ended; answered as a failure",
        static_cast<unsigned long long>(step.auth_id));
    Reply(peer, step.auth_id, AuthOutcome::kFailure, "");
    return;
  }
  Conclude(peer, step.auth_id, found->second.sasl->Step(step.response));
}

AuthServer::Exchange* AuthServer::Begin(PeerId peer, uint64_t auth_id, const std::string& mechanism,
                                        const std::string& client_address) {
  if (exchanges_[peer].erase(auth_id) != 0) {
    LOG_WARNING("auth client started exchange %llu twice; both end as a failure",
                static_cast<unsigned long long>(auth_id));
    Reply(peer, auth_id, AuthOutcome::kFailure, "");
    return nullptr;
  }
  if (exchanges_[peer].size() >= kMaxExchangesPerClient) {
    LOG_WARNING(
        "auth client has %zu exchanges open, the most authd keeps; AUTH %s from %s "
        "answered as a temporary failure",
        exchanges_[peer].size(), Printable(mechanism, kMaxLoggedLength).c_str(),
        Printable(client_address, kMaxLoggedLength).c_str());
    Reply(peer, auth_id, AuthOutcome::kTemporaryFailure, "");
    return nullptr;
  }
  auto gate = [this, client_address](const std::string& user) {
    if (!lockout_.IsLockedOut(client_address, user)) return true;
    LOG_WARNING("AUTH refused: user %s from %s is locked out after repeated failures",
                Printable(user, kMaxLoggedLength).c_str(),
                Printable(client_address, kMaxLoggedLength).c_str());
    return false;
  };
  Result<std::unique_ptr<SaslServerExchange>> sasl =
      SaslServerExchange::Create(sasl_settings_, std::move(gate));
  if (!sasl.ok()) {
    LOG_ERROR("AUTH %s from %s could not be decided: %s",
              Printable(mechanism, kMaxLoggedLength).c_str(),
              Printable(client_address, kMaxLoggedLength).c_str(), sasl.status().message().c_str());
    Reply(peer, auth_id, AuthOutcome::kTemporaryFailure, "");
    return nullptr;
  }
  Exchange& exchange = exchanges_[peer][auth_id];
  exchange = Exchange{std::move(*sasl), mechanism, client_address};
  return &exchange;
}

void AuthServer::Conclude(PeerId peer, uint64_t auth_id, const SaslStep& step) {
  Exchange& exchange = exchanges_[peer].at(auth_id);
  const SaslServerExchange& sasl = *exchange.sasl;
  std::string mechanism = Printable(exchange.mechanism, kMaxLoggedLength);
  std::string user = sasl.user().empty() ? "(none)" : Printable(sasl.user(), kMaxLoggedLength);
  std::string address = Printable(exchange.client_address, kMaxLoggedLength);
  std::string reason = Printable(sasl.reason(), kMaxLoggedLength);
  switch (step.outcome) {
    case AuthOutcome::kContinue:
      Reply(peer, auth_id, step.outcome, step.data);
      return;
    case AuthOutcome::kSuccess:
      LOG_INFO("AUTH %s succeeded: user %s from %s", mechanism.c_str(), user.c_str(),
               address.c_str());
      lockout_.RecordSuccess(exchange.client_address, sasl.user());
      break;
    case AuthOutcome::kFailure:
      LOG_INFO("AUTH %s failed: user %s from %s: %s", mechanism.c_str(), user.c_str(),
               address.c_str(), reason.c_str());
      CountFailure(exchange);
      break;
    case AuthOutcome::kUnknownMechanism:
      LOG_INFO("AUTH %s refused: mechanism not offered, from %s", mechanism.c_str(),
               address.c_str());
      break;
    case AuthOutcome::kTemporaryFailure:
      LOG_ERROR("AUTH %s could not be decided (libsasl2 or sasldb trouble): user %s from %s: %s",
                mechanism.c_str(), user.c_str(), address.c_str(), reason.c_str());
      // Counted like a failure: a client that makes libsasl2 stumble must
      // not get its guesses for free.
      CountFailure(exchange);
      break;
  }
  // A failure names the user it was for, for smtpd's log line; never the password.
  const bool failed =
      step.outcome == AuthOutcome::kFailure || step.outcome == AuthOutcome::kTemporaryFailure;
  Reply(peer, auth_id, step.outcome, failed ? sasl.user() : step.data);
  exchanges_[peer].erase(auth_id);
}

void AuthServer::CountFailure(const Exchange& exchange) {
  const SaslServerExchange& sasl = *exchange.sasl;
  // A refusal by the gate is the lockout itself; without a user there is no
  // pair to count.
  if (sasl.refused_by_gate() || sasl.user().empty()) return;
  if (!lockout_.RecordFailure(exchange.client_address, sasl.user())) return;
  LOG_WARNING("user %s from %s locked out for %s after %u failures",
              Printable(sasl.user(), kMaxLoggedLength).c_str(),
              Printable(exchange.client_address, kMaxLoggedLength).c_str(),
              Seconds(lockout_.window()).c_str(), lockout_.max_failures());
}

void AuthServer::Reply(PeerId peer, uint64_t auth_id, AuthOutcome outcome,
                       const std::string& data) {
  server_.Send(peer, ipc::AuthReply{auth_id, outcome, data});
}

}  // namespace postern
