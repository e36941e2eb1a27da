// qmgr/queue_manager.h — the queue as qmgr's event loop sees it.
//
// Owns the open group transaction (one LMDB write batch shared by every
// stream), the in-memory index of queued messages (hold flag, delivery in
// progress), the timer of the lazy commit and the wake-ups, and the
// delivery worker.
//
// Group commit: streams write their chunks into the open batch as they
// arrive; QueueMessage() adds an envelope and asks for a commit. The commit
// runs from a libevent callback activated behind the read callbacks already
// due in this loop iteration, so everything readable is processed first and
// one sync then covers every message ended meanwhile; all of them are
// answered after it. The batch is also committed when its chunk data grows
// past kCommitBatchBytes, and kLazyCommitDelay after it took changes that
// nobody waits for. Nothing is acknowledged before its commit returned.
//
// Delivery schedule (lib/queue/delivery_schedule.h decides; this carries
// it out): each message not held or in delivery has one wake-up, at its
// next due recipient, delay warning or expiry. Then the envelope is read
// (through the open batch, which may hold a newer one), the expiry and
// warning are recorded when due, and the local recipients that are due go
// to a delivery thread. Outcomes are recorded with the DSN they ask for
// (qmgr/notification.h) in one batch, which also removes the message once
// every recipient is final.
//
// The end of a delivery attempt is announced (AttemptEnded callback) when
// the last report of a message's attempt is recorded (its deliveries back
// at 0: delivered, relayed, failed or deferred), when a message just
// committed has nothing due (so no attempt will come before its next
// review), and when the administrator deletes a message. qmgr's stream
// side uses it for acknowledgement_delay: it keeps the waiters, and
// forgets a message's waiter at its first announcement.
//
// Time comes from the Clock given: the lazy commit and the wake-ups are
// due times, and one libevent timer wakes the manager at the earliest
// (RunDueTimers), so a test drives both with a FakeClock. The store and the file system are
// interfaces a test can make fail: QueueStore::SetCommitFault() fails a commit as a full or broken
// disk would, a FileSystem double fails a Maildir delivery.
//
// Disk floor (lib/queue/disk_floor.h): before content or an envelope joins the
// batch, the bytes in flight (the batch's chunks and the partial chunks of
// open streams) plus the new ones must leave min_free_disk_space free on
// the queue's file system. When they do not, the oldest messages win: the
// youngest open streams holding bytes (younger than the one asking) are
// given up until their bytes cover what is short, their content discarded
// and their streams told through the StreamGivenUp callback (452 4.3.1 at
// the end of their data); after each round of that, and once per other
// commit before it, the batch is committed and the freed pages released so
// that they count as room. Only when no younger stream can make the room is
// the stream asking given up itself.
//
// A failed batch (map or disk full, I/O error) loses everything written in
// it: every message waiting for that commit is answered with the failure,
// streams that wrote chunks into it are told through the BatchFailed
// callback, and delivery outcomes recorded in it are recovered from the
// store and retried. After a failure for want of space, and after control
// deletes, QueueStore::ReleaseFreedPages() makes freed space usable at once;
// until a message fits again, delivery outcomes (whose deletes free space)
// are committed apart from content. Runs entirely on the loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lib/base/clock.h"
#include "lib/base/file_system.h"
#include "lib/config/config.h"
#include "lib/ipc/messages_queue.h"
#include "lib/ipc/status_report.h"
#include "lib/net/event_handles.h"
#include "lib/policy/resource_check.h"
#include "lib/queue/delivery_schedule.h"
#include "lib/queue/disk_floor.h"
#include "lib/queue/envelope.h"
#include "lib/queue/queue_metrics.h"
#include "lib/queue/queue_store.h"
#include "qmgr/delivery.h"
#include "qmgr/relay_delivery.h"

