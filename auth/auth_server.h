// auth/auth_server.h — authd's client connections on its listening socket.
//
// Accepts smtpd (and any local tool allowed by the socket's mode) on the
// socket it is given, reads framed messages from each connection and answers
// them: kPing with kPong, and the AUTH exchanges (kAuthStart, kAuthStep,
// kAuthCancel, answered with kAuthReply), each a lib/sasl/sasl_server exchange
// keyed by the auth_id its connection chose, and the recipient checks
// (kRecipientQuery, answered with kRecipientAnswer by lib/sasl/recipient_directory). A pair of
// client address and user that failed too often is refused before libsasl2 reads its secret
// (lib/sasl/logon_lockout); an exchange that fails, or that libsasl2 could not
// decide, counts toward that lockout. A malformed frame, or a message type authd does not
// serve, closes that one connection and nothing else; a connection's
// exchanges end with it. Logs every outcome with mechanism, user and client
// address, never a password or a response. Never blocks: one libevent loop
// serves every connection. The connections are a lib/ipc/framed_server
// (which also pauses accepting when authd runs out of descriptors); this
// class owns the exchanges and the failure counts.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "lib/base/clock.h"
#include "lib/config/config.h"
#include "lib/ipc/framed_server.h"
#include "lib/ipc/messages_auth.h"
#include "lib/net/event_handles.h"
#include "lib/sasl/logon_lockout.h"
#include "lib/sasl/recipient_directory.h"
#include "lib/sasl/sasl_server.h"

namespace postern {

// What authd takes from the configuration.
struct AuthSettings {
  SaslServerSettings sasl;
  uint32_t lockout_failures = 0;  // auth_lockout_failures
  Duration lockout_time{};        // auth_lockout_time
  RecipientDirectory recipients;  // local_recipient_map
};

Result<AuthSettings> AuthSettingsFor(const Config& config);

class AuthServer {
 public:
  // listen_fd must be a listening SOCK_STREAM socket; the server owns it.
  // clock must outlive the server.
  AuthServer(event_base* base, int listen_fd, const Clock& clock, AuthSettings settings);
  ~AuthServer();
  AuthServer(const AuthServer&) = delete;
  AuthServer& operator=(const AuthServer&) = delete;

  Status Start();
  // For exchanges started from now on; running ones end as they began. The
  // failure counts are kept and judged by the new limits. Recipient checks
  // use the new map files at once.
  void Reconfigure(AuthSettings settings);

 private:
  using PeerId = FramedServer::PeerId;
  struct Exchange {
    std::unique_ptr<SaslServerExchange> sasl;
    std::string mechanism;
    std::string client_address;
  };
  using Exchanges = std::map<uint64_t, Exchange>;  // one peer's, by auth_id

  // An error (the frame does not decode, or authd does not serve its type)
  // drops the peer.
  Status ServeFrame(PeerId peer, const ipc::Frame& frame);
  void ServeStart(PeerId peer, const ipc::AuthStart& start);
  void ServeStep(PeerId peer, const ipc::AuthStep& step);
  // A new exchange for auth_id, or nothing (already answered).
  Exchange* Begin(PeerId peer, uint64_t auth_id, const std::string& mechanism,
                  const std::string& client_address);
  // Answers one step and, unless it continues, accounts for and forgets the exchange.
  void Conclude(PeerId peer, uint64_t auth_id, const SaslStep& step);
  // A failed or undecided exchange counts toward the lockout of its pair.
  void CountFailure(const Exchange& exchange);
  void Reply(PeerId peer, uint64_t auth_id, ipc::AuthOutcome outcome, const std::string& data);

  SaslServerSettings sasl_settings_;
  LogonLockout lockout_;
  RecipientDirectory recipients_;
  std::map<PeerId, Exchanges> exchanges_;
  FramedServer server_;
};

}  // namespace postern
