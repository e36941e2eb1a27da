// lib/queue/queue_listing.h — what `postern queue list [--json]` and
// `postern queue show ID` print of queued messages.
//
// Pure: stored messages in, text out, at the time given and by the delivery
// schedule given (lib/queue/delivery_schedule.h: the one back-off formula),
// so a test drives every field with a hand-made envelope. qmgr reads the
// store and sends the text (qmgr/queue_control.h); the CLI prints it.
//
// Decisions:
//   - States: a pending recipient is "deferred" once an attempt failed for
//     it (attempts > 0 or a last reply), else "pending"; then "delivered"
//     and "failed".
//   - Next try: none (JSON null) for a final recipient and for every
//     recipient of a held message; else DeliverySchedule::NextTry(), but
//     never earlier than `now` (a recipient that is due shows the time of
//     the listing, not its overdue time or, never tried, the epoch).
//   - Text is for a terminal: every outside text (addresses, replies, host
//     names) goes through Printable(). JSON carries it whole, escaped by
//     JsonString().
//   - Pages: a listing must fit one control reply, so it is cut into pages
//     of whole messages in queue id order; a page's cursor is the last
//     queue id it shows, and the page after it starts with the first
//     message after that id (messages queued or removed meanwhile are
//     listed or not, never twice). Concatenated, the pages of a JSON
//     listing are one JSON array; the text listing ends with a summary of
//     the queue as the last page found it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/clock.h"
#include "lib/base/status.h"
#include "lib/queue/delivery_schedule.h"
#include "lib/queue/envelope.h"
#include "lib/queue/queue_store.h"

namespace postern {

// bytes as one quoted JSON string (RFC 8259). Well-formed UTF-8 stays as it
// is, except C1 controls (U+0080..U+009F); '"' and '\' are escaped; \b \f \n
// \r \t have their short forms; other controls, DEL, C1 controls and every
// byte that is not part of well-formed UTF-8 are \u00XX, that is, a
// stray byte reads as its Latin-1 character.
std::string JsonString(std::string_view bytes);

// Seconds since the epoch as RFC 3339 in UTC: "2024-05-01T10:00:00Z".
std::string Rfc3339(int64_t seconds);
std::string Rfc3339(WallTime time);

// "pending", "deferred", "delivered" or "failed".
const char* RecipientStateName(const Recipient& recipient);

// When the recipient is tried next (see the decisions above).
std::optional<WallTime> NextTryOf(const Recipient& recipient, bool held,
                                  const DeliverySchedule& schedule, WallTime now);

enum class ListingFormat { kText, kJson };

struct ListingPage {
  std::string text;
  // The cursor of the next page; empty when this page is the last.
  std::string more;
};

// The page of the listing of messages (in queue id order, as
// QueueStore::ListMessages() gives them) that starts after the queue id
// `after` (empty: the first page), of at most max_bytes. A page holds at
// least one message: fails when that message alone takes more.
Result<ListingPage> ListQueuePage(const std::vector<StoredMessage>& messages, ListingFormat format,
                                  const std::string& after, size_t max_bytes,
                                  const DeliverySchedule& schedule, WallTime now);

// The envelope as `queue show` prints it: `key: value` lines, one
// `recipient:` line per recipient followed by its indented attempt details.
std::string DescribeMessage(const StoredMessage& message, const DeliverySchedule& schedule,
                            WallTime now);

}  // namespace postern