namespace postern {

// Commit once this much chunk data waits in the open batch: bounds the
// memory of LMDB's dirty pages while large messages stream in.
constexpr uint64_t kCommitBatchBytes = 8 << 20;
// Delivery outcomes and discarded content need no sync of their own (a lost
// outcome only repeats a delivery, which finds its Maildir file): they ride
// along with the next message commit, or are committed after this delay.
constexpr Duration kLazyCommitDelay = std::chrono::milliseconds(200);

class QueueManager {
 public:
  using DurableCallback = std::function<void(const Status&)>;
  using BatchFailedCallback = std::function<void(uint64_t generation, const Status&)>;
  using StreamGivenUpCallback = std::function<void(const std::string& queue_id, const Status&)>;
  using AttemptEndedCallback =
      std::function<void(const std::string& queue_id, ipc::AttemptSummary)>;

  // clock, store and fs must outlive the manager.
  QueueManager(event_base* base, const Clock* clock, QueueStore* store, FileSystem* fs,
               std::shared_ptr<const Config> config);
  ~QueueManager();
  QueueManager(const QueueManager&) = delete;
  QueueManager& operator=(const QueueManager&) = delete;

  // Removes orphan chunks, loads the index, starts the worker and hands it
  // every message with a pending local recipient.
  Status Start();
  // Commits the open batch, stops the worker, records what it finished.
  void Shutdown();
  // Later deliveries use this configuration.
  void Reconfigure(std::shared_ptr<const Config> config);
  // relay_auth_user's password, for AUTH to the next hop.
  void SetRelayPassword(std::string password) { relay_.SetRelayPassword(std::move(password)); }

  // --- used by the stream side (qmgr/queue_server.h)
  // Claims a queue id for a new stream; false when it is queued or in flight.
  bool Reserve(const std::string& queue_id);
  void Release(const std::string& queue_id);
  // A stream of a reserved queue id begins: its age decides which stream the
  // disk floor gives up first (the youngest). chunker must stay put until
  // ForgetContent() or QueueMessage().
  void BeginContent(ContentChunker* chunker);
  // Streams content into the open batch. A failure means the message is lost:
  // a resource-exhausted one when the disk floor refuses it. May give up
  // younger streams (StreamGivenUp callback) to make room.
  Status AppendContent(ContentChunker* chunker, std::string_view bytes);
  // The stream of chunker ends without QueueMessage(): its partial chunk is
  // dropped and no longer counts as in flight. Call before destroying the
  // chunker; calling it again does nothing.
  void ForgetContent(ContentChunker* chunker);
  // The disk floor gave up the stream of queue_id to make room for older
  // ones: its content is discarded already; its message must be answered
  // with the failure given. Runs inside AppendContent()/QueueMessage() of
  // another stream.
  void SetStreamGivenUpCallback(StreamGivenUpCallback callback) {
    stream_given_up_ = std::move(callback);
  }
  // Identifies the open batch (or the next one); streams remember it so
  // that the BatchFailed callback can tell which of them lost chunks.
  uint64_t generation() const { return generation_; }
  void SetBatchFailedCallback(BatchFailedCallback callback) { batch_failed_ = std::move(callback); }
  // A delivery attempt of queue_id has ended, or none is under way or due
  // (see the file comment); runs from the loop, after the commit that
  // queued the message was answered.
  void SetAttemptEndedCallback(AttemptEndedCallback callback) {
    attempt_ended_ = std::move(callback);
  }
  // Deletes the chunks of a stream that will never be queued.
  void DiscardContent(const std::string& queue_id);
  // Completes a message: done runs once it is on disk, or with the reason
  // it cannot be. The queue id must have been reserved.
  void QueueMessage(Envelope envelope, ContentChunker* chunker, DurableCallback done);

