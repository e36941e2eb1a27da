// smtpd/session_driver.h — binds one lib ServerSession to a client connection.
//
// Owns the connection (lib/net/client_stream), the TLS state and the timer
// of one client and carries out the session's actions: replies to the client,
// the TLS handshake, AUTH steps and recipient checks through authd, message
// streams to qmgr, MAIL checks through the worker. All protocol decisions are the session's.
// Never blocks: TLS runs over the connection's buffers (lib/tls/tls_session),
// and authd and qmgr answer asynchronously. The driver deletes itself
// (through WorkerContext::on_session_end) when the session is over.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "lib/base/clock.h"
#include "lib/config/config.h"
#include "lib/net/client_stream.h"
#include "lib/net/event_handles.h"
#include "lib/smtp/sender_login.h"
#include "lib/smtp/server_session.h"
#include "lib/tls/tls_credentials.h"
#include "lib/tls/tls_session.h"
#include "smtpd/auth_client.h"
#include "smtpd/queue_client.h"

namespace postern {

class SessionDriver;

// What every session of one worker shares.
struct WorkerContext {
  event_base* base = nullptr;
  const Config* config = nullptr;
  QueueClient* queue = nullptr;
  AuthClient* auth = nullptr;
  const Clock* clock = nullptr;
  // The TLS credentials of a listener (nullptr: it has none), the session
  // ticket key (empty: no tickets), and the sender_login_map of a listener
  // (nullptr: none).
  std::function<const TlsServerCredentials*(const std::string& listener)> tls_credentials;
  std::function<const std::string&()> tls_ticket_key;
  std::function<const SenderLoginMap*(const std::string& listener)> sender_login_map;
  // Has master check resources and count one message (lib/policy/resource_check
  // AnswerMailCheck) and answers through the driver's MailCheckResult(), now or
  // later; never after the driver's session ended.
  std::function<void(SessionDriver*, const action::MailCheck&)> mail_check;
  // Adds what a session of listener counted since its last report
  // (messages queued, their bytes, refusals) to master's counts; empty in
  // stand-alone mode.
  std::function<void(const std::string& listener, const ServerSession::Tally& added)> tally;
  // Called once per driver when its connection is finished; the callee
  // destroys the driver (later, not from inside the call).
  std::function<void(SessionDriver*)> on_session_end;
};

class SessionDriver {
 public:
  // Takes ownership of in_fd and out_fd (the same descriptor for a socket;
  // stdin and stdout in stand-alone mode).
  SessionDriver(WorkerContext* context, const ListenerConfig& listener, int in_fd, int out_fd,
                ClientInfo client, uint64_t conn_id);
  ~SessionDriver();
  SessionDriver(const SessionDriver&) = delete;
  SessionDriver& operator=(const SessionDriver&) = delete;

  void Start();
  uint64_t conn_id() const { return conn_id_; }
  // The answer to the session's last MailCheck.
  void MailCheckResult(ipc::MailVerdict verdict);
  // smtpd is stopping: the client gets the session's 421 (what the socket
  // takes now; nothing waits) and the session finishes.
  void ShutDown();

 private:
  void OnInput(std::string_view bytes);
  void OnDrained();
  void OnEndOfInput();
  void OnError();
  static void OnTimer(evutil_socket_t, short, void* self);

  void Pump();
  // Tells context_->tally what the session counted since the last call.
  void ReportTally();
  void Execute(Action& action);
  // Bytes to the client, through TLS once it is on.
  void Write(std::string_view bytes);
  // Begins the server side of a TLS handshake; false when it cannot.
  bool BeginTls();
  // Ciphertext arrived: advance TLS, hand plaintext to the session.
  void ReceiveTls(std::string_view ciphertext);
  void FlushTls();
  void BeginAuth(const action::AuthStart& start);
  void AuthAnswered(ipc::AuthOutcome outcome, const std::string& data);
  void CheckRecipient(const action::RecipientCheck& check);
  void UpdateReading();
  void ArmTimer();
  void Finish();
  size_t unsent_output() const { return connection_.unsent(); }

  WorkerContext* context_;
  const ListenerConfig& listener_;
  ServerSession session_;
  ServerSession::Tally tallied_;  // what context_->tally has been told
  uint64_t conn_id_;
  std::string client_address_;
  std::string client_name_;  // "host[address]" for the log
  std::optional<TimePoint> connected_at_;
  ClientStream connection_;
  EventPtr timer_;
  std::unique_ptr<TlsServerSession> tls_;
  bool session_started_ = false;  // on tls_wrapper listeners only after the handshake
  TimePoint handshake_deadline_ = TimePoint::max();  // tls_wrapper: before the session
  uint64_t auth_exchange_ = 0;                       // open AUTH exchange with authd, 0 when none
  uint64_t recipient_query_ = 0;                     // open recipient check, 0 when none
  // The open queue stream, or the queued one awaiting its first attempt's
  // report (acknowledgement_delay); 0 when none.
  uint64_t stream_ = 0;
  bool closing_ = false;                         // Close seen: finish once output is written
  TimePoint close_deadline_ = TimePoint::max();  // or after kCloseLinger
  bool finished_ = false;
};

}  // namespace postern
