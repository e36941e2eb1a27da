// qmgr/relay_connection.h — one SMTP client connection from qmgr to one
// next hop, on qmgr's event loop.
//
// Glue between a socket (lib/net/client_stream.h, as smtpd's sessions use:
// what a turn of the session sends goes out in one write at once, and a
// read asks the kernel nothing else) and the pure client session
// (lib/smtp/client_session.h): bytes read go to the session, its Send
// actions are written, its timers run on a libevent timer, and the content
// it asks for is read from the queue store one piece at a time, only while
// less than kOutputLowWater waits for the socket, so no message is held
// whole. What the session decides
// about each message, that it is idle, and how it ended go to the owner
// through Callbacks; the owner hands it messages with Deliver() and ends
// it with Quit().
//
// A connection that fails before the session is ready for mail (connect
// refused or timed out, a greeting other than 220, EHLO refused) ends with
// `ready_once` false, so the owner can try the next address. A connect that
// fails at once (no route, no descriptor left) is reported from the event
// loop, never from inside Connect(), so that the owner may open connections
// in a loop.
//
// STARTTLS: when the session asks, a TLS client session
// (lib/tls/tls_client_session.h) is made with the credentials given, SNI
// and, under relay_tls verify, the certificate check against the next
// hop's name; from then on every byte read is ciphertext for it, and every
// byte the session sends is encrypted. The session kept in the resumption
// cache for this next hop (same check, name, address and port) is offered,
// and the ticket this session gets is kept there for the next connection.
// Without credentials the request is
// refused (TlsFailed) and the session decides by its policy. AUTH: each
// AuthStart makes a Cyrus SASL client exchange (lib/sasl/sasl_client.h)
// with the relay credentials given, and its steps answer the session's
// AuthContinue; without credentials, AuthFailed.
#pragma once

#include <event2/event.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "lib/base/clock.h"
#include "lib/net/client_stream.h"
#include "lib/net/event_handles.h"
#include "lib/net/network.h"
#include "lib/queue/queue_store.h"
#include "lib/sasl/sasl_client.h"
#include "lib/smtp/client_session.h"
#include "lib/smtp/destination_plan.h"
#include "lib/tls/tls_client_session.h"
#include "lib/tls/tls_credentials.h"
#include "lib/tls/tls_resumption_cache.h"

namespace postern {

class RelayConnection {
 public:
  struct Callbacks {
    std::function<void(RelayConnection*, MessageOutcome)> message_done;
    // The session is idle: Deliver() another message or Quit(). May be
    // called again after each message.
    std::function<void(RelayConnection*)> ready;
    // The connection is over; the owner may destroy it, but not from inside
    // this call.
    std::function<void(RelayConnection*, const SessionEnd&)> closed;
  };

  // store, clock and resumption must outlive the connection. tls: the
  // client credentials for STARTTLS (null: none); resumption: the TLS
  // sessions to resume, per next hop. sasl: relay_auth_user and its
  // password (null: no AUTH).
  RelayConnection(event_base* base, const Clock* clock, const QueueStore* store,
                  ClientSettings settings, std::shared_ptr<const TlsClientCredentials> tls,
                  TlsResumptionCache* resumption, std::shared_ptr<const SaslClientCredentials> sasl,
                  Target target, Callbacks callbacks);
  ~RelayConnection();
  RelayConnection(const RelayConnection&) = delete;
  RelayConnection& operator=(const RelayConnection&) = delete;

  // Starts the non-blocking connect; connect_timeout bounds it. A failure
  // to even begin is reported through closed, like a refused connect.
  void Connect(Duration connect_timeout);
  // Sends one message; its recipients in state kPending are attempted.
  void Deliver(Envelope envelope);
  // QUIT once the messages given are done.
  void Quit();

  const Target& target() const { return target_; }
  // The session said it was ready for mail at least once.
  bool ready_once() const { return ready_at_.has_value(); }
  // From Connect() until the session was first ready for mail: connect,
  // greeting, EHLO, STARTTLS, AUTH (0 before).
  Duration setup_time() const;
  bool closed() const { return closed_; }

 private:
  static void OnConnected(evutil_socket_t fd, short, void* self);
  static void OnTimer(evutil_socket_t, short, void* self);
  void OnInput(std::string_view bytes);
  void OnInputEnded();

  // Carries out every action the session has for us, writes what they
  // sent, and feeds the content the session waits for while the socket
  // takes it.
  void Pump();
  // One piece of the content the session waits for, when it waits and less
  // than kOutputLowWater waits for the socket; false when none was given.
  bool FeedContent();
  // Bytes for the socket, encrypted once TLS runs; written at the end of
  // the Pump() turn.
  void Write(std::string_view bytes);
  void StartTls();
  void StartAuth(const std::string& mechanism);
  void ContinueAuth(const std::string& challenge);
  // Ciphertext read: the handshake goes on, plaintext goes to the session.
  void ReadTls(std::string_view ciphertext);
  void FlushCiphertext();
  void ArmTimer();
  void Finish(const SessionEnd& end);
  // Finish(end) from the event loop, at once: Connect() reports a failure
  // this way, so that the owner is never called back from inside it.
  void FinishFromLoop(const SessionEnd& end);

  event_base* base_;
  const Clock* clock_;
  const QueueStore* store_;
  Target target_;
  Callbacks callbacks_;
  ClientSettings settings_;
  std::shared_ptr<const TlsClientCredentials> tls_credentials_;
  std::unique_ptr<TlsClientSession> tls_;
  TlsResumptionCache* resumption_;
  std::string resumption_key_;    // this next hop's, once STARTTLS began
  bool resumption_kept_ = false;  // this session's ticket went to the cache
  std::shared_ptr<const SaslClientCredentials> sasl_credentials_;
  std::unique_ptr<SaslClientExchange> sasl_;
  ClientSession session_;
  int connecting_fd_ = -1;  // the socket until it is connected and stream_ owns it
  EventPtr connect_event_;
  // Once connected (null: not yet); stopped, not freed, by Finish().
  std::unique_ptr<ClientStream> stream_;
  EventPtr timer_;
  bool pumping_ = false;
  TimePoint started_{};                // Connect() was called
  std::optional<TimePoint> ready_at_;  // first ready for mail
  bool closing_ = false;               // the session said Close: finish once the output is written
  bool closed_ = false;
  SessionEnd end_;
  // The content the session waits for, while it waits.
  struct ContentWanted {
    std::string queue_id;
    uint64_t offset = 0;
    uint64_t size = 0;
  };
  std::optional<ContentWanted> wanted_;
  std::map<std::string, uint64_t> sizes_;  // the size of each message given, by queue id
  TimePoint connect_deadline_ = TimePoint::max();
};

}  // namespace postern
