// smtpd/session_driver.cc — see smtpd/session_driver.h.
#include "smtpd/session_driver.h"

#include <unistd.h>

#include <chrono>
#include <type_traits>

#include "lib/base/log.h"

namespace postern {
namespace {

// How long a tls_wrapper client may take over its handshake when the
// listener has no inactivity timeout to lend.
constexpr Duration kDefaultHandshakeTimeout = std::chrono::minutes(1);
// Output not yet written to the client past which nothing more is read
// from it: whatever the client does, a session holds at most about this
// much output (the session itself stops at 16 KB of replies; TLS records
// and alerts add a little).
constexpr size_t kMaxUnsentOutput = 64 * 1024;
// How long the last replies of a closed session may wait for a client that
// does not read them before the connection is dropped.
constexpr Duration kCloseLinger = std::chrono::seconds(10);

}  // namespace

SessionDriver::SessionDriver(WorkerContext* context, const ListenerConfig& listener, int in_fd,
                             int out_fd, ClientInfo client, uint64_t conn_id)
    : context_(context),
      listener_(listener),
      session_(*context->config, listener, client, *context->clock),
      conn_id_(conn_id),
      client_address_(client.address),
      client_name_(ClientLogName(client.hostname, client.address)),
      connected_at_(client.connected_at),
      connection_(context->base, in_fd, out_fd,
                  ClientStream::Callbacks{
                      .on_input = [this](std::string_view bytes) { OnInput(bytes); },
                      .on_drained = [this] { OnDrained(); },
                      .on_end_of_input = [this] { OnEndOfInput(); },
                      .on_error = [this] { OnError(); },
                  }) {
  if (context_->sender_login_map)
    session_.UseSenderLoginMap(context_->sender_login_map(listener.name));
  timer_.reset(evtimer_new(context_->base, OnTimer, this));
}

SessionDriver::~SessionDriver() {
  context_->queue->CancelWait(this);
  if (stream_ != 0) context_->queue->Forget(stream_);
  if (auth_exchange_ != 0) context_->auth->Cancel(auth_exchange_);
  if (recipient_query_ != 0) context_->auth->ForgetRecipientCheck(recipient_query_);
}

void SessionDriver::Start() {
  if (!listener_.tls_wrapper) {
    session_started_ = true;
    session_.Start();
    return Pump();
  }
  // Implicit TLS (RFC 8314): the greeting waits for the handshake.
  if (!BeginTls()) return Finish();
  Duration timeout = listener_.inactivity_timeout.count() > 0 ? listener_.inactivity_timeout
                                                              : kDefaultHandshakeTimeout;
  handshake_deadline_ = context_->clock->Now() + timeout;
  // The ConnectionTimer runs from the accept, through the handshake.
  if (listener_.connection_timeout.count() > 0 && connected_at_)
    handshake_deadline_ =
        std::min(handshake_deadline_, *connected_at_ + listener_.connection_timeout);
  UpdateReading();
  ArmTimer();
}

void SessionDriver::MailCheckResult(ipc::MailVerdict verdict) {
  session_.MailCheckResult(verdict);
  Pump();
}

void SessionDriver::OnInput(std::string_view bytes) {
  if (tls_) return ReceiveTls(bytes);
  session_.Receive(bytes);
  Pump();
}

bool SessionDriver::BeginTls() {
  const TlsServerCredentials* credentials =
      context_->tls_credentials ? context_->tls_credentials(listener_.name) : nullptr;
  if (credentials == nullptr) {
    LOG_ERROR("[%s]: listener %s has no TLS credentials loaded; closing", client_address_.c_str(),
              listener_.name.c_str());
    return false;
  }
  Result<std::unique_ptr<TlsServerSession>> tls =
      TlsServerSession::Create(*credentials, context_->tls_ticket_key());
  if (!tls.ok()) {
    LOG_ERROR("[%s]: cannot start TLS: %s", client_address_.c_str(),
              tls.status().message().c_str());
    return false;
  }
  tls_ = std::move(*tls);
  return true;
}

void SessionDriver::ReceiveTls(std::string_view ciphertext) {
  bool was_handshaking = tls_->state() == TlsServerSession::State::kHandshaking;
  tls_->FeedCiphertext(ciphertext);
  std::string plaintext;
  Status status = tls_->Advance(&plaintext);
  FlushTls();
  if (!status.ok()) {
    LOG_INFO("[%s]: TLS %s failed: %s", client_address_.c_str(),
             was_handshaking ? "handshake" : "session", status.message().c_str());
    // The alert TLS queued goes out before the connection closes.
    session_.ReceiveEof();
    closing_ = true;
    connection_.SetReading(false);
    return Pump();
  }
  if (was_handshaking && tls_->state() != TlsServerSession::State::kHandshaking) {
    // A TLS 1.3 client writes its first command right behind its Finished.
    // One that leaves Nagle's algorithm on (Python's smtplib, for one) holds
    // that command until the Finished is acknowledged, and when nothing goes
    // out to carry the acknowledgement (GnuTLS sent no session ticket to
    // Python's ssl here) the kernel may delay it by 40 ms.
    connection_.AcknowledgeNow();
    TlsInfo info{tls_->version(), tls_->cipher()};
    LOG_INFO("[%s]: TLS %s with %s%s", client_address_.c_str(), info.version.c_str(),
             info.cipher.c_str(), tls_->resumed() ? ", resumed" : "");
    if (session_started_) {
      session_.TlsStarted(info);
    } else {
      session_started_ = true;
      handshake_deadline_ = TimePoint::max();
      session_.Start(info);
    }
  }
  if (!plaintext.empty()) session_.Receive(plaintext);
  if (tls_->state() == TlsServerSession::State::kClosed) session_.ReceiveEof();
  Pump();
}

void SessionDriver::FlushTls() {
  std::string ciphertext = tls_->TakeCiphertext();
  if (!ciphertext.empty()) connection_.Send(ciphertext);
}

void SessionDriver::Write(std::string_view bytes) {
  if (!tls_) return connection_.Send(bytes);
  if (Status s = tls_->Write(bytes); !s.ok())
    LOG_WARNING("[%s]: TLS write failed: %s", client_address_.c_str(), s.message().c_str());
  FlushTls();
}

void SessionDriver::BeginAuth(const action::AuthStart& start) {
  // The reply never comes from inside Start() (smtpd/auth_client.h).
  auth_exchange_ = context_->auth->Start(
      start.mechanism, client_address_, start.initial_response,
      [this](ipc::AuthOutcome outcome, const std::string& data) { AuthAnswered(outcome, data); });
}

void SessionDriver::AuthAnswered(ipc::AuthOutcome outcome, const std::string& data) {
  // The session logs a failure; a success shows in the client= line.
  if (outcome != ipc::AuthOutcome::kContinue) auth_exchange_ = 0;
  session_.AuthResult(outcome, data);
  Pump();
}

void SessionDriver::CheckRecipient(const action::RecipientCheck& check) {
  // The verdict never comes from inside CheckRecipient() (smtpd/auth_client.h).
  recipient_query_ = context_->auth->CheckRecipient(
      check.address,
      [this, address = check.address](ipc::RecipientVerdict verdict, const std::string& known_as) {
        recipient_query_ = 0;
        // An unknown recipient's 550 is logged by the session (NOQUEUE: reject);
        // why authd could not answer is not in the 451, so it is said here.
        if (verdict == ipc::RecipientVerdict::kUnavailable)
          LOG_INFO("[%s]: RCPT <%s> deferred: authd could not look the recipient up",
                   client_address_.c_str(), address.c_str());
        session_.RecipientCheckResult(verdict, known_as);
        Pump();
      });
}

// Output that had to wait for the client has all been written.
void SessionDriver::OnDrained() {
  if (finished_) return;
  if (closing_) return Finish();
  if (session_started_) session_.OutputWritten();
  Pump();
}

void SessionDriver::OnEndOfInput() {
  session_.ReceiveEof();
  Pump();
  // A client that half-closes still gets its pending replies.
  if (!closing_) Finish();
}

void SessionDriver::OnError() {
  session_.ReceiveEof();
  Pump();
  Finish();
}

void SessionDriver::ShutDown() {
  if (finished_) return;
  if (session_started_) {
    session_.ShutDown();
    Pump();
  }
  Finish();
}

void SessionDriver::OnTimer(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<SessionDriver*>(self_ptr);
  if (self->closing_) {
    LOG_INFO("[%s]: the client did not read the last %zu bytes; closing",
             self->client_address_.c_str(), self->unsent_output());
    return self->Finish();
  }
  if (!self->session_started_) {
    LOG_INFO("[%s]: no TLS handshake in time; closing", self->client_address_.c_str());
    return self->Finish();
  }
  self->session_.OnTimer();
  self->Pump();
}

void SessionDriver::Pump() {
  while (!finished_) {
    std::vector<Action> actions = session_.TakeActions();
    for (Action& action : actions) Execute(action);
    if (finished_) break;
    // The replies go out now, in one write; only what the client's socket
    // cannot take waits for OnDrained().
    connection_.Flush();
    if (actions.empty() || unsent_output() != 0 || !session_started_) break;
    // All written: a session that held commands back for its reply backlog
    // reads them now.
    session_.OutputWritten();
  }
  ReportTally();
  if (finished_) return;
  if (closing_ && unsent_output() == 0) return Finish();
  UpdateReading();
  ArmTimer();
}

void SessionDriver::ReportTally() {
  // Runs after every event of the session: compared in place, copied
  // only when something was counted.
  const ServerSession::Tally& now = session_.tally();
  if (now == tallied_ || !context_->tally) return;
  context_->tally(listener_.name, now.Since(tallied_));
  tallied_ = now;
}

void SessionDriver::Execute(Action& action) {
  std::visit(
      [this](auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, action::Send>) {
          Write(a.bytes);
        } else if constexpr (std::is_same_v<T, action::Close>) {
          closing_ = true;
          if (tls_) {
            tls_->Close();  // close_notify, once the handshake is done
            FlushTls();
          }
          connection_.SetReading(false);
        } else if constexpr (std::is_same_v<T, action::StartTls>) {
          // The 220 is already in the output buffer, ahead of any handshake byte.
          if (!BeginTls()) {
            session_.ReceiveEof();
            closing_ = true;
          }
        } else if constexpr (std::is_same_v<T, action::AuthStart>) {
          BeginAuth(a);
        } else if constexpr (std::is_same_v<T, action::AuthStep>) {
          context_->auth->Step(auth_exchange_, a.response);
        } else if constexpr (std::is_same_v<T, action::AuthCancel>) {
          context_->auth->Cancel(auth_exchange_);
          auth_exchange_ = 0;
        } else if constexpr (std::is_same_v<T, action::BeginMessage>) {
          stream_ = context_->queue->Begin(
              a.envelope, [this](ipc::QueueOutcome outcome, const std::string& text) {
                // A queued stream may still await its first attempt's report;
                // the session's Acknowledged forgets it.
                if (outcome != ipc::QueueOutcome::kQueued) stream_ = 0;
                // text is the queue id when queued, else why the queue refused.
                if (outcome != ipc::QueueOutcome::kQueued)
                  LOG_INFO("[%s]: message not queued: %s", client_address_.c_str(), text.c_str());
                session_.QueueResult(outcome);
                Pump();
              });
        } else if constexpr (std::is_same_v<T, action::MessageData>) {
          context_->queue->Data(stream_, a.bytes);
        } else if constexpr (std::is_same_v<T, action::EndMessage>) {
          // The result callback may run inside End() (queue down); it pumps.
          QueueClient::AttemptCallback on_attempt;
          if (a.report_first_attempt) {
            on_attempt = [this](ipc::AttemptSummary summary) {
              session_.FirstAttemptEnded(summary);
              Pump();
            };
          }
          context_->queue->End(stream_, std::move(on_attempt));
        } else if constexpr (std::is_same_v<T, action::AbortMessage>) {
          context_->queue->Forget(stream_);
          stream_ = 0;
        } else if constexpr (std::is_same_v<T, action::Acknowledged>) {
          // acknowledgement_delay: the held 250 is out; no report is wanted.
          context_->queue->Forget(stream_);
          stream_ = 0;
          LOG_INFO("%s: acknowledged after %.1f s: %s", a.queue_id.c_str(),
                   std::chrono::duration<double>(a.waited).count(), a.why.c_str());
        } else if constexpr (std::is_same_v<T, action::Log>) {
          Log(a.level, "%s", a.text.c_str());
        } else if constexpr (std::is_same_v<T, action::RecipientCheck>) {
          CheckRecipient(a);
        } else if constexpr (std::is_same_v<T, action::MailCheck>) {
          // The answer may come inside this call (stand-alone); it pumps.
          context_->mail_check(this, a);
        }
      },
      action);
}

