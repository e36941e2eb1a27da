// lib/queue/dsn_report.h — delivery status notifications (RFC 3461, RFC 3464).
//
// Writes the DSN about some recipients of a queued message as the bytes of
// a complete RFC 5322 message, ready to be queued like any other (sender
// <>, one recipient: the original sender; DsnEnvelope() builds that
// envelope). Pure: the caller gives the time, the DSN's queue id and the
// original content.
//
// The message (RFC 6522 multipart/report; report-type=delivery-status):
//   From: MAILER-DAEMON@myhostname (Mail Delivery System), To: the original
//   sender, Subject by the gravest Action reported (failed: "Undelivered
//   Mail Returned to Sender", delayed: "Delayed Mail (still being
//   retried)", delivered: "Successful Mail Delivery Report", relayed: "Mail
//   Relayed", expanded: "Mail Expanded"), Date, Message-ID
//   <queue_id@myhostname>, Auto-Submitted: auto-replied (RFC 3834),
//   MIME-Version, Content-Type; then three parts:
//   1. text/plain: what happened to each recipient, in words.
//   2. message/delivery-status (RFC 3464): Reporting-MTA: dns; myhostname,
//      Original-Envelope-Id (the ENVID, when given), Arrival-Date; per
//      recipient Final-Recipient: rfc822;address, Original-Recipient (the
//      ORCPT, when given), Action, Status, Remote-MTA: dns; host (when a
//      next hop answered), Diagnostic-Code: smtp; <reply> (an SMTP reply)
//      or x-postern; <reason> (a local one), Last-Attempt-Date (when an
//      attempt was made), Will-Retry-Until (delayed only).
//   3. the returned message: message/rfc822 with the whole message, or
//      text/rfc822-headers with its header section only. Whole by RET=FULL,
//      headers by RET=HDRS; without RET, whole when a recipient failed and
//      headers for delay and success reports. A whole message larger than
//      return_size_limit is returned as headers only; a header section
//      larger than that is left out (RFC 6522 makes the part optional).
//
// ENVID and ORCPT arrive as xtext and are written decoded (RFC 3461 4.2,
// 4.4: their decoded form is printable US-ASCII); a value that does not
// decode to printable US-ASCII is written as received, which is.
//
// Every line ends in CRLF and is at most 998 octets; the boundary occurs
// nowhere in the parts. The DSN is 7-bit: a returned part is included only
// when it is 7-bit text (US-ASCII without NUL, CRLF lines of at most 998
// octets), whatever BODY the original declared. An 8BITMIME or BINARYMIME
// message, or a "7BIT" one that is not, is returned as headers only when
// they are 7-bit, else not at all; the text part says so. Why not
// message/global or an 8-bit DSN: a DSN is delivered onward like any
// message, to next hops that may offer neither 8BITMIME nor BINARYMIME
// and a postern that offers no SMTPUTF8; one that could not go on would
// be lost (its sender is <>, so its failure reports to nobody).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/clock.h"
#include "lib/queue/envelope.h"

namespace postern {

// RFC 3464 2.3.3.
enum class DsnAction : uint8_t { kFailed, kDelayed, kDelivered, kRelayed, kExpanded };

// Whether `recipient` of `envelope` is to hear of `action` (RFC 3461 4.1):
// never when the sender is <> (no DSN about a DSN), never for NOTIFY=NEVER;
// FAILURE,DELAY when the client gave no NOTIFY; else as its NOTIFY asks
// (SUCCESS for delivered, relayed and expanded).
bool WantsDsn(const Envelope& envelope, const Recipient& recipient, DsnAction action);

struct DsnRecipient {
  size_t index = 0;  // into the original Envelope::recipients
  DsnAction action = DsnAction::kFailed;

  bool operator==(const DsnRecipient&) const = default;
};

// Postfix's bounce_size_limit: the largest message returned whole.
constexpr size_t kDefaultReturnSizeLimit = 50000;

struct DsnRequest {
  std::string myhostname;
  std::string queue_id;  // the DSN's own queue id: its Message-ID and boundary
  WallTime date;         // when the DSN is written
  std::vector<DsnRecipient> recipients;
  WallTime will_retry_until;  // for delayed recipients: the message's expiry
  size_t return_size_limit = kDefaultReturnSizeLimit;
};

// The DSN's bytes. Each recipient's Status, Remote-MTA, Diagnostic-Code and
// Last-Attempt-Date come from its fields in `original` (status empty: 5.0.0,
// 4.0.0 or 2.0.0 by its Action); `content` is the original message as
// queued (CRLF lines).
std::string WriteDsn(const Envelope& original, std::string_view content, const DsnRequest& request);

// The envelope of a DSN about `original`: sender <>, the original sender
// as its one recipient, 7BIT.
Envelope DsnEnvelope(const Envelope& original, std::string queue_id, int64_t arrival_time,
                     uint64_t size);

}  // namespace postern
