// smtpd/auth_client.h — this worker's connection to authd.
//
// Carries the AUTH exchanges of every session in the worker over one Unix
// socket to authd (lib/ipc/messages_auth.h AuthStart, AuthStep, AuthCancel) and routes
// each kAuthReply to the exchange it answers. smtpd never sees a password
// database: it passes the client's decoded responses along and relays the
// outcome. When authd cannot be reached, or the connection to it breaks, the
// exchanges that depended on it end with kTemporaryFailure (the client sees
// 454 4.7.0 and may retry); the next Start() asks master for a new
// connection. Never blocks, never logs a response or a challenge.
//
// The same connection carries recipient checks (local_recipient_map):
// CheckRecipient() sends a kRecipientQuery and calls its callback with
// authd's verdict and the address as authd knows it, or kUnavailable when
// authd cannot be reached or the connection breaks before the answer.
//
// When a callback runs: on_reply and on_verdict are only ever called from
// the event loop, never from inside Attach(), AttachFailed(), Start(),
// Step(), Cancel(), CheckRecipient() or ForgetRecipientCheck(). on_reply is
// called exactly once for each Start() and each Step() (one reply each,
// kContinue included), and never again after Cancel(); on_verdict exactly
// once per CheckRecipient(), unless forgotten first. Callbacks may call any
// of these methods.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "lib/ipc/messages_auth.h"
#include "lib/net/event_handles.h"
#include "smtpd/service_connection.h"

namespace postern {

class AuthClient {
 public:
  // data: the challenge (raw bytes, not base64) for kContinue, the user name
  // authd verified for kSuccess, empty otherwise.
  using ReplyCallback = std::function<void(ipc::AuthOutcome outcome, const std::string& data)>;

  // request_connection is called when a connection to authd is needed and
  // none is on its way; the answer arrives through Attach() or
  // AttachFailed(), possibly from inside request_connection itself.
  AuthClient(event_base* base, std::function<void()> request_connection);
  ~AuthClient();
  AuthClient(const AuthClient&) = delete;
  AuthClient& operator=(const AuthClient&) = delete;

  // A socket connected to authd; exchanges waiting for it are sent now.
  void Attach(int fd);
  // No connection could be made: every exchange waiting for one fails
  // temporarily, and the next Start() asks again.
  void AttachFailed();
  bool connected() const { return connection_.open(); }

  // Begins an exchange and returns its id. mechanism is the client's word
  // ("LOGIN", "NTLM"); initial_response is the decoded initial response of
  // `AUTH <mechanism> <base64>`, if any. Without a connection the request
  // waits for the one it asks master for.
  uint64_t Start(const std::string& mechanism, const std::string& client_address,
                 const std::optional<std::string>& initial_response, ReplyCallback on_reply);
  // The client's decoded answer to the last challenge; only after a
  // kContinue reply. An exchange whose authd connection broke meanwhile is
  // answered kTemporaryFailure.
  void Step(uint64_t id, const std::string& response);
  // Abandons an exchange (the client sent `*` or left): authd is told to
  // forget it and its callback is never called again. Unknown ids are ignored.
  void Cancel(uint64_t id);

  // known_as: for kKnown, the address as authd's directory knows it
  // (ipc::RecipientAnswer); empty otherwise.
  using VerdictCallback =
      std::function<void(ipc::RecipientVerdict verdict, const std::string& known_as)>;
  // Asks authd whether address (a local recipient) exists; returns the
  // query's id. Without a connection the query waits for the one it asks
  // master for.
  uint64_t CheckRecipient(const std::string& address, VerdictCallback on_verdict);
  // The session that asked has ended: its callback is never called. Unknown
  // ids are ignored.
  void ForgetRecipientCheck(uint64_t id);

 private:
  enum class Phase {
    kAwaitingReply,  // sent (or waiting for the connection); authd owes a reply
    kAwaitingStep,   // the last reply was kContinue; the client answers next
    kBroken,         // the connection broke while awaiting the client
    kFailing,        // kTemporaryFailure is due, delivered from the loop
  };
  struct Exchange {
    ReplyCallback on_reply;
    Phase phase = Phase::kAwaitingReply;
  };

  // A recipient check awaiting authd's answer; on_verdict is empty once
  // forgotten (its answer is still due and then dropped).
  struct Query {
    VerdictCallback on_verdict;
    bool failing = false;  // kUnavailable is due, delivered from the loop
  };

  static void OnDeliverFailures(evutil_socket_t, short, void* self);
  void RequestConnectionIfNeeded();
  void HandleAuthReply(const ipc::Frame& frame);
  void HandleRecipientAnswer(const ipc::Frame& frame);
  void DeliverFailedQueries();
  template <typename Message>
  void Send(const Message& message) {
    SendOrQueue(Message::kType, message.Encode());
  }
  void SendOrQueue(ipc::MsgType type, std::string payload);
  void HandleFrame(const ipc::Frame& frame);
  void DropConnection(const std::string& why);
  void ConnectionLost(const std::string& why);
  void ScheduleFailure(Exchange& exchange);

  std::function<void()> request_connection_;
  ServiceConnection connection_;
  bool connection_requested_ = false;
  // Frames of exchanges started while the connection was on its way.
  std::vector<std::pair<ipc::MsgType, std::string>> queued_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Exchange> exchanges_;
  // Cancelled while a reply was due: that reply may still arrive and is
  // dropped, not treated as a protocol error. Forgotten with the connection.
  std::unordered_set<uint64_t> cancelled_;
  std::unordered_map<uint64_t, Query> queries_;
  EventPtr deliver_failures_;
};

}  // namespace postern
