// lib/smtp/server_session.h — one SMTP server session as a pure state machine.
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
// The session is the state machine of RFC 5321 and MS-OXSMTP; three parts
// of it live in files of their own: what the EHLO reply offers and the
// session therefore accepts (lib/smtp/ehlo_offer.h), the AUTH exchange
// (lib/smtp/auth_dialog.h) and the content of a message with its bounds
// (lib/smtp/message_stream.h). Each states the decisions it makes.
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
//   - Tarpit (3.2.7): every error reply (4xx, 5xx) to a command of a
//     session that has not authenticated, and every error reply to MAIL, is
//     sent tarpit_interval late, and no further input is read meanwhile.
//     By default (tarpit_at_connect = no) the banner is not delayed: every
//     client is unauthenticated when it connects, so delaying it would slow
//     every honest client; the delay falls on the clients that make
//     mistakes, as Exchange does in practice. tarpit_at_connect = yes is the
//     letter of the spec ("when an unauthenticated user connects"): the 220
//     banner is held tarpit_interval, nothing is read meanwhile, and the
//     connection timer runs. Replies the server sends on its own (timeouts,
//     421 for too many errors) are never delayed.
//   - STARTTLS (RFC 3207): the 220 is followed by a StartTls action and the
//     session reads nothing until TlsStarted(); every byte the client sent
//     after the STARTTLS line in cleartext is discarded, never read as a
//     command. After TlsStarted() the session is as new: no EHLO, no
//     transaction, no authentication.
//   - AUTH (RFC 4954): each step goes out as AuthStart/AuthStep and comes
//     back through AuthResult(); where each mechanism is offered and
//     accepted, and how failures count, see lib/smtp/ehlo_offer.h and
//     lib/smtp/auth_dialog.h. AUTH is answered 503 5.5.2 before a hello,
//     502 where the listener offers no AUTH or after HELO, 503 5.5.2 Auth
//     command already specified once authenticated, and 503 5.5.1 inside a
//     transaction (RFC 4954 4).
//   - AUTH= on MAIL FROM (RFC 4954 5) is accepted wherever the EHLO reply
//     lists AUTH, also from a client that has not authenticated; where AUTH
//     is not listed (HELO, advertise_auth = no, no mechanism offered before
//     TLS) it is an unknown parameter, 501 5.5.4. Its xtext must decode to
//     "<>" or a Mailbox, else 501 5.5.4 Invalid arguments. The mailbox is
//     kept in the envelope (Envelope::auth_mailbox) only when the client has
//     authenticated and, with sender_login_check, its login may use that
//     address; otherwise the message is kept as if AUTH=<> had been given.
//     Neither case refuses the MAIL.
//   - XEXCH50 is answered 504 5.7.1 Not authorized (never offered); inside
//     a transaction it still makes a following RCPT a 503 5.5.1.
//   - Content bounds (sizes, hop counts, bare line endings) are counted as
//     lib/smtp/message_stream.h says; a size, header or hop limit refuses
//     the message and ends the session (MS-OXSMTP 3.2.7), a bare line
//     ending refuses the message alone (554 5.6.0). Command lines end only
//     with CRLF.
//   - RCPT TO:<Postmaster> (RFC 5321 4.5.1, any case, no domain) is
//     accepted from every client and its recipient becomes
//     config.PostmasterAddress(), so qmgr delivers it like any other; the
//     ORCPT keeps "rfc822;Postmaster" as the client wrote it, unless the
//     client gave an ORCPT.
//   - MAIL FROM round trip (3.2.5 "System resources are not available",
//     3.2.7 OutOfResources and MessageRateLimitExceeded): every MAIL that is
//     otherwise acceptable goes out as MailCheck and waits for
//     MailCheckResult(): master decides for every worker. Resources are
//     checked first (a refused MAIL uses up no rate); kInsufficientResources
//     is answered 452 4.3.1 and the session goes on. Then, on a listener
//     whose message_rate_limit is not 0, master counts the message under the
//     rate key: the client address, or on a relay listener the authenticated
//     user once there is one; kRateLimitExceeded is answered 421 4.4.2 and
//     ends the session. Both refusals are tarpitted like any MAIL error.
//   - RCPT TO round trip (local_recipient_map, lib/smtp/local_recipients.h):
//     a recipient that is otherwise acceptable and whose domain is local
//     (not <Postmaster>, not a postmaster address) goes out as
//     RecipientCheck and waits for RecipientCheckResult(), reading nothing
//     meanwhile, so pipelined RCPTs are answered in order. kUnknown is 550
//     5.1.1 <address>: Recipient address rejected: User unknown, kUnavailable
//     451 4.3.0 <address>: Temporary lookup failure; both leave the
//     transaction as it was, are not protocol errors, and are tarpitted like
//     any error to a client that has not authenticated. max_recipients
//     counts accepted recipients only (as Postfix's smtpd_recipient_limit):
//     the tarpit, not the limit, slows a client that guesses addresses.
//     A known recipient is recorded under the spelling authd found (Alice@
//     becomes alice@ when user alice exists), with the client's spelling as
//     its ORCPT, as <Postmaster> is. With local_recipient_map empty nothing
//     is asked.
//   - advertise_pipelining = no (RFC 2920; "a switched-off extension is also
//     refused when used"): when the reply to a command (to a command line,
//     to the end of DATA or to a BDAT chunk) is produced while input the
//     client sent after that command is already waiting, the client did not
//     wait for the reply. That input is discarded unread, answered once with
//     554 5.5.0 Improper use of SMTP command pipelining (at once, not
//     tarpitted, not counted as a protocol error), and the session ends.
//     DATA content after the 354 and the octets of a BDAT chunk after their
//     BDAT line are not early input; a QUIT sent right behind the final "."
//     of DATA is. Only what the session has been given counts: bytes still in
//     the socket while the session waits are not seen. Cleartext pipelined
//     behind STARTTLS is discarded as always (above) and the handshake goes
//     on; the rest of an over-long line is not a new command. With PIPELINING
//     offered no check is made, also after HELO.
//   - Output is bounded: once the replies produced and not yet taken reach
//     16 KB (a client pipelining EHLO or NOOP without reading the answers),
//     the session reads no further command, and input_paused() is true,
//     until the driver has written them and calls OutputWritten().
//   - AcknowledgementDelay (3.2.7), on a listener whose
//     acknowledgement_delay is not 0: the EndMessage asks qmgr to report
//     the end of the message's first delivery attempt, and the 250 to the
//     end of DATA or BDAT LAST, once QueueResult() says the message is
//     durable, is held until FirstAttemptEnded() (delivered into a Maildir,
//     relayed, failed or deferred: past that nothing changes within the
//     delay) or until acknowledgement_delay after the end of the data,
//     whichever comes first; it is the same 250 either way. Nothing comes
//     before QueueResult(): a refused message is answered at once, and a
//     delay that ran out before the commit gives the 250 with the commit.
//     Pipelined commands wait behind it as they wait for the queue. The
//     wait is not the client's inactivity; the ConnectionTimer runs on,
//     and when it lapses in the wait the session sends the held 250 (the
//     message is queued: a 421 alone would make the client send it again)
//     and then the 421 timeout. Each end of a wait is an Acknowledged
//     action, for the log. With acknowledgement_delay 0 the 250 follows
//     QueueResult() at once and nothing is asked of qmgr.
//   - Log lines (action::Log, in Postfix's shape: lib/smtp/session_log.h):
//     every refusal of a MAIL, RCPT, DATA or the end of a message on
//     policy or resources (any 4xx or 5xx but the protocol errors 500, 501
//     and 503, which Postfix does not log as rejects either) as "NOQUEUE:
//     reject: ..." (the queue id once the content was read), when the
//     reply goes out (after a tarpit); "QUEUEID: client=..." when the
//     message opens, "QUEUEID: message-id=<...>" when its content was
//     accepted (the first Message-ID field, as the client wrote it); a
//     failed or undecided AUTH as the warning "HOST[ADDR]: SASL MECH
//     authentication failed: REASON, sasl_username=USER" (the user as
//     authd read it, never the password).
//   - While waiting for QueueResult, MailCheckResult, RecipientCheckResult
//     or FirstAttemptEnded, or in a tarpit, the inactivity timer is suspended
//     and restarts when reading resumes; the connection timer runs on. A
//     QueueResult, MailCheckResult, RecipientCheckResult or FirstAttemptEnded
//     that arrives after the session ended, or that nobody waits for, is
//     ignored.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "lib/base/clock.h"
#include "lib/base/log_format.h"
#include "lib/config/config.h"
#include "lib/ipc/messages_auth.h"
#include "lib/ipc/messages_queue.h"
#include "lib/ipc/messages_worker.h"
#include "lib/queue/envelope.h"
#include "lib/smtp/sender_login.h"
#include "lib/smtp/session_log.h"

