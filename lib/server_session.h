// lib/server_session.h — one SMTP server session as a pure state machine.
//
// Bytes from the client go in through Receive(); replies and requests for
// the outside world come out as Actions from TakeActions(). The session
// never touches a socket or a file, and reads time only from the Clock and
// WallClock it is given: smtpd glues it to a connection, and unit tests
// drive it with byte strings, a FakeClock and a fixed WallClock.
//
// Message content leaves the session as it arrives (BeginMessage, then
// MessageData pieces, then EndMessage or AbortMessage), so no session holds
// a whole message. After EndMessage the session waits for QueueResult()
// before it answers the DATA/BDAT and reads further pipelined commands.
//
// Behaviour the spec leaves open, decided here:
//   - Protocol errors (MS-OXSMTP 3.2.7 ProtocolViolationCount) are the
//     replies with code 500, 501 or 503: the client broke the syntax or the
//     order of the protocol (unrecognized command, line too long, NUL or
//     bare CR/LF in a command line, bad arguments or address, command out
//     of sequence). Refusals on policy or resources (550, 552, 554, 452,
//     451, 421, 530), 502 for EXPN and 504 for XEXCH50 do not count. The
//     error that would be number max_protocol_errors + 1 is answered with
//     421 4.7.0 instead, and the session ends.
//   - Tarpit (3.2.7): an error reply to MAIL is sent tarpit_interval late,
//     and no further input is read meanwhile. The banner is not delayed.
//   - XEXCH50 is answered 504 5.7.1 Not authorized (never offered); inside
//     a transaction it still makes a following RCPT a 503 5.5.1.
//   - Hop counts and sizes are those of the content the client sent; the
//     Received: field postern prepends is not counted.
//   - MessageRateLimitExceeded (3.2.7): a MAIL that is otherwise acceptable,
//     on a listener whose message_rate_limit is not 0, is counted by the
//     outside world (CheckRate, answered with RateResult()): master counts
//     for every worker. The key is the client address, or on a relay
//     listener the authenticated user once there is one. A refusal is
//     answered 421 4.4.2, tarpitted like any MAIL error, and ends the session.
//   - While waiting for QueueResult or RateResult or in a tarpit, the
//     inactivity timer is suspended and restarts when reading resumes; the
//     connection timer runs on. A QueueResult or RateResult that arrives
//     after the session ended, or that nobody waits for, is ignored.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "lib/clock.h"
#include "lib/config.h"
#include "lib/envelope.h"
#include "lib/ipc.h"

namespace postern {

struct ClientInfo {
  std::string address;  // textual IP, no brackets
  uint16_t port = 0;
  std::string hostname;  // from a reverse lookup, or empty
  bool trusted = false;  // inside trusted_networks: may relay
};

namespace action {
// Reply bytes to write, CRLF-terminated lines.
struct Send {
  std::string bytes;
};
// Close the connection once everything sent before it has been written.
struct Close {};
// Open a queue stream for a new message.
struct BeginMessage {
  Envelope envelope;
};
// Content bytes, un-dot-stuffed, in order.
struct MessageData {
  std::string bytes;
};
// The content is complete: commit it durably, then call QueueResult().
struct EndMessage {};
// Forget the message begun with BeginMessage.
struct AbortMessage {};
// Count one message for key on the listener over the last minute, then call
// RateResult(): "ip:ADDRESS" or "user:NAME".
struct CheckRate {
  std::string listener;
  std::string key;
};
}  // namespace action

using Action = std::variant<action::Send, action::Close, action::BeginMessage, action::MessageData,
                            action::EndMessage, action::AbortMessage, action::CheckRate>;

// Wall-clock seconds since the epoch, for Envelope::arrival_time and the
// date of the Received: field; empty means the system's clock.
using WallClock = std::function<int64_t()>;

class ServerSession {
 public:
  // config and listener must outlive the session.
  ServerSession(const Config& config, const ListenerConfig& listener, ClientInfo client,
                const Clock& clock, WallClock wall_clock = {});
  ~ServerSession();
  ServerSession(const ServerSession&) = delete;
  ServerSession& operator=(const ServerSession&) = delete;

  // Emits the 220 banner and starts the connection and inactivity timers.
  void Start();
  // Bytes read from the client, any amount, any split.
  void Receive(std::string_view bytes);
  // The client closed its side; the session discards any open transaction.
  void ReceiveEof();
  // qmgr's answer to the last EndMessage.
  void QueueResult(ipc::QueueOutcome outcome, const std::string& queue_id_or_reason);
  // The answer to the last CheckRate: true when the message is within the
  // listener's message_rate_limit.
  void RateResult(bool allowed);
  // Time has passed; call when clock.Now() >= NextDeadline().
  void OnTimer();
  // The earliest time at which OnTimer() has something to do, or
  // TimePoint::max() when no timer runs.
  TimePoint NextDeadline() const;

  std::vector<Action> TakeActions();
  bool closed() const;
  // True while the session should not be given more input (waiting for
  // qmgr or a rate answer, or holding a large unprocessed backlog): the
  // driver stops reading.
  bool input_paused() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace postern
