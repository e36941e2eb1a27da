// qmgr/notification.h — puts a DSN that the delivery schedule asks for into
// the queue, in the batch that records the states it reports.
//
// The DSN (lib/queue/dsn_report.h) is a new message: a fresh queue id,
// sender <>, the original sender as its one recipient, stored chunk by
// chunk with its envelope in the open write batch. Because the recipient
// states that caused it go into the same batch, the DSN exists exactly
// when they do: a failed commit loses both, and the next attempt makes
// both again; the original is removed only in the batch that queues its
// last DSN. Reads no more of the original than the DSN can return
// (bounce_size_limit + 1 bytes: a longer message is returned as headers).
#pragma once

#include <string>
#include <vector>

#include "lib/base/clock.h"
#include "lib/base/status.h"
#include "lib/config/config.h"
#include "lib/queue/dsn_report.h"
#include "lib/queue/envelope.h"
#include "lib/queue/queue_store.h"

namespace postern {

// Writes the DSN about `recipients` of `original` (whose content is in
// `store`, committed) into batch; returns the DSN's envelope, already put.
// will_retry_until is the original's expiry, for delayed recipients.
Result<Envelope> QueueNotification(QueueStore::WriteBatch* batch, const QueueStore& store,
                                   const Envelope& original,
                                   const std::vector<DsnRecipient>& recipients,
                                   const Config& config, WallTime now, WallTime will_retry_until);

// What the log calls a DSN about these recipients, as Postfix does:
// "sender non-delivery notification" when one failed, else "sender delay
// notification" when one is delayed, else "sender delivery status
// notification".
std::string NotificationKind(const std::vector<DsnRecipient>& recipients);

}  // namespace postern