namespace postern {

struct ClientInfo {
  std::string address;  // textual IP, no brackets
  uint16_t port = 0;
  std::string hostname;  // from a reverse lookup, or empty
  bool trusted = false;  // inside trusted_networks: may relay
  // When the connection was accepted: the ConnectionTimer (MS-OXSMTP 3.2.2)
  // runs from here, through a reverse lookup and an implicit TLS handshake
  // that come before Start(). Unset: from Start().
  std::optional<TimePoint> connected_at;
};

// The parameters of the TLS session a client speaks through.
struct TlsInfo {
  std::string version;  // "TLS1.3"
  std::string cipher;   // "TLS_AES_256_GCM_SHA384"
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
// report_first_attempt: also call FirstAttemptEnded() once the message's
// first delivery attempt has ended (acknowledgement_delay is on).
struct EndMessage {
  bool report_first_attempt = false;
};
// Forget the message begun with BeginMessage.
struct AbortMessage {};
// A MAIL FROM is otherwise acceptable: check the server's resources, then
// count one message for rate_key ("ip:ADDRESS" or "user:NAME") on the
// listener over the last minute; answer with MailCheckResult().
struct MailCheck {
  std::string listener;
  std::string rate_key;
};
// A local RCPT TO is otherwise acceptable: ask authd whether address
// ("local@domain") exists; answer with RecipientCheckResult().
struct RecipientCheck {
  std::string address;
};
// STARTTLS was accepted; its 220 is in a Send before this action. Once that
// is written, run the TLS handshake as the server and call TlsStarted(), or
// close the connection when the handshake fails.
struct StartTls {};
// Begin an AUTH exchange with authd; the answer comes through AuthResult().
// mechanism is upper-case; the initial response is decoded from base64.
struct AuthStart {
  std::string mechanism;
  std::optional<std::string> initial_response;
};
// The client's answer to the last challenge, decoded; AuthResult() follows.
struct AuthStep {
  std::string response;
};
// The exchange begun with AuthStart is abandoned; no AuthResult is wanted.
struct AuthCancel {};
// The 250 held by acknowledgement_delay went out after waiting `waited`
// since the end of the data; `why` ends the log line: the first attempt's
// outcome ("delivered", ...), or the timer that ran out. No FirstAttemptEnded
// is wanted any more.
struct Acknowledged {
  std::string queue_id;
  Duration waited{};
  std::string why;
};
// A line for the log, in Postfix's shape (lib/smtp/session_log.h): a
// refusal, the client of a message, its Message-ID, a failed AUTH.
struct Log {
  LogLevel level = LogLevel::kInfo;
  std::string text;
};
}  // namespace action

using Action =
    std::variant<action::Send, action::Close, action::BeginMessage, action::MessageData,
                 action::EndMessage, action::AbortMessage, action::MailCheck,
                 action::RecipientCheck, action::StartTls, action::AuthStart, action::AuthStep,
                 action::AuthCancel, action::Acknowledged, action::Log>;

// Appends one action, constructed in place: moving a whole Action trips
// g++ 12's -Wmaybe-uninitialized at -O2 (a false positive on std::variant).
template <typename T>
void AppendAction(std::vector<Action>* actions, T action) {
  actions->emplace_back(std::in_place_type<T>, std::move(action));
}

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

