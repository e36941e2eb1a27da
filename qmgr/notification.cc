// qmgr/notification.cc — DSNs into the queue: qmgr/notification.h.
#include "qmgr/notification.h"

#include <algorithm>

#include "lib/queue/queue_id.h"

namespace postern {

Result<Envelope> QueueNotification(QueueStore::WriteBatch* batch, const QueueStore& store,
                                   const Envelope& original,
                                   const std::vector<DsnRecipient>& recipients,
                                   const Config& config, WallTime now, WallTime will_retry_until) {
  // One byte over the limit is enough to know the message is too large.
  Result<std::string> content =
      store.ReadRange(original.queue_id, 0, config.bounce_size_limit + 1, original.size);
  if (!content.ok())
    return Status::Error("cannot read " + original.queue_id +
                         " for its DSN: " + content.status().message());
  DsnRequest request;
  request.myhostname = config.myhostname;
  request.queue_id = NewQueueId();
  request.date = now;
  request.recipients = recipients;
  request.will_retry_until = will_retry_until;
  request.return_size_limit = config.bounce_size_limit;
  const std::string dsn = WriteDsn(original, *content, request);

  ContentChunker chunker(request.queue_id);
  if (Status s = chunker.Append(batch, dsn); !s.ok()) return s;
  if (Status s = chunker.Finish(batch); !s.ok()) return s;
  Envelope envelope = DsnEnvelope(original, request.queue_id, ToEpochSeconds(now), dsn.size());
  if (Status s = batch->PutEnvelope(envelope); !s.ok()) return s;
  return envelope;
}

std::string NotificationKind(const std::vector<DsnRecipient>& recipients) {
  auto reports = [&recipients](DsnAction action) {
    return std::any_of(recipients.begin(), recipients.end(),
                       [action](const DsnRecipient& r) { return r.action == action; });
  };
  if (reports(DsnAction::kFailed)) return "sender non-delivery notification";
  if (reports(DsnAction::kDelayed)) return "sender delay notification";
  return "sender delivery status notification";
}

}  // namespace postern