  // --- used by queue control (qmgr/queue_control.h); changes are committed
  // before these return.
  const QueueStore& store() const { return *store_; }
  bool Contains(const std::string& queue_id) const { return index_.count(queue_id) != 0; }
  // For master's early refusal: what the store can reuse and what is in flight.
  QueueSpace Space();
  // For `postern status`: the committed messages by state (lib/ipc/status_report.h
  // says which state wins), counted from the index without reading the store.
  QueueDepth Depth() const;
  // qmgr's Prometheus families for metrics_listen (lib/queue/queue_metrics.h).
  std::string MetricsText() const;
  std::vector<std::string> QueuedIds() const;
  Status Delete(const std::vector<std::string>& queue_ids);
  Status SetHold(const std::string& queue_id, bool held);
  // Hands the pending recipients of every message to delivery now,
  // whatever their back-off; returns how many messages went.
  size_t Flush();
  // When the next message is due to be looked at again (a retry, an
  // expiry, a delay warning), if one waits.
  std::optional<TimePoint> NextRetry() const { return retries_.NextDue(); }

  // Does what the clock says is due: the lazy commit, the retries of
  // deferred deliveries; then sets the timer for what comes next. The
  // manager's timer calls it; a test calls it after advancing a FakeClock.
  void RunDueTimers();

 private:
  // What the manager keeps in memory of a committed message; the rest is
  // read from the envelope when needed.
  struct MessageState {
    bool held = false;
    int deliveries = 0;     // reports awaited: from a delivery thread, from the relay
    TimePoint queued;       // committed (or, from before the start, arrived)
    TimePoint handed;       // its last attempt was handed out
    bool deferred = false;  // a recipient is deferred (lib/queue/queue_listing.h), for Depth()
    // Queued by this process and not yet handed to a delivery thread: no
    // Maildir can hold a copy from an earlier attempt (DeliveryKey::first_attempt).
    bool never_attempted = false;
  };
  struct WaitingAck {
    Envelope envelope;
    DurableCallback done;
  };

  static void OnCommitEvent(evutil_socket_t, short, void* self);
  static void OnReportsReady(evutil_socket_t, short, void* self);
  static void OnRelayReports(evutil_socket_t, short, void* self);
  static void OnTimer(evutil_socket_t, short, void* self);

  Result<QueueStore::WriteBatch*> Batch();
  void RequestCommit();
  void RequestLazyCommit();
  Status CommitNow();
  // Asks the disk floor whether `more` bytes of requester's stream may join
  // those in flight, giving up younger streams when that makes the room.
  Status AdmitBytes(ContentChunker* requester, uint64_t more);
  Status AdmitToFloor(uint64_t more, uint64_t* shortfall);
  // Commits the open batch and releases the pages it freed; false when the
  // commit failed.
  bool MakeFreedPagesRoom();
  void GiveUp(ContentChunker* chunker, const Status& why);
  void Unlist(const ContentChunker* chunker);
  void FailBatch(const Status& failure);
  void ReleaseFreedPages();
  // queued: when it was committed, for delays= in the log; queued_here:
  // committed by this process just now (not found in the queue at start).
  void Index(const Envelope& envelope, bool held, TimePoint queued, bool queued_here);
  // Whether a recipient of envelope is deferred, for MessageState::deferred.
  static bool HasDeferred(const Envelope& envelope);
  // Its arrival on the monotonic clock, for a message not committed now.
  TimePoint ArrivedAt(const Envelope& envelope) const;
  void Forget(const std::string& queue_id);
  // Reloads a message's state from the store after changes to it were lost
  // with a batch; false when it is no longer queued.
  bool Reindex(const std::string& queue_id);
  // The envelope as the next commit will leave it.
  Result<std::optional<Envelope>> CurrentEnvelope(const std::string& queue_id);
  // Reviews a message that is neither held nor being delivered: records
  // its expiry or delay warning when due (with their DSN), then plans it.
  void Attend(const std::string& queue_id, bool ignore_back_off);
  // Hands the local recipients that are due (all pending ones when
  // ignore_back_off: a flush) to the worker, or sets the message's wake-up
  // at its next try, expiry or delay warning.
  void Plan(const Envelope& envelope, bool ignore_back_off);
  // Writes what a schedule decision says into the open batch: the envelope
  // (or the message's removal once finished) and the DSN asked for.
  Status Settle(Envelope* envelope, const ScheduleDecision& decision);
  // The store failed us: look at the message again after minimal_backoff_time.
  void ScheduleRetry(const std::string& queue_id);
  // Sets the timer for the earliest due time (lazy commit or retry).
  void ArmTimer();
  void ApplyReports();
  void ApplyReport(const DeliveryReport& report);
  Status RecordOutcomes(const DeliveryReport& report);
  // Announces the end of queue_id's attempt unless a report is still
  // awaited (its deliveries are not back at 0).
  void AttemptOver(const std::string& queue_id, ipc::AttemptSummary summary);