  // The addresses each login may send from (sender_login_check); nullptr
  // (the default) means only the login's own addresses. Must outlive the
  // session; call before Start().
  void UseSenderLoginMap(const SenderLoginMap* map);
  // Emits the 220 banner and starts the connection and inactivity timers.
  // implicit_tls: the connection is already encrypted (tls_wrapper).
  void Start(std::optional<TlsInfo> implicit_tls = std::nullopt);
  // Bytes read from the client, any amount, any split.
  void Receive(std::string_view bytes);
  // The client closed its side; the session discards any open transaction.
  void ReceiveEof();
  // qmgr's answer to the last EndMessage. The id in a kQueued answer is the
  // one this session made, and a failure's reason is not for the client:
  // only the outcome is needed.
  void QueueResult(ipc::QueueOutcome outcome);
  // qmgr's report that the first delivery attempt of the message the last
  // EndMessage (with report_first_attempt) committed has ended.
  void FirstAttemptEnded(ipc::AttemptSummary summary);
  // The answer to the last MailCheck.
  void MailCheckResult(ipc::MailVerdict verdict);
  // The answer to the last RecipientCheck. known_as, with kKnown, is the
  // address as authd's directory knows it: when it differs from the one
  // asked about, the recipient is recorded as known_as and the client's
  // spelling becomes its ORCPT (unless it gave one). Empty keeps the address.
  void RecipientCheckResult(ipc::RecipientVerdict verdict, const std::string& known_as);
  // The TLS handshake that StartTls asked for has completed.
  void TlsStarted(const TlsInfo& tls);
  // authd's answer to the last AuthStart or AuthStep: the challenge (raw
  // bytes) for kContinue, the user name for kSuccess.
  void AuthResult(ipc::AuthOutcome outcome, const std::string& data);
  // Time has passed; call when clock.Now() >= NextDeadline().
  void OnTimer();
  // The server is stopping (RFC 5321 3.8: a server shut down SHOULD send
  // 421 first): 421 4.3.2 and the session ends. A 250 held by
  // acknowledgement_delay goes out before it (the message is queued); a
  // session in its TLS handshake is closed without a reply, which would go
  // out in cleartext.
  void ShutDown();
  // The earliest time at which OnTimer() has something to do, or
  // TimePoint::max() when no timer runs.
  TimePoint NextDeadline() const;