void SessionDriver::UpdateReading() {
  if (closing_ || session_.closed()) return;
  // A handshake reads whatever the session's state: its bytes are not input.
  if (tls_ && tls_->state() == TlsServerSession::State::kHandshaking) {
    connection_.SetReading(true);
  } else if (session_.input_paused() || unsent_output() > kMaxUnsentOutput) {
    // Resumed by OnDrained() once the output has drained.
    connection_.SetReading(false);
  } else if (context_->queue->congested()) {
    connection_.SetReading(false);
    context_->queue->WhenUncongested(this, [this] { UpdateReading(); });
  } else {
    connection_.SetReading(true);
  }
}

void SessionDriver::ArmTimer() {
  if (closing_ && close_deadline_ == TimePoint::max())
    close_deadline_ = context_->clock->Now() + kCloseLinger;
  TimePoint deadline = closing_           ? close_deadline_
                       : session_started_ ? session_.NextDeadline()
                                          : handshake_deadline_;
  if (deadline == TimePoint::max()) {
    evtimer_del(timer_.get());
    return;
  }
  timeval tv = ToTimeval(deadline - context_->clock->Now());
  evtimer_add(timer_.get(), &tv);
}

void SessionDriver::Finish() {
  if (finished_) return;
  finished_ = true;
  LOG_INFO("%s", DisconnectLogLine(client_name_, session_.command_counts()).c_str());
  evtimer_del(timer_.get());
  connection_.Stop();
  context_->on_session_end(this);
}

}  // namespace postern
