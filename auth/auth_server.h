// auth/auth_server.h — authd's client connections on its listening socket.
//
// Accepts smtpd (and any local tool allowed by the socket's mode) on the
// socket it is given, reads framed messages from each connection and answers
// them: kPing with kPong, and the AUTH exchanges (kAuthStart, kAuthStep,
// kAuthCancel, answered with kAuthReply), each a lib/sasl/sasl_server exchange
// keyed by the auth_id its connection chose. A pair of client address and
// user that failed too often is refused before libsasl2 reads its secret
// (lib/sasl/logon_lockout); an exchange that fails, or that libsasl2 could not
// decide, counts toward that lockout. A malformed frame, or a message type authd does not
// serve, closes that one connection and nothing else; a connection's
// exchanges end with it. Logs every outcome with mechanism, user and client
// address, never a password or a response. Never blocks: one libevent loop
// serves every connection. Owns the client connections and the failure
// counts, not the listening socket.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "lib/base/clock.h"
#include "lib/config/config.h"
#include "lib/ipc/messages_auth.h"
#include "lib/net/event_handles.h"
#include "lib/sasl/logon_lockout.h"
#include "lib/sasl/sasl_server.h"

namespace postern {

// What authd takes from the configuration.
struct AuthSettings {
  SaslServerSettings sasl;
  uint32_t lockout_failures = 0;  // auth_lockout_failures
  Duration lockout_time{};        // auth_lockout_time
};

AuthSettings AuthSettingsFor(const Config& config);

class AuthServer {
 public:
  // listen_fd must be a listening SOCK_STREAM socket; it is made
  // non-blocking and must outlive the server, as must clock.
  AuthServer(event_base* base, int listen_fd, const Clock& clock, AuthSettings settings);
  ~AuthServer();
  AuthServer(const AuthServer&) = delete;
  AuthServer& operator=(const AuthServer&) = delete;

  Status Start();
  // For exchanges started from now on; running ones end as they began. The
  // failure counts are kept and judged by the new limits.
  void Reconfigure(AuthSettings settings);

 private:
  struct Exchange {
    std::unique_ptr<SaslServerExchange> sasl;
    std::string mechanism;
    std::string client_address;
  };
  struct Client {
    AuthServer* server;
    BufferEventPtr bev;
    ipc::FrameDecoder decoder;
    std::map<uint64_t, Exchange> exchanges;  // by auth_id
  };

  static void OnAccept(evutil_socket_t fd, short, void* self);
  static void OnAcceptRetry(evutil_socket_t, short, void* self);
  static void OnRead(bufferevent* bev, void* client);
  static void OnEvent(bufferevent* bev, short what, void* client);
  void AcceptAll();
  void PauseAccepting();
  void Adopt(int fd);
  // False when the client was dropped.
  // False when the frame dropped the client: it does not decode, or its
  // type is not one authd serves.
  bool Serve(Client* client, const ipc::Frame& frame);
  Status ServeFrame(Client* client, const ipc::Frame& frame);
  void ServeStart(Client* client, const ipc::AuthStart& start);
  void ServeStep(Client* client, const ipc::AuthStep& step);
  // A new exchange for auth_id, or nothing (already answered).
  Exchange* Begin(Client* client, uint64_t auth_id, const std::string& mechanism,
                  const std::string& client_address);
  // Answers one step and, unless it continues, accounts for and forgets the exchange.
  void Conclude(Client* client, uint64_t auth_id, const SaslStep& step);
  // A failed or undecided exchange counts toward the lockout of its pair.
  void CountFailure(const Exchange& exchange);
  void Reply(Client* client, uint64_t auth_id, ipc::AuthOutcome outcome, const std::string& data);
  template <typename Message>
  void Write(Client* client, const Message& message);
  void Drop(Client* client);

  event_base* base_;
  int listen_fd_;
  SaslServerSettings sasl_settings_;
  LogonLockout lockout_;
  EventPtr accept_event_;
  EventPtr accept_retry_;
  std::map<Client*, std::unique_ptr<Client>> clients_;
};

}  // namespace postern
