// auth/auth_server.cc — see auth/auth_server.h.
#include "auth/auth_server.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "lib/base/log.h"
#include "lib/base/printable.h"

namespace postern {
namespace {

using ipc::AuthOutcome;

// Out of descriptors or memory: accepting again at once would spin; a
// second lets connections close and the administrator read the warning.
constexpr std::chrono::seconds kAcceptPause{1};
// smtpd keeps one exchange per session in AUTH; far more than any worker has
// sessions means a peer that never ends its exchanges.
constexpr size_t kMaxExchangesPerClient = 10000;
// Enough of a user name or a libsasl2 detail for the log.
constexpr size_t kMaxLoggedLength = 200;

bool IsResourceShortage(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

std::string Seconds(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + "s";
}

}  // namespace

AuthSettings AuthSettingsFor(const Config& config) {
  return AuthSettings{SaslServerSettingsFor(config), config.auth_lockout_failures,
                      config.auth_lockout_time};
}

AuthServer::AuthServer(event_base* base, int listen_fd, const Clock& clock, AuthSettings settings)
    : base_(base),
      listen_fd_(listen_fd),
      sasl_settings_(std::move(settings.sasl)),
      lockout_(clock, settings.lockout_failures, settings.lockout_time) {}

AuthServer::~AuthServer() = default;

Status AuthServer::Start() {
  int flags = fcntl(listen_fd_, F_GETFL);
  if (flags < 0 || fcntl(listen_fd_, F_SETFL, flags | O_NONBLOCK) != 0)
    return Status::Error("cannot make the listening socket (fd " + std::to_string(listen_fd_) +
                         ") non-blocking: " + strerror(errno));
  accept_event_.reset(event_new(base_, listen_fd_, EV_READ | EV_PERSIST, OnAccept, this));
  accept_retry_.reset(evtimer_new(base_, OnAcceptRetry, this));
  if (!accept_event_ || !accept_retry_ || event_add(accept_event_.get(), nullptr) != 0)
    return Status::Error("cannot watch the listening socket with libevent");
  return Status::Ok();
}

void AuthServer::Reconfigure(AuthSettings settings) {
  sasl_settings_ = std::move(settings.sasl);
  lockout_.Reconfigure(settings.lockout_failures, settings.lockout_time);
}

void AuthServer::OnAccept(evutil_socket_t, short, void* self) {
  static_cast<AuthServer*>(self)->AcceptAll();
}

void AuthServer::OnAcceptRetry(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<AuthServer*>(self_ptr);
  event_add(self->accept_event_.get(), nullptr);
  self->AcceptAll();
}

void AuthServer::AcceptAll() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      Adopt(fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    LOG_WARNING("accept on the auth socket: %s", strerror(errno));
    if (IsResourceShortage(errno)) PauseAccepting();
    return;
  }
}

void AuthServer::PauseAccepting() {
  event_del(accept_event_.get());
  timeval pause = ToTimeval(kAcceptPause);
  evtimer_add(accept_retry_.get(), &pause);
}

void AuthServer::Adopt(int fd) {
  auto client = std::make_unique<Client>();
  client->server = this;
  client->bev.reset(bufferevent_socket_new(base_, fd, BEV_OPT_CLOSE_ON_FREE));
  if (!client->bev) {
    LOG_WARNING("cannot set up an auth connection: out of memory");
    close(fd);
    return;
  }
  bufferevent_setcb(client->bev.get(), OnRead, nullptr, OnEvent, client.get());
  bufferevent_enable(client->bev.get(), EV_READ | EV_WRITE);
  clients_[client.get()] = std::move(client);
}

void AuthServer::OnRead(bufferevent* bev, void* client_ptr) {
  auto* client = static_cast<Client*>(client_ptr);
  evbuffer* input = bufferevent_get_input(bev);
  size_t length = evbuffer_get_length(input);
  client->decoder.Feed(std::string_view(
      reinterpret_cast<const char*>(evbuffer_pullup(input, static_cast<ev_ssize_t>(length))),
      length));
  evbuffer_drain(input, length);
  for (;;) {
    Result<std::optional<ipc::Frame>> frame = client->decoder.Next();
    if (!frame.ok()) {
      LOG_WARNING("auth client sent a malformed frame: %s; closing its connection",
                  frame.status().message().c_str());
      client->server->Drop(client);
      return;
    }
    if (!frame->has_value()) return;
    if (!client->server->Serve(client, **frame)) return;
  }
}

bool AuthServer::Serve(Client* client, const ipc::Frame& frame) {
  Status served = ServeFrame(client, frame);
  if (served.ok()) return true;
  LOG_WARNING("auth client sent %s; closing its connection", served.message().c_str());
  Drop(client);
  return false;
}

Status AuthServer::ServeFrame(Client* client, const ipc::Frame& frame) {
  switch (frame.type) {
    case ipc::MsgType::kPing:
      return ipc::DecodeThen<ipc::Ping>(frame,
                                        [&](const ipc::Ping&) { Write(client, ipc::Pong{}); });
    case ipc::MsgType::kAuthStart:
      return ipc::DecodeThen<ipc::AuthStart>(
          frame, [&](const ipc::AuthStart& m) { ServeStart(client, m); });
    case ipc::MsgType::kAuthStep:
      return ipc::DecodeThen<ipc::AuthStep>(frame,
                                            [&](const ipc::AuthStep& m) { ServeStep(client, m); });
    case ipc::MsgType::kAuthCancel:
      return ipc::DecodeThen<ipc::AuthCancel>(
          frame, [&](const ipc::AuthCancel& m) { client->exchanges.erase(m.auth_id); });
    default:
      return Status::Error(ipc::MsgTypeName(frame.type) + " (" +
                           std::to_string(frame.payload.size()) +
                           " payload bytes), which authd does not serve");
  }
}

void AuthServer::ServeStart(Client* client, const ipc::AuthStart& start) {
  Exchange* exchange = Begin(client, start.auth_id, start.mechanism, start.client_address);
  if (exchange == nullptr) return;
  SaslStep step = exchange->sasl->Start(
      start.mechanism, start.initial_response
                           ? std::optional<std::string_view>(*start.initial_response)
                           : std::nullopt);
  Conclude(client, start.auth_id, step);
}

void AuthServer::ServeStep(Client* client, const ipc::AuthStep& step) {
  auto found = client->exchanges.find(step.auth_id);
  if (found == client->exchanges.end()) {
    LOG_WARNING(
        "auth client sent a step for exchange %llu, which it never started or which "
        "has ended; answered as a failure",
        static_cast<unsigned long long>(step.auth_id));
    Reply(client, step.auth_id, AuthOutcome::kFailure, "");
    return;
  }
  Conclude(client, step.auth_id, found->second.sasl->Step(step.response));
}

AuthServer::Exchange* AuthServer::Begin(Client* client, uint64_t auth_id,
                                        const std::string& mechanism,
                                        const std::string& client_address) {
  if (client->exchanges.erase(auth_id) != 0) {
    LOG_WARNING("auth client started exchange %llu twice; both end as a failure",
                static_cast<unsigned long long>(auth_id));
    Reply(client, auth_id, AuthOutcome::kFailure, "");
    return nullptr;
  }
  if (client->exchanges.size() >= kMaxExchangesPerClient) {
    LOG_WARNING(
        "auth client has %zu exchanges open, the most authd keeps; AUTH %s from %s "
        "answered as a temporary failure",
        client->exchanges.size(), Printable(mechanism, kMaxLoggedLength).c_str(),
        Printable(client_address, kMaxLoggedLength).c_str());
    Reply(client, auth_id, AuthOutcome::kTemporaryFailure, "");
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
    Reply(client, auth_id, AuthOutcome::kTemporaryFailure, "");
    return nullptr;
  }
  Exchange& exchange = client->exchanges[auth_id];
  exchange = Exchange{std::move(*sasl), mechanism, client_address};
  return &exchange;
}

void AuthServer::Conclude(Client* client, uint64_t auth_id, const SaslStep& step) {
  Exchange& exchange = client->exchanges.at(auth_id);
  const SaslServerExchange& sasl = *exchange.sasl;
  std::string mechanism = Printable(exchange.mechanism, kMaxLoggedLength);
  std::string user = sasl.user().empty() ? "(none)" : Printable(sasl.user(), kMaxLoggedLength);
  std::string address = Printable(exchange.client_address, kMaxLoggedLength);
  std::string reason = Printable(sasl.reason(), kMaxLoggedLength);
  switch (step.outcome) {
    case AuthOutcome::kContinue:
      Reply(client, auth_id, step.outcome, step.data);
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
  Reply(client, auth_id, step.outcome, step.data);
  client->exchanges.erase(auth_id);
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

void AuthServer::Reply(Client* client, uint64_t auth_id, AuthOutcome outcome,
                       const std::string& data) {
  Write(client, ipc::AuthReply{auth_id, outcome, data});
}

template <typename Message>
void AuthServer::Write(Client* client, const Message& message) {
  std::string frame = ipc::EncodeFrame(message);
  bufferevent_write(client->bev.get(), frame.data(), frame.size());
}

void AuthServer::OnEvent(bufferevent*, short what, void* client_ptr) {
  auto* client = static_cast<Client*>(client_ptr);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) client->server->Drop(client);
}

void AuthServer::Drop(Client* client) { clients_.erase(client); }

}  // namespace postern