  std::vector<Action> TakeActions();
  // Every reply taken so far has been written to the client: the session
  // reads the commands it held back once its reply backlog was full.
  void OutputWritten();
  bool closed() const;
  // The user that AUTH proved, empty before.
  const std::string& authenticated_user() const;
  // The commands so far and how many succeeded, for the disconnect line; a
  // command still unanswered counts as failed once the session is closed.
  const CommandCounts& command_counts() const;
  // What `postern status` counts over a minute and metrics_listen counts
  // for good, as running totals since the session began: messages
  // acknowledged with 250 (queued) and their content octets, and error
  // replies (4xx, 5xx) to MAIL, RCPT, DATA (its end included) and BDAT,
  // by command and reply. Replies the server sends on its own (timeouts)
  // are not counted.
  struct Refusal {
    std::string command;   // "MAIL", "RCPT", "DATA", "BDAT"
    int code = 0;          // 550
    std::string enhanced;  // "5.1.1"; empty for a reply without one
    auto operator<=>(const Refusal&) const = default;
  };
  struct Tally {
    uint32_t messages = 0;
    uint32_t rejections = 0;  // the sum of refused
    uint64_t bytes = 0;
    std::map<Refusal, uint32_t> refused;
    bool operator==(const Tally&) const = default;
    // What this tally (a later one of the same session) added to earlier.
    Tally Since(const Tally& earlier) const;
    // Adds another tally (of another session, or a later part) to this one.
    void Add(const Tally& more);
  };
  const Tally& tally() const;
  // True while the session should not be given more input (waiting for
  // qmgr (its commit or the first attempt), authd (AUTH or RCPT), master's MAIL answer or a TLS
  // handshake, or
  // holding a large unprocessed backlog): the driver stops reading.
  bool input_paused() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace postern
