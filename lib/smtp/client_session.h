// lib/smtp/client_session.h — one SMTP client session to one next hop, as a pure
// state machine (MS-OXSMTP 3.1: RFC 5321 and the extensions of 1.2.1).
//
// The server's bytes go in through Received(); commands to write and
// requests for the outside world come out as ClientActions from
// TakeActions(). The session never touches a socket, a file or a SASL
// library and reads time only from the Clock it is given: qmgr's driver
// glues it to a connection, a TLS session, a Cyrus SASL client and the
// queue store, and unit tests drive it with byte strings and a FakeClock.
//
// One session carries any number of messages (Deliver(), in order) until
// Quit(). For each it reports a MessageDone with every recipient attempted
// (those of the envelope whose state is kPending): delivered, deferred or
// failed, with the reply (code, enhanced code, text) or postern's own
// reason that decided it, for DSNs, `queue show` and the log. The session's
// own end comes in the Close action: completed (QUIT), or deferred with the
// reason (421, a timeout, TLS required and not offered, ...).
//
// Content is pulled in pieces: for each transaction the session asks with
// NeedContent{offset} and the driver answers ContentPiece() with the next
// bytes of the stored message from that offset (once it can write more; the
// driver's output buffer is the flow control), so no message is ever held
// whole. The session dot-stuffs pieces for DATA and frames them as BDAT
// chunks, one chunk per piece.
//
// Behaviour the RFCs leave open, decided here:
//   - Session-level refusals defer, they never fail mail: a greeting other
//     than 220, EHLO and HELO refused, STARTTLS refused or the handshake
//     failing where TLS is required, AUTH failing or impossible, a reply
//     that is not SMTP, a lost connection and every timeout defer every
//     recipient not yet final (as Postfix's smtp_skip_5xx_greeting and
//     smtp_sasl_auth_soft_bounce). Only replies to MAIL, RCPT and the
//     content fail recipients permanently. Postern's own reasons carry code
//     0 and an enhanced code: 4.4.2 timeout or lost connection, 4.5.0
//     protocol error, 4.7.4 TLS required but not offered, 4.7.5 TLS
//     handshake failed, 4.7.0 AUTH impossible or failed (the peer's reply
//     when it gave one).
//   - EHLO falls back to HELO on 500 or 502 only (RFC 5321 3.2); after HELO
//     no extension is used.
//   - TLS (RFC 3207): with policy may, encrypt or verify, STARTTLS is sent
//     whenever offered and the session is not yet encrypted; STARTTLS
//     refused under may goes on in cleartext. encrypt and verify without an
//     offer defer (4.7.4) and QUIT; the certificate check of verify is the
//     driver's. After the 220 the session reads nothing until TlsStarted():
//     bytes after the 220 in the same read are discarded (an injected reply
//     must never be taken for the TLS server's), then EHLO is sent again and
//     everything learnt before is forgotten. TlsFailed() closes without
//     QUIT: the channel is in an unknown state.
//   - AUTH (RFC 4954) is used when credentials are configured, the EHLO
//     reply lists AUTH, and the session is encrypted or
//     allow_plaintext_auth: the first mechanism of auth_mechanisms that the
//     peer offers. When the peer lists AUTH but none of ours, or only in
//     cleartext, the session defers (4.7.0) rather than send unauthenticated
//     mail that the peer may relay differently; a peer that lists no AUTH is
//     used unauthenticated. The SASL client's initial response goes on the
//     AUTH line (RFC 4954 4; "=" when empty), except for NTLM: [MS-SMTP]
//     3.1.5.2 sends "AUTH NTLM" alone, and the NEGOTIATE message follows the
//     server's "334 NTLM supported", whose text is not base64. A challenge
//     that is not base64 is cancelled with "*". Any other final reply than
//     235, and a SASL client failure, defer the session and QUIT.
//   - AUTH= on MAIL (RFC 4954 5) is sent once the session authenticated:
//     the envelope's auth_mailbox as xtext, or <> when it is "<>" or empty
//     (postern asserts no submitter the original client did not name).
//   - BODY: the envelope's declared body type decides, the content is not
//     scanned. An 8BITMIME body to a peer without 8BITMIME, and a BINARYMIME
//     body to a peer without CHUNKING and BINARYMIME, fail with 5.6.3
//     without being sent (no conversion to 7 bit). SIZE= is declared when
//     offered, and a message larger than the peer's announced limit fails
//     with 5.3.4 without being sent (RFC 1870 6).
//   - DSN (RFC 3461): RET, ENVID, NOTIFY and ORCPT are passed on as
//     received when the peer offers DSN; no ORCPT is added. MessageDone says
//     whether they were (dsn_passed_on), so the DSN writer sends a "relayed"
//     DSN for NOTIFY=SUCCESS when they were not.
//   - PIPELINING (RFC 2920): RSET when needed, MAIL, every RCPT and DATA go
//     in one write. With CHUNKING as well, the first BDAT chunk goes in that
//     write instead of DATA (the session waits for the first piece before
//     writing), and further chunks follow without waiting for replies: one
//     round trip for a message that fits one piece. A refused RCPT or MAIL
//     cannot stop what is already on its way; the peer refuses it (RFC 2920
//     3.1, RFC 3030 4), the session asks for no more content after the
//     first refusal it reads and resets the transaction. A 354 when no RCPT
//     was accepted is answered with the lone "." (RFC 2920 3.1). Without
//     PIPELINING one command waits for its reply, and a transaction whose
//     RCPTs were all refused is reset without DATA. With CHUNKING but no
//     PIPELINING every chunk waits for its 250.
//   - BDAT is used whenever the peer offers CHUNKING; DATA otherwise.
//   - RSET is sent only when a transaction was opened (MAIL accepted) and
//     not closed by a final reply to its content, before the next MAIL; a
//     QUIT needs none.
//   - Too many recipients (RFC 5321 4.5.3.1.10; MS-OXSMTP 3.2.5
//     "452 4.5.3"): a RCPT refused with 452 4.5.3 (or 552 5.5.3, read as
//     452 as RFC 5321 says) is tried again in a further transaction on the
//     same session once this one is done, as long as this one accepted a
//     recipient; otherwise it is deferred with that reply.
//   - Replies to MAIL that the session can repair (MS-OXSMTP 3.2.5): after
//     503 5.5.2 (send hello first; or 503 with no enhanced code, which a
//     fresh EHLO cannot harm) it sends EHLO; after 451 5.7.3 (STARTTLS
//     first) STARTTLS, even when not listed, unless the policy is none or
//     STARTTLS was tried; after 530 (5.7.0, 5.7.1 or none) with credentials,
//     STARTTLS first when not encrypted, else AUTH (with the first of our
//     mechanisms when the peer listed none). Each repair is tried once per
//     session and the transaction is retried once; when it cannot be
//     repaired the MAIL reply decides the message by its code (4xx deferred,
//     5xx failed), except 530 with credentials configured, which defers (our
//     configuration, not the message, is at fault).
//   - 421 to any command or unasked closes at once, without QUIT (RFC 5321
//     3.8: the server is closing); everything not final is deferred with it.
//   - Timeouts (RFC 5321 4.5.3.2), from ClientSettings: the reply awaited
//     first has its timer started when its command was written or when the
//     reply before it arrived. The data block timer runs while the session
//     waits for a ContentPiece: the driver supplies pieces as the socket
//     takes them, so a peer that stops reading stalls the pieces. The TLS
//     handshake and commands without an RFC timer (EHLO, HELO, STARTTLS,
//     AUTH, RSET, QUIT) use command_timeout. Waiting for the SASL client and
//     for the driver between messages runs no timer. A timeout closes
//     without QUIT.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "lib/base/clock.h"
#include "lib/queue/envelope.h"
#include "lib/smtp/relay_tls.h"

