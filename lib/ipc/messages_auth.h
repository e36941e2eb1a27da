// lib/ipc/messages_auth.h — the messages between a client (smtpd, a health
// check) and authd.
//
// One stream socket per smtpd worker (connected by master,
// lib/ipc/messages_worker.h ServiceSocket), AUTH exchanges multiplexed by an
// id that smtpd chooses: AuthStart, then AuthStep for each challenge, or
// AuthCancel; authd answers each start or step with one AuthReply. smtpd
// does base64; authd sees raw bytes. On the same connection, RecipientQuery
// asks whether a local recipient exists (local_recipient_map), answered by
// one RecipientAnswer with the same query_id. Decode() fails, saying why, on a
// payload that is cut short, carries an out-of-range value or has bytes left
// over; authd then closes the connection, smtpd fails its open exchanges.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/status.h"
#include "lib/ipc/frame.h"

namespace postern::ipc {

enum class AuthOutcome : uint8_t {
  kContinue = 0,          // send the challenge, then an AuthStep with the answer
  kSuccess = 1,           // data: the user name the client proved
  kFailure = 2,           // wrong password, unknown user, malformed exchange, locked out
  kUnknownMechanism = 3,  // authd does not offer the mechanism
  kTemporaryFailure = 4,  // authd could not decide (libsasl2 or sasldb trouble)
};

enum class RecipientVerdict : uint8_t {
  kKnown = 0,        // the recipient exists: accept it
  kUnknown = 1,      // no such local user: 550 5.1.1
  kUnavailable = 2,  // authd could not tell (the sasldb unreadable, authd gone): 451 4.3.0
};

// any client -> authd: no payload; authd answers Pong.
struct Ping {
  static constexpr MsgType kType = MsgType::kPing;

  std::string Encode() const;
  static Result<Ping> Decode(std::string_view payload);
  bool operator==(const Ping&) const = default;
};

// authd -> client: no payload.
struct Pong {
  static constexpr MsgType kType = MsgType::kPong;

  std::string Encode() const;
  static Result<Pong> Decode(std::string_view payload);
  bool operator==(const Pong&) const = default;
};

// smtpd -> authd: u64 auth_id, str mechanism, str client_address,
// bool has_initial_response, str initial_response (decoded from base64;
// empty when there is none). auth_id is unique on its connection to authd.
struct AuthStart {
  static constexpr MsgType kType = MsgType::kAuthStart;
  uint64_t auth_id = 0;
  std::string mechanism;
  std::string client_address;
  std::optional<std::string> initial_response;

  std::string Encode() const;
  static Result<AuthStart> Decode(std::string_view payload);
  bool operator==(const AuthStart&) const = default;
};

// smtpd -> authd: u64 auth_id, str response (decoded from base64).
struct AuthStep {
  static constexpr MsgType kType = MsgType::kAuthStep;
  uint64_t auth_id = 0;
  std::string response;

  std::string Encode() const;
  static Result<AuthStep> Decode(std::string_view payload);
  bool operator==(const AuthStep&) const = default;
};

// smtpd -> authd: u64 auth_id. The exchange is abandoned (the client
// cancelled or left); authd forgets it and does not answer.
struct AuthCancel {
  static constexpr MsgType kType = MsgType::kAuthCancel;
  uint64_t auth_id = 0;

  std::string Encode() const;
  static Result<AuthCancel> Decode(std::string_view payload);
  bool operator==(const AuthCancel&) const = default;
};

// authd -> smtpd: u64 auth_id, u8 AuthOutcome, str data: the challenge (raw,
// not base64) for kContinue, the authenticated user for kSuccess, the user
// name the client gave (for smtpd's log line; empty when none was read)
// for kFailure and kTemporaryFailure, empty otherwise. Every outcome but
// kContinue ends the exchange.
struct AuthReply {
  static constexpr MsgType kType = MsgType::kAuthReply;
  uint64_t auth_id = 0;
  AuthOutcome outcome = AuthOutcome::kFailure;
  std::string data;

  std::string Encode() const;
  static Result<AuthReply> Decode(std::string_view payload);
  bool operator==(const AuthReply&) const = default;
};

// smtpd -> authd: u64 query_id, str address ("local@domain", the domain one
// of local_domains). query_id is unique on its connection to authd.
struct RecipientQuery {
  static constexpr MsgType kType = MsgType::kRecipientQuery;
  uint64_t query_id = 0;
  std::string address;

  std::string Encode() const;
  static Result<RecipientQuery> Decode(std::string_view payload);
  bool operator==(const RecipientQuery&) const = default;
};

// authd -> smtpd: u64 query_id, u8 RecipientVerdict, str known_as; one per
// RecipientQuery. known_as, for kKnown only, is the address as the directory
// knows it (lib/smtp/local_recipients.h KnownAs), which smtpd records in
// place of the client's spelling; empty otherwise.
struct RecipientAnswer {
  static constexpr MsgType kType = MsgType::kRecipientAnswer;
  uint64_t query_id = 0;
  RecipientVerdict verdict = RecipientVerdict::kUnavailable;
  std::string known_as;

  std::string Encode() const;
  static Result<RecipientAnswer> Decode(std::string_view payload);
  bool operator==(const RecipientAnswer&) const = default;
};

}  // namespace postern::ipc
