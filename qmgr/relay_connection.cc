// qmgr/relay_connection.cc — one connection to a next hop: qmgr/relay_connection.h.
#include "qmgr/relay_connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <variant>

#include "lib/base/log.h"

namespace postern {
namespace {

// Content is read from the store while less than this waits to be written.
constexpr size_t kOutputLowWater = 256 * 1024;

SessionEnd Deferred(const std::string& enhanced, const std::string& text) {
  return SessionEnd{false, Diagnostic{0, enhanced, text}};
}

SessionEnd ConnectFailed(const Target& target, int error) {
  return Deferred("4.4.1", "connect to " + target.ToString() + ": " + std::strerror(error));
}

}  // namespace

RelayConnection::RelayConnection(event_base* base, const Clock* clock, const QueueStore* store,
                                 ClientSettings settings,
                                 std::shared_ptr<const TlsClientCredentials> tls,
                                 TlsResumptionCache* resumption,
                                 std::shared_ptr<const SaslClientCredentials> sasl, Target target,
                                 Callbacks callbacks)
    : base_(base),
      clock_(clock),
      store_(store),
      target_(std::move(target)),
      callbacks_(std::move(callbacks)),
      settings_(settings),
      tls_credentials_(std::move(tls)),
      resumption_(resumption),
      sasl_credentials_(std::move(sasl)),
      session_(std::move(settings), *clock) {}

RelayConnection::~RelayConnection() {
  connect_event_.reset();
  if (connecting_fd_ >= 0) close(connecting_fd_);
}

Duration RelayConnection::setup_time() const {
  return ready_at_ ? std::chrono::duration_cast<Duration>(*ready_at_ - started_) : Duration::zero();
}

void RelayConnection::Connect(Duration connect_timeout) {
  timer_.reset(evtimer_new(base_, OnTimer, this));
  if (!timer_) return Finish(Deferred("4.3.0", "cannot create a connection's timer"));
  sockaddr_storage address;
  BindAddress to{target_.address, target_.port};
  const socklen_t length = to.ToSockaddr(&address);
  started_ = clock_->Now();
  connect_deadline_ = started_ + connect_timeout;
  ArmTimer();
  connecting_fd_ = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (connecting_fd_ < 0) return FinishFromLoop(ConnectFailed(target_, errno));
  if (connect(connecting_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 &&
      errno != EINPROGRESS)
    return FinishFromLoop(ConnectFailed(target_, errno));
  // Even a connect that completed at once is reported from the loop, when
  // the socket is writable.
  connect_event_.reset(event_new(base_, connecting_fd_, EV_WRITE, OnConnected, this));
  if (!connect_event_ || event_add(connect_event_.get(), nullptr) != 0)
    return FinishFromLoop(Deferred("4.3.0", "cannot wait for a connect to " + target_.ToString()));
}

void RelayConnection::Deliver(Envelope envelope) {
  sizes_[envelope.queue_id] = envelope.size;
  session_.Deliver(std::move(envelope));
  Pump();
}

void RelayConnection::Quit() {
  session_.Quit();
  Pump();
}

void RelayConnection::OnConnected(evutil_socket_t fd, short, void* self) {
  RelayConnection* connection = static_cast<RelayConnection*>(self);
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) return connection->Finish(ConnectFailed(connection->target_, error));
  connection->connect_deadline_ = TimePoint::max();
  connection->connecting_fd_ = -1;  // the stream owns it now
  connection->stream_ = std::make_unique<ClientStream>(
      connection->base_, fd, fd,
      ClientStream::Callbacks{
          .on_input = [connection](std::string_view bytes) { connection->OnInput(bytes); },
          // Everything went out: feed more content, or finish after the last
          // bytes of a session that closes.
          .on_drained = [connection] { connection->Pump(); },
          .on_end_of_input = [connection] { connection->OnInputEnded(); },
          .on_error = [connection] { connection->OnInputEnded(); },
      });
  connection->stream_->SetReading(true);
  connection->session_.Start();
  connection->Pump();
}

void RelayConnection::OnInput(std::string_view bytes) {
  if (tls_)
    ReadTls(bytes);
  else
    session_.Received(bytes);
  Pump();
}

// The next hop closed the connection, or it broke.
void RelayConnection::OnInputEnded() {
  if (closing_) return Finish(end_);
  session_.PeerClosed();
  Pump();
}

void RelayConnection::OnTimer(evutil_socket_t, short, void* self) {
  RelayConnection* connection = static_cast<RelayConnection*>(self);
  if (!connection->stream_ && connection->clock_->Now() >= connection->connect_deadline_)
    return connection->Finish(
        Deferred("4.4.1", "connect to " + connection->target_.ToString() + ": timed out"));
  if (connection->closing_) return connection->Finish(connection->end_);
  connection->session_.OnTimer();
  connection->Pump();
}

void RelayConnection::Pump() {
  if (pumping_ || closed_) return;  // the loop below picks up what a callback caused
  pumping_ = true;
  for (;;) {
    std::vector<ClientAction> actions = session_.TakeActions();
    if (closed_) break;
    if (actions.empty()) {
      // What this turn sent goes out in one write; then content, while the
      // socket takes it, and the actions that follow from it.
      if (stream_) stream_->Flush();
      if (closed_ || !FeedContent()) break;
      continue;
    }
    for (ClientAction& action : actions) {
      if (closed_) break;  // a failure finished the connection meanwhile
      if (auto* send = std::get_if<client_action::Send>(&action)) {
        Write(send->bytes);
      } else if (std::holds_alternative<client_action::StartTls>(action)) {
        StartTls();
      } else if (auto* start = std::get_if<client_action::AuthStart>(&action)) {
        StartAuth(start->mechanism);
      } else if (auto* step = std::get_if<client_action::AuthContinue>(&action)) {
        ContinueAuth(step->challenge);
      } else if (auto* need = std::get_if<client_action::NeedContent>(&action)) {
        wanted_ = ContentWanted{need->queue_id, need->offset, sizes_[need->queue_id]};
      } else if (auto* done = std::get_if<client_action::MessageDone>(&action)) {
        sizes_.erase(done->outcome.queue_id);
        if (callbacks_.message_done) callbacks_.message_done(this, std::move(done->outcome));
      } else if (std::holds_alternative<client_action::Ready>(action)) {
        if (!ready_at_) ready_at_ = clock_->Now();
        if (callbacks_.ready) callbacks_.ready(this);
      } else if (auto* close = std::get_if<client_action::Close>(&action)) {
        closing_ = true;
        end_ = close->end;
        if (tls_ && tls_->state() == TlsChannel::State::kOpen) {
          tls_->Close();
          FlushCiphertext();
        }
      }
    }
  }
  pumping_ = false;
  if (closed_) return;
  if (closing_ && (!stream_ || stream_->unsent() == 0)) return Finish(end_);
  ArmTimer();
}

void RelayConnection::Write(std::string_view bytes) {
  if (!stream_) return;  // nothing is sent before the connection is made
  if (!tls_) {
    stream_->Send(bytes);
    return;
  }
  if (Status s = tls_->Write(bytes); !s.ok()) {
    session_.PeerClosed();  // the channel is broken: everything not final is deferred
    return;
  }
  FlushCiphertext();
}

void RelayConnection::FlushCiphertext() {
  const std::string ciphertext = tls_->TakeCiphertext();
  if (!ciphertext.empty()) stream_->Send(ciphertext);
}

void RelayConnection::StartTls() {
  if (!tls_credentials_) return session_.TlsFailed("no TLS client credentials are loaded");
  const CertificateCheck check =
      settings_.tls == RelayTls::kVerify ? CertificateCheck::kVerify : CertificateCheck::kNone;
  resumption_key_ = TlsResumptionCache::NextHopKey(
      check == CertificateCheck::kVerify ? "verify" : "none", target_.host, target_.ToString());
  Result<std::unique_ptr<TlsClientSession>> created = TlsClientSession::Create(
      *tls_credentials_, target_.host, check, resumption_->Take(resumption_key_));
  if (!created.ok()) return session_.TlsFailed(created.status().message());
  tls_ = std::move(*created);
  std::string plaintext;
  if (Status s = tls_->Advance(&plaintext); !s.ok()) return session_.TlsFailed(s.message());
  FlushCiphertext();  // the ClientHello
}

void RelayConnection::StartAuth(const std::string& mechanism) {
  if (!sasl_credentials_) return session_.AuthFailed("no relay credentials are loaded");
  Result<std::unique_ptr<SaslClientExchange>> created =
      SaslClientExchange::Create(target_.host, *sasl_credentials_);
  if (!created.ok()) return session_.AuthFailed(created.status().message());
  sasl_ = std::move(*created);
  Result<std::optional<std::string>> first = sasl_->Start(mechanism);
  if (!first.ok()) return session_.AuthFailed(first.status().message());
  session_.AuthResponse(std::move(*first));
}

void RelayConnection::ContinueAuth(const std::string& challenge) {
  if (!sasl_) return session_.AuthFailed("a challenge without an AUTH exchange");
  Result<std::string> response = sasl_->Step(challenge);
  if (!response.ok()) return session_.AuthFailed(response.status().message());
  session_.AuthResponse(std::move(*response));
}

void RelayConnection::ReadTls(std::string_view ciphertext) {
  const bool handshaking = tls_->state() == TlsChannel::State::kHandshaking;
  tls_->FeedCiphertext(ciphertext);
  std::string plaintext;
  Status advanced = tls_->Advance(&plaintext);
  FlushCiphertext();
  if (!advanced.ok()) {
    LOG_INFO("TLS with %s failed: %s", target_.ToString().c_str(), advanced.message().c_str());
    if (handshaking) return session_.TlsFailed(advanced.message());
    return session_.PeerClosed();
  }
  if (handshaking && tls_->state() != TlsChannel::State::kHandshaking) {
    LOG_INFO("%s TLS connection established to %s: %s with cipher %s%s",
             tls_->verified() ? "Verified" : "Untrusted", target_.ToString().c_str(),
             tls_->version().c_str(), tls_->cipher().c_str(), tls_->resumed() ? ", resumed" : "");
    session_.TlsStarted();
  }
  if (!resumption_kept_) {
    std::string session = tls_->ResumptionData();
    resumption_kept_ = !session.empty();
    resumption_->Keep(resumption_key_, std::move(session));
  }
  if (!plaintext.empty()) session_.Received(plaintext);
}

bool RelayConnection::FeedContent() {
  if (!wanted_ || closing_ || !stream_ || stream_->unsent() >= kOutputLowWater) return false;
  ContentWanted want = *wanted_;
  wanted_.reset();
  if (want.offset >= want.size) {
    session_.ContentPiece("", true);
    return true;
  }
  Result<std::string> piece = store_->ReadPiece(want.queue_id, want.offset);
  if (!piece.ok()) {
    // The message cannot be read: nothing sensible can follow on this
    // connection (the peer waits for the rest of the data).
    LOG_ERROR("%s: cannot read the message to relay it: %s", want.queue_id.c_str(),
              piece.status().message().c_str());
    Finish(Deferred("4.3.0", "cannot read the message: " + piece.status().message()));
    return false;
  }
  // The session's next NeedContent (if any) comes with its actions.
  session_.ContentPiece(*piece, want.offset + piece->size() >= want.size);
  return true;
}

void RelayConnection::ArmTimer() {
  if (closed_ || !timer_) return;
  TimePoint next = std::min(session_.NextDeadline(), connect_deadline_);
  if (next == TimePoint::max()) {
    event_del(timer_.get());
    return;
  }
  timeval delay = ToTimeval(next - clock_->Now());
  evtimer_add(timer_.get(), &delay);
}

void RelayConnection::FinishFromLoop(const SessionEnd& end) {
  closing_ = true;
  end_ = end;
  const timeval now{0, 0};
  evtimer_add(timer_.get(), &now);
}

void RelayConnection::Finish(const SessionEnd& end) {
  if (closed_) return;
  closed_ = true;
  if (timer_) event_del(timer_.get());
  if (connect_event_) event_del(connect_event_.get());
  // Stopped, not freed: this may run inside one of the stream's callbacks.
  // The owner frees the connection, and with it the socket, from the loop.
  if (stream_) stream_->Stop();
  if (callbacks_.closed) callbacks_.closed(this, end);
}

}  // namespace postern