namespace postern {

struct ClientSettings {
  std::string helo_name;  // the name in EHLO/HELO: myhostname
  RelayTls tls = RelayTls::kMay;
  // Credentials are configured (relay_auth_user and its password): the
  // driver's SASL client holds them; the session only needs to know.
  bool credentials = false;
  // Preference order; the peer's order does not count.
  std::vector<std::string> auth_mechanisms = {"NTLM", "LOGIN", "PLAIN"};
  bool allow_plaintext_auth = false;
  // RFC 5321 4.5.3.2.
  Duration greeting_timeout = std::chrono::minutes(5);
  Duration mail_timeout = std::chrono::minutes(5);
  Duration rcpt_timeout = std::chrono::minutes(5);
  Duration data_init_timeout = std::chrono::minutes(2);
  Duration data_block_timeout = std::chrono::minutes(3);
  Duration data_done_timeout = std::chrono::minutes(10);
  // EHLO, HELO, STARTTLS and the handshake, AUTH, RSET, QUIT.
  Duration command_timeout = std::chrono::minutes(5);
};

// Why a recipient or a session ended as it did.
struct Diagnostic {
  int code = 0;          // the peer's reply code; 0 when postern decided without one
  std::string enhanced;  // "5.1.1"; for postern's own reasons always set
  // The reply's lines joined by spaces, as the peer sent them (the log and
  // the DSN writer make them printable), or postern's reason.
  std::string text;
  // "550 5.1.1 text" for a reply, "4.4.2 text" for postern's own reason.
  std::string ToString() const;
  bool operator==(const Diagnostic&) const = default;
};

enum class DeliveryStatus { kDelivered, kDeferred, kFailed };

struct RecipientOutcome {
  size_t index = 0;  // into the envelope's recipients
  DeliveryStatus status = DeliveryStatus::kDeferred;
  Diagnostic diagnostic;
};

struct MessageOutcome {
  std::string queue_id;
  std::vector<RecipientOutcome> recipients;  // in the envelope's order
  // NOTIFY/ORCPT/RET/ENVID reached the peer (it offered DSN).
  bool dsn_passed_on = false;
};

struct SessionEnd {
  bool completed = false;  // QUIT was sent after the last message
  Diagnostic reason;       // why not, when not
};

namespace client_action {
// Command bytes to write, CRLF-terminated.
struct Send {
  std::string bytes;
};
// STARTTLS got its 220: run the TLS handshake as the client, then call
// TlsStarted() or TlsFailed().
struct StartTls {};
// Begin a SASL client exchange for mechanism (upper-case); answer with
// AuthResponse(initial response, or nothing) or AuthFailed().
struct AuthStart {
  std::string mechanism;
};
// The server's challenge, decoded; answer with AuthResponse() or AuthFailed().
struct AuthContinue {
  std::string challenge;
};
// Give ContentPiece() with the message's bytes from offset on.
struct NeedContent {
  std::string queue_id;
  uint64_t offset = 0;
};
// One message is done with; nothing more comes about it.
struct MessageDone {
  MessageOutcome outcome;
};
// The session is idle: Deliver() another message or Quit().
struct Ready {};
// Close the connection once everything sent before has been written.
struct Close {
  SessionEnd end;
};
}  // namespace client_action

using ClientAction =
    std::variant<client_action::Send, client_action::StartTls, client_action::AuthStart,
                 client_action::AuthContinue, client_action::NeedContent,
                 client_action::MessageDone, client_action::Ready, client_action::Close>;

class ClientSession {
 public:
  // settings is copied; clock must outlive the session.
  ClientSession(ClientSettings settings, const Clock& clock);
  ~ClientSession();
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // The connection is open: wait for the greeting.
  void Start();
  // Bytes read from the server (decrypted under TLS), any amount, any split.
  void Received(std::string_view bytes);
  // The server closed the connection (or it broke).
  void PeerClosed();
  // The handshake that StartTls asked for completed / failed (reason for
  // the log and the deferral).
  void TlsStarted();
  void TlsFailed(const std::string& reason);
  // The SASL client's answer to AuthStart (its initial response, if any) or
  // to AuthContinue; or its failure.
  void AuthResponse(std::optional<std::string> response);
  void AuthFailed(const std::string& reason);
  // The next bytes after the last NeedContent's offset; last: the message
  // ends with them. A piece is not empty unless it is the last.
  void ContentPiece(std::string_view bytes, bool last);
  // Queues a message; its recipients in state kPending are attempted.
  // After the session ended, the message is answered deferred at once.
  void Deliver(Envelope envelope);
  // No further message: QUIT once the queued ones are done.
  void Quit();
  // Time has passed; call when clock.Now() >= NextDeadline().
  void OnTimer();
  // When OnTimer() has something to do; TimePoint::max() when no timer runs.
  TimePoint NextDeadline() const;

  std::vector<ClientAction> TakeActions();
  bool closed() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace postern