  event_base* base_;
  QueueStore* store_;
  const Clock* clock_;
  std::shared_ptr<const Config> config_;
  DeliveryWorker worker_;
  RelayDelivery relay_;
  std::vector<DeliveryReport> relay_reports_;
  EventPtr relay_reports_event_;
  EventPtr commit_event_;
  EventPtr reports_event_;
  EventPtr timer_;
  // When the open batch, holding changes nobody waits for, is committed.
  std::optional<TimePoint> lazy_commit_due_;

  std::optional<QueueStore::WriteBatch> batch_;
  uint64_t generation_ = 1;
  std::vector<WaitingAck> waiting_;      // ended messages in the open batch
  std::set<std::string> updated_;        // delivery outcomes in the open batch
  std::vector<Envelope> notifications_;  // DSNs in the open batch, indexed once committed
  BatchFailedCallback batch_failed_;
  StreamGivenUpCallback stream_given_up_;
  AttemptEndedCallback attempt_ended_;
  bool batch_has_content_ = false;  // message chunks or envelopes in the open batch
  bool batch_frees_space_ = false;  // the open batch removes messages or content
  // Bytes in flight, for the disk floor: the open batch's chunks and the
  // partial chunks of open streams (open_partials_).
  DiskFloor disk_floor_;
  uint64_t open_partials_ = 0;
  // Open streams by age (order of BeginContent), for giving up the youngest.
  std::map<uint64_t, ContentChunker*> streams_by_age_;
  std::unordered_map<const ContentChunker*, uint64_t> stream_age_;
  uint64_t next_stream_age_ = 1;
  QueueMetrics metrics_;
  uint64_t commits_ = 0;           // successful commits, ReleaseFreedPages included
  uint64_t floor_retried_at_ = 0;  // commits_ after the last early commit for the floor
  // A batch failed for want of space and no message has fitted since.
  bool space_short_ = false;

  std::map<std::string, MessageState> index_;  // committed messages
  std::set<std::string> reserved_;             // ids of streams not yet committed
  DueMessages retries_;

  // --- queue control: requeue, hold and release of several messages, the
  // schedule that listings show next tries by (qmgr/queue_control.h).
 public:
  // Hands the pending recipients of each message given to delivery now,
  // whatever their back-off (a flush of those messages), with their
  // attempts kept for the record. A held message stays held (and is looked
  // at on release). Returns how many were handed to delivery.
  size_t Requeue(const std::vector<std::string>& queue_ids);
  // Holds or releases many messages in one commit; those already in the
  // state asked for are left alone. Returns how many changed.
  Result<size_t> SetHolds(const std::vector<std::string>& queue_ids, bool held);
  // The delivery schedule of the current configuration, on the manager's
  // clock.
  DeliverySchedule Schedule() const {
    return DeliverySchedule(clock_, DeliverySettingsFrom(*config_));
  }
  WallTime WallNow() const { return clock_->WallNow(); }

 private:
  // Attend(ignore_back_off) for one message not in delivery; true when it
  // went to delivery.
  bool DeliverNow(const std::string& queue_id);
};

}  // namespace postern
