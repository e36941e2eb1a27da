// qmgr/queue_manager.cc — group commit, index, scheduling of qmgr/queue_manager.h.
#include "qmgr/queue_manager.h"

#include <algorithm>
#include <cinttypes>

#include "lib/base/log.h"
#include "lib/policy/resource_check.h"
#include "lib/queue/delivery_log.h"
#include "lib/queue/queue_listing.h"
#include "qmgr/notification.h"

namespace postern {
namespace {

// What an attempt came to, by the recipients' states once it is recorded.
ipc::AttemptSummary SummaryOf(const Envelope& envelope) {
  bool failed = false;
  for (const Recipient& r : envelope.recipients) {
    if (r.state == RecipientState::kPending) return ipc::AttemptSummary::kDeferred;
    if (r.state == RecipientState::kFailed) failed = true;
  }
  return failed ? ipc::AttemptSummary::kFailed : ipc::AttemptSummary::kDelivered;
}

}  // namespace

QueueManager::QueueManager(event_base* base, const Clock* clock, QueueStore* store, FileSystem* fs,
                           std::shared_ptr<const Config> config)
    : base_(base),
      store_(store),
      clock_(clock),
      config_(std::move(config)),
      worker_(store, fs, clock),
      relay_(base, clock, store),
      disk_floor_(
          DiskFloor::Probe{[store] { return FreeDiskSpace(store->directory()); },
                           [store](bool* held_back) { return store->ReusableBytes(held_back); }},
          clock) {}

QueueManager::~QueueManager() { worker_.Stop(); }

Status QueueManager::Start() {
  Result<RecoveryReport> recovered = store_->Recover();
  if (!recovered.ok()) return recovered.status();
  if (recovered->orphan_chunks > 0)
    LOG_INFO("removed %zu chunks of %zu messages that were never completed",
             recovered->orphan_chunks, recovered->orphan_messages);
  Result<std::vector<StoredMessage>> messages = store_->ListMessages();
  if (!messages.ok()) return messages.status();
  for (const StoredMessage& m : *messages) Index(m.envelope, m.held, ArrivedAt(m.envelope), false);
  LOG_INFO("queue %s opened: %zu messages", store_->directory().c_str(), index_.size());

  if (Status s = worker_.Start(config_->local_delivery_concurrency); !s.ok()) return s;
  if (Status s = relay_.Configure(config_); !s.ok()) return s;
  relay_.SetReportCallback([this](DeliveryReport report) {
    relay_reports_.push_back(std::move(report));
    event_active(relay_reports_event_.get(), EV_TIMEOUT, 1);
  });
  relay_reports_event_.reset(event_new(base_, -1, 0, OnRelayReports, this));
  commit_event_.reset(event_new(base_, -1, 0, OnCommitEvent, this));
  reports_event_.reset(
      event_new(base_, worker_.ready_fd(), EV_READ | EV_PERSIST, OnReportsReady, this));
  timer_.reset(evtimer_new(base_, OnTimer, this));
  if (!commit_event_ || !reports_event_ || !timer_ || !relay_reports_event_ ||
      event_add(reports_event_.get(), nullptr) != 0)
    return Status::Error("cannot create the queue manager's events");
  for (const std::string& id : QueuedIds()) Attend(id, false);
  return Status::Ok();
}

void QueueManager::Shutdown() {
  if (Status s = CommitNow(); !s.ok()) LOG_ERROR("final commit failed: %s", s.message().c_str());
  worker_.Stop();
  relay_.Stop();
  relay_reports_.clear();  // their recipients stay pending: delivered again after a restart
  ApplyReports();
  if (Status s = CommitNow(); !s.ok()) LOG_ERROR("final commit failed: %s", s.message().c_str());
}

void QueueManager::Reconfigure(std::shared_ptr<const Config> config) {
  config_ = std::move(config);
  if (Status s = relay_.Configure(config_); !s.ok())
    LOG_ERROR("relayhost: %s; relaying with the configuration before", s.message().c_str());
  // local_domains and the times may have changed: every plan is made again.
  for (const std::string& id : QueuedIds()) Attend(id, false);
}

// --- the open batch

Result<QueueStore::WriteBatch*> QueueManager::Batch() {
  if (!batch_) {
    Result<QueueStore::WriteBatch> begun = store_->BeginBatch();
    if (!begun.ok()) return begun.status();
    batch_.emplace(std::move(*begun));
  }
  return &*batch_;
}

void QueueManager::RequestCommit() { event_active(commit_event_.get(), EV_TIMEOUT, 1); }

void QueueManager::RequestLazyCommit() {
  if (lazy_commit_due_) return;
  lazy_commit_due_ = clock_->Now() + kLazyCommitDelay;
  ArmTimer();
}

void QueueManager::OnCommitEvent(evutil_socket_t, short, void* self) {
  QueueManager* manager = static_cast<QueueManager*>(self);
  if (Status s = manager->CommitNow(); !s.ok())
    LOG_ERROR("group commit failed: %s", s.message().c_str());
}

Status QueueManager::CommitNow() {
  if (!batch_) return Status::Ok();
  lazy_commit_due_.reset();
  const TimePoint commit_began = clock_->Now();
  Status committed = batch_->Commit();
  if (!committed.ok()) {
    FailBatch(committed);
    return committed;
  }
  batch_.reset();
  disk_floor_.Committed();
  metrics_.Committed(waiting_.size(), std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          clock_->Now() - commit_began));
  ++commits_;
  ++generation_;
  // Pages freed by a commit are reusable only after the next one. A batch
  // of content is soon followed by another; one that only removed messages
  // may be the last for a while, so make its room usable now (the disk
  // floor counts it).
  if (batch_frees_space_ && !batch_has_content_) ReleaseFreedPages();
  batch_frees_space_ = false;
  batch_has_content_ = false;
  updated_.clear();
  std::vector<WaitingAck> acks = std::move(waiting_);
  waiting_.clear();
  if (!acks.empty()) space_short_ = false;
  for (WaitingAck& ack : acks) {
    const Envelope& e = ack.envelope;
    reserved_.erase(e.queue_id);
    LOG_INFO("%s", ArrivalLogLine(e).c_str());
    Index(e, false, clock_->Now(), true);
    ack.done(Status::Ok());
    Plan(e, false);
    // A no-op once Plan handed it out (every recipient is due at its
    // commit); should nothing go, the waiting client is told at once.
    AttemptOver(e.queue_id, ipc::AttemptSummary::kNotAttempted);
  }
  std::vector<Envelope> notifications = std::move(notifications_);
  notifications_.clear();
  for (const Envelope& e : notifications) {
    Index(e, false, clock_->Now(), true);
    Plan(e, false);
  }
  return Status::Ok();
}

void QueueManager::FailBatch(const Status& failure) {
  batch_.reset();
  disk_floor_.Committed();
  const uint64_t failed_generation = generation_++;
  std::vector<WaitingAck> acks = std::move(waiting_);
  waiting_.clear();
  for (WaitingAck& ack : acks) {
    reserved_.erase(ack.envelope.queue_id);
    ack.done(failure);
  }
  if (batch_failed_) batch_failed_(failed_generation, failure);
  const bool content_to_blame = failure.is_resource_exhausted() && batch_has_content_;
  batch_has_content_ = false;
  batch_frees_space_ = false;
  if (failure.is_resource_exhausted()) {
    space_short_ = true;
    ReleaseFreedPages();
  }
  // Lost outcomes are redone by delivering again, which finds the Maildir
  // files: at once when content crowded them out (next time they get a
  // transaction of their own), else after a back-off.
  notifications_.clear();  // lost with the states that asked for them
  std::set<std::string> lost_outcomes = std::move(updated_);
  updated_.clear();
  for (const std::string& id : lost_outcomes) {
    if (!Reindex(id)) continue;
    if (content_to_blame)
      Attend(id, false);
    else
      ScheduleRetry(id);
  }
}

bool QueueManager::Reindex(const std::string& queue_id) {
  Result<std::optional<StoredMessage>> message = store_->GetMessage(queue_id);
  if (!message.ok()) {
    LOG_ERROR("%s: %s", queue_id.c_str(), message.status().message().c_str());
    ScheduleRetry(queue_id);
    return false;
  }
  if (!message->has_value()) {
    Forget(queue_id);
    return false;
  }
  auto known = index_.find(queue_id);
  const TimePoint queued =
      known != index_.end() ? known->second.queued : ArrivedAt((*message)->envelope);
  const bool never_attempted = known != index_.end() && known->second.never_attempted;
  Index((*message)->envelope, (*message)->held, queued, never_attempted);
  return true;
}

void QueueManager::ReleaseFreedPages() {
  if (Status s = store_->ReleaseFreedPages(); !s.ok())
    LOG_WARNING("cannot release the pages freed by the last commit: %s", s.message().c_str());
  disk_floor_.Committed();
  ++commits_;
}

// --- streams

bool QueueManager::Reserve(const std::string& queue_id) {
  if (index_.count(queue_id) != 0) return false;
  return reserved_.insert(queue_id).second;
}

void QueueManager::Release(const std::string& queue_id) { reserved_.erase(queue_id); }

Status QueueManager::AdmitToFloor(uint64_t more, uint64_t* shortfall) {
  const uint64_t in_batch = batch_ ? batch_->chunk_bytes() : 0;
  return disk_floor_.Admit(config_->min_free_disk_space, open_partials_ + in_batch, more,
                           shortfall);
}

bool QueueManager::MakeFreedPagesRoom() {
  // What is in the batch was admitted, so committing it keeps the floor.
  if (batch_ && !CommitNow().ok()) return false;
  ReleaseFreedPages();
  floor_retried_at_ = commits_;
  return true;
}

Status QueueManager::AdmitBytes(ContentChunker* requester, uint64_t more) {
  uint64_t shortfall = 0;
  Status admitted = AdmitToFloor(more, &shortfall);
  if (admitted.ok()) return admitted;
  // Pages freed by a commit are reusable only after the next one, and near
  // the floor they may be what is missing (messages given up, delivered
  // messages removed): commit now and once more to release those pages, and
  // ask again; at most once per other commit, unless the open batch frees
  // space (a stream refused just before: without this its room would not
  // serve the next stream to ask, and the oldest would be refused in turn).
  if (floor_retried_at_ != commits_ || batch_frees_space_) {
    if (!MakeFreedPagesRoom()) return admitted;
    admitted = AdmitToFloor(more, &shortfall);
  }
  // The oldest messages win: give up younger streams until the piece fits.
  // Each round gives up at least one stream, so this ends. While a reader
  // (a delivery) holds freed pages back, the room of streams just given up
  // does not show yet: giving up more would lose them for nothing, so after
  // one round the requester is refused instead.
  for (bool first = true; !admitted.ok(); first = false) {
    if (!first && disk_floor_.held_back()) return admitted;
    auto age = stream_age_.find(requester);
    if (age == stream_age_.end()) return admitted;
    std::vector<HeldStream> held;
    for (const auto& [order, chunker] : streams_by_age_)
      held.push_back(HeldStream{order, chunker->size()});
    std::vector<uint64_t> victims = StreamsToGiveUp(held, age->second, shortfall);
    if (victims.empty()) return admitted;
    const Status why =
        Status::ResourceExhausted("given up for older messages: " + admitted.message());
    for (uint64_t order : victims) {
      auto victim = streams_by_age_.find(order);
      if (victim != streams_by_age_.end()) GiveUp(victim->second, why);
    }
    // Their partial chunks left at once; their stored chunks need the commits.
    admitted = AdmitToFloor(more, &shortfall);
    if (admitted.ok()) break;
    if (!MakeFreedPagesRoom()) return admitted;
    admitted = AdmitToFloor(more, &shortfall);
  }
  return admitted;
}

void QueueManager::GiveUp(ContentChunker* chunker, const Status& why) {
  const std::string queue_id = chunker->queue_id();
  LOG_INFO("%s: given up after %" PRIu64 " bytes to make room for older messages", queue_id.c_str(),
           chunker->size());
  ForgetContent(chunker);
  DiscardContent(queue_id);
  if (stream_given_up_) stream_given_up_(queue_id, why);
}

void QueueManager::BeginContent(ContentChunker* chunker) {
  const uint64_t age = next_stream_age_++;
  streams_by_age_[age] = chunker;
  stream_age_[chunker] = age;
}

void QueueManager::Unlist(const ContentChunker* chunker) {
  auto age = stream_age_.find(chunker);
  if (age == stream_age_.end()) return;
  streams_by_age_.erase(age->second);
  stream_age_.erase(age);
}

void QueueManager::ForgetContent(ContentChunker* chunker) {
  Unlist(chunker);
  open_partials_ -= chunker->pending_bytes();
  chunker->DropPending();
}

QueueSpace QueueManager::Space() {
  const uint64_t in_batch = batch_ ? batch_->chunk_bytes() : 0;
  const uint64_t in_flight = open_partials_ + in_batch;
  return QueueSpace{disk_floor_.Reusable(), in_flight == 0 ? 0 : DiskFloor::Footprint(in_flight)};
}

Status QueueManager::AppendContent(ContentChunker* chunker, std::string_view bytes) {
  if (Status s = AdmitBytes(chunker, bytes.size()); !s.ok()) {
    // The message is given up at once, so that its room serves the streams
    // still in flight: its partial chunk leaves now, its chunks with the
    // next commit (LMDB still writes those of the open batch), and their
    // pages are reusable one commit later (AdmitBytes makes those commits).
    ForgetContent(chunker);
    DiscardContent(chunker->queue_id());
    return s;
  }
  Result<QueueStore::WriteBatch*> batch = Batch();
  if (!batch.ok()) return batch.status();
  const uint64_t partial_before = chunker->pending_bytes();
  const uint64_t stored_before = (*batch)->chunk_bytes();
  Status s = chunker->Append(*batch, bytes);
  open_partials_ = open_partials_ - partial_before + chunker->pending_bytes();
  // Bytes that only joined a partial chunk are not in the batch yet.
  if (!s.ok() || (*batch)->chunk_bytes() != stored_before) batch_has_content_ = true;
  if (!s.ok()) {
    FailBatch(s);
    return s;
  }
  if ((*batch)->chunk_bytes() >= kCommitBatchBytes) RequestCommit();
  return Status::Ok();
}

void QueueManager::DiscardContent(const std::string& queue_id) {
  Result<QueueStore::WriteBatch*> batch = Batch();
  Status s = batch.ok() ? (*batch)->DeleteContent(queue_id) : batch.status();
  batch_frees_space_ = true;
  // Chunks left behind are orphans that the next start-up removes.
  if (!s.ok()) {
    LOG_WARNING("%s: cannot discard the content: %s", queue_id.c_str(), s.message().c_str());
    if (batch.ok()) FailBatch(s);
    return;
  }
  RequestLazyCommit();
}

void QueueManager::QueueMessage(Envelope envelope, ContentChunker* chunker, DurableCallback done) {
  envelope.size = chunker->size();
  // The last partial chunk is in flight already: only the envelope is new.
  Status admitted = AdmitBytes(chunker, envelope.Encode().size());
  Result<QueueStore::WriteBatch*> batch =
      admitted.ok() ? Batch() : Result<QueueStore::WriteBatch*>(admitted);
  if (!batch.ok()) {
    ForgetContent(chunker);
    reserved_.erase(envelope.queue_id);
    done(batch.status());
    return;
  }
  batch_has_content_ = true;
  waiting_.push_back(WaitingAck{envelope, std::move(done)});
  const uint64_t partial = chunker->pending_bytes();
  Status s = chunker->Finish(*batch);
  open_partials_ -= partial;
  chunker->DropPending();
  Unlist(chunker);
  if (s.ok()) s = (*batch)->PutEnvelope(envelope);
  if (!s.ok()) {
    FailBatch(s);
    return;
  }
  RequestCommit();
}

// --- index and scheduling

TimePoint QueueManager::ArrivedAt(const Envelope& envelope) const {
  const auto age = std::max(clock_->WallNow() - FromEpochSeconds(envelope.arrival_time),
                            WallTime::duration::zero());
  return clock_->Now() - std::chrono::duration_cast<Duration>(age);
}

void QueueManager::Index(const Envelope& envelope, bool held, TimePoint queued, bool queued_here) {
  index_[envelope.queue_id] =
      MessageState{held, 0, queued, queued, HasDeferred(envelope), queued_here};
}

bool QueueManager::HasDeferred(const Envelope& envelope) {
  return std::any_of(
      envelope.recipients.begin(), envelope.recipients.end(),
      [](const Recipient& r) { return RecipientStateName(r) == std::string_view("deferred"); });
}

QueueDepth QueueManager::Depth() const {
  QueueDepth depth;
  for (const auto& [id, state] : index_) {
    if (state.held) {
      ++depth.held;
    } else if (state.deliveries > 0) {
      ++depth.in_delivery;
    } else if (state.deferred) {
      ++depth.deferred;
    } else {
      ++depth.pending;
    }
  }
  return depth;
}

std::string QueueManager::MetricsText() const {
  PrometheusText text;
  metrics_.Write(&text, Depth());
  return text.text();
}

Result<std::optional<Envelope>> QueueManager::CurrentEnvelope(const std::string& queue_id) {
  // The open batch may hold a newer envelope than the last commit.
  if (batch_) return batch_->GetEnvelope(queue_id);
  Result<std::optional<StoredMessage>> message = store_->GetMessage(queue_id);
  if (!message.ok()) return message.status();
  if (!message->has_value()) return std::optional<Envelope>();
  return std::optional<Envelope>((*message)->envelope);
}

void QueueManager::Forget(const std::string& queue_id) {
  index_.erase(queue_id);
  retries_.Cancel(queue_id);
}

void QueueManager::Attend(const std::string& queue_id, bool ignore_back_off) {
  auto found = index_.find(queue_id);
  if (found == index_.end()) return;
  if (found->second.held || found->second.deliveries > 0) {
    retries_.Cancel(queue_id);
    return;
  }
  Result<std::optional<Envelope>> envelope = CurrentEnvelope(queue_id);
  if (!envelope.ok()) {
    LOG_ERROR("%s: %s", queue_id.c_str(), envelope.status().message().c_str());
    ScheduleRetry(queue_id);
    return;
  }
  if (!envelope->has_value()) return Forget(queue_id);
  Envelope& current = **envelope;
  const Envelope before = current;
  ScheduleDecision decision = Schedule().Review(&current);
  if (current != before) {
    if (Status s = Settle(&current, decision); !s.ok()) {
      LOG_ERROR("%s: cannot record the expiry or delay warning: %s", queue_id.c_str(),
                s.message().c_str());
      return FailBatch(s);
    }
    if (decision.finished) return;
  }
  Plan(current, ignore_back_off);
}

void QueueManager::Plan(const Envelope& envelope, bool ignore_back_off) {
  auto found = index_.find(envelope.queue_id);
  if (found == index_.end()) return;
  MessageState& state = found->second;
  if (state.held || state.deliveries > 0) return;
  const DeliverySchedule schedule = Schedule();
  const WallTime now = clock_->WallNow();
  WallTime wake = schedule.NextReview(envelope);
  std::vector<size_t> local_due;
  std::vector<size_t> remote_due;
  for (size_t i = 0; i < envelope.recipients.size(); ++i) {
    const Recipient& r = envelope.recipients[i];
    if (r.state != RecipientState::kPending) continue;
    const bool local = IsLocalPending(r, *config_);
    const WallTime next_try = schedule.NextTry(r);
    if (!ignore_back_off && next_try > now)
      wake = std::min(wake, next_try);
    else
      (local ? local_due : remote_due).push_back(i);
  }
  if (!local_due.empty() || !remote_due.empty()) {
    retries_.Cancel(envelope.queue_id);
    state.handed = clock_->Now();
    if (!local_due.empty()) {
      ++state.deliveries;
      worker_.Submit(envelope.queue_id, std::move(local_due), config_,
                     std::exchange(state.never_attempted, false));
    }
    if (!remote_due.empty()) state.deliveries += relay_.Submit(envelope, remote_due);
    return;
  }
  const Duration wait =
      std::chrono::duration_cast<Duration>(std::max(wake - now, WallTime::duration::zero()));
  retries_.Schedule(envelope.queue_id, clock_->Now() + wait);
  ArmTimer();
}

Status QueueManager::Settle(Envelope* envelope, const ScheduleDecision& decision) {
  Result<QueueStore::WriteBatch*> batch = Batch();
  if (!batch.ok()) return batch.status();
  const std::string& id = envelope->queue_id;
  updated_.insert(id);
  RequestLazyCommit();
  if (!decision.dsn.empty()) {
    const DeliverySchedule schedule = Schedule();
    Result<Envelope> dsn = QueueNotification(*batch, *store_, *envelope, decision.dsn, *config_,
                                             clock_->WallNow(), schedule.Expiry(*envelope));
    if (!dsn.ok()) return dsn.status();
    LOG_INFO("%s: %s: %s", id.c_str(), NotificationKind(decision.dsn).c_str(),
             dsn->queue_id.c_str());
    notifications_.push_back(std::move(*dsn));
  }
  if (!decision.finished) return (*batch)->PutEnvelope(*envelope);
  LOG_INFO("%s: removed", id.c_str());
  Forget(id);
  batch_frees_space_ = true;
  return (*batch)->DeleteMessage(id);
}

void QueueManager::ScheduleRetry(const std::string& queue_id) {
  if (index_.count(queue_id) == 0) return;
  retries_.Schedule(queue_id, clock_->Now() + config_->minimal_backoff_time);
  ArmTimer();
}

void QueueManager::ArmTimer() {
  std::optional<TimePoint> next = retries_.NextDue();
  if (lazy_commit_due_ && (!next || *lazy_commit_due_ < *next)) next = lazy_commit_due_;
  if (!next) {
    event_del(timer_.get());
    return;
  }
  timeval delay = ToTimeval(*next - clock_->Now());
  evtimer_add(timer_.get(), &delay);
}

void QueueManager::OnTimer(evutil_socket_t, short, void* self) {
  static_cast<QueueManager*>(self)->RunDueTimers();
}

void QueueManager::RunDueTimers() {
  const TimePoint now = clock_->Now();
  if (lazy_commit_due_ && *lazy_commit_due_ <= now) {
    lazy_commit_due_.reset();
    if (Status s = CommitNow(); !s.ok()) LOG_ERROR("group commit failed: %s", s.message().c_str());
  }
  for (const std::string& id : retries_.TakeDue(now)) Attend(id, false);
  ArmTimer();
}

// --- delivery outcomes

void QueueManager::OnReportsReady(evutil_socket_t, short, void* self) {
  static_cast<QueueManager*>(self)->ApplyReports();
}

void QueueManager::OnRelayReports(evutil_socket_t, short, void* self) {
  QueueManager* manager = static_cast<QueueManager*>(self);
  std::vector<DeliveryReport> reports = std::move(manager->relay_reports_);
  manager->relay_reports_.clear();
  for (const DeliveryReport& report : reports) manager->ApplyReport(report);
}

void QueueManager::ApplyReports() {
  std::vector<DeliveryReport> reports = worker_.TakeReports();
  if (reports.empty()) return;
  // When space is short, outcomes (which free space) get a transaction of
  // their own, so content that does not fit cannot take them down with it.
  const bool isolate = space_short_;
  if (isolate) CommitNow();
  for (const DeliveryReport& report : reports) ApplyReport(report);
  if (!isolate) return RequestLazyCommit();
  if (Status s = CommitNow(); !s.ok()) {
    LOG_ERROR("cannot record delivery outcomes: %s", s.message().c_str());
    return;
  }
  ReleaseFreedPages();
}

void QueueManager::ApplyReport(const DeliveryReport& report) {
  auto found = index_.find(report.queue_id);
  if (found == index_.end()) return;  // deleted while it was being delivered
  if (found->second.deliveries > 0) --found->second.deliveries;
  if (!report.failure.ok()) {
    LOG_ERROR("%s: cannot read the message for delivery: %s", report.queue_id.c_str(),
              report.failure.message().c_str());
    ScheduleRetry(report.queue_id);
    AttemptOver(report.queue_id, ipc::AttemptSummary::kDeferred);
    return;
  }
  if (Status s = RecordOutcomes(report); !s.ok()) {
    LOG_ERROR("%s: cannot record delivery outcomes: %s", report.queue_id.c_str(),
              s.message().c_str());
    FailBatch(s);
  }
}

// Records the outcomes in the open batch as the schedule decides (with the
// DSN it asks for, and removing the message once every recipient is
// final), then plans what comes next.
Status QueueManager::RecordOutcomes(const DeliveryReport& report) {
  const std::string& id = report.queue_id;
  Result<QueueStore::WriteBatch*> batch = Batch();
  if (!batch.ok()) return batch.status();
  Result<std::optional<Envelope>> stored = (*batch)->GetEnvelope(id);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) {
    Forget(id);
    AttemptOver(id, ipc::AttemptSummary::kNotAttempted);
    return Status::Ok();
  }
  Envelope& envelope = **stored;
  AttemptDelays delays = report.delays;
  if (auto state = index_.find(id); state != index_.end())
    delays.queued =
        std::chrono::duration_cast<Duration>(state->second.handed - state->second.queued);
  std::vector<AttemptOutcome> outcomes;
  for (const RecipientReport& r : report.recipients) {
    if (r.attempt.index >= envelope.recipients.size())
      PANIC("%s: recipient %zu out of range", id.c_str(), r.attempt.index);
    LOG_INFO("%s", DeliveryLogLine(id, envelope.recipients[r.attempt.index], report.relay, delays,
                                   r.attempt, r.detail)
                       .c_str());
    outcomes.push_back(r.attempt);
    metrics_.Attempted(report.relay == "maildir", r.attempt.verdict);
  }
  ScheduleDecision decision = Schedule().Record(&envelope, outcomes);
  if (Status s = Settle(&envelope, decision); !s.ok()) return s;
  if (auto state = index_.find(id); state != index_.end())
    state->second.deferred = HasDeferred(envelope);
  if (!decision.finished) Plan(envelope, false);
  AttemptOver(id, SummaryOf(envelope));
  return Status::Ok();
}

void QueueManager::AttemptOver(const std::string& queue_id, ipc::AttemptSummary summary) {
  auto found = index_.find(queue_id);
  if (found != index_.end() && found->second.deliveries > 0) return;
  if (attempt_ended_) attempt_ended_(queue_id, summary);
}

// --- queue control

std::vector<std::string> QueueManager::QueuedIds() const {
  std::vector<std::string> ids;
  for (const auto& [id, state] : index_) ids.push_back(id);
  return ids;
}

Status QueueManager::Delete(const std::vector<std::string>& queue_ids) {
  Result<QueueStore::WriteBatch*> batch = Batch();
  if (!batch.ok()) return batch.status();
  for (const std::string& id : queue_ids) {
    if (Status s = (*batch)->DeleteMessage(id); !s.ok()) {
      FailBatch(s);
      return s;
    }
  }
  if (Status s = CommitNow(); !s.ok()) return s;
  for (const std::string& id : queue_ids) {
    Forget(id);
    LOG_INFO("%s: removed by the administrator", id.c_str());
    AttemptOver(id, ipc::AttemptSummary::kNotAttempted);
  }
  ArmTimer();
  ReleaseFreedPages();  // so that the room made is usable at once
  return Status::Ok();
}

Status QueueManager::SetHold(const std::string& queue_id, bool held) {
  Result<size_t> changed = SetHolds({queue_id}, held);
  return changed.ok() ? Status::Ok() : changed.status();
}

size_t QueueManager::Flush() {
  size_t dispatched = 0;
  for (const std::string& id : QueuedIds())
    if (DeliverNow(id)) ++dispatched;
  ArmTimer();
  return dispatched;
}

// --- queue control: requeue, hold and release of several messages

size_t QueueManager::Requeue(const std::vector<std::string>& queue_ids) {
  size_t dispatched = 0;
  for (const std::string& id : queue_ids) {
    if (index_.count(id) == 0) continue;
    LOG_INFO("%s: requeued by the administrator", id.c_str());
    if (DeliverNow(id)) ++dispatched;
  }
  ArmTimer();
  return dispatched;
}

bool QueueManager::DeliverNow(const std::string& queue_id) {
  auto found = index_.find(queue_id);
  if (found == index_.end() || found->second.deliveries > 0) return false;
  Attend(queue_id, true);
  found = index_.find(queue_id);
  return found != index_.end() && found->second.deliveries > 0;
}

Result<size_t> QueueManager::SetHolds(const std::vector<std::string>& queue_ids, bool held) {
  std::vector<std::string> changing;
  for (const std::string& id : queue_ids) {
    auto found = index_.find(id);
    if (found != index_.end() && found->second.held != held) changing.push_back(id);
  }
  if (changing.empty()) return size_t{0};
  Result<QueueStore::WriteBatch*> batch = Batch();
  if (!batch.ok()) return batch.status();
  for (const std::string& id : changing) {
    if (Status s = (*batch)->SetHold(id, held); !s.ok()) {
      FailBatch(s);
      return s;
    }
  }
  if (Status s = CommitNow(); !s.ok()) return s;
  for (const std::string& id : changing) {
    auto found = index_.find(id);
    if (found == index_.end()) continue;
    found->second.held = held;
    LOG_INFO("%s: %s by the administrator", id.c_str(), held ? "held" : "released");
    // A released message is tried at once: the operator is waiting for it.
    if (held)
      retries_.Cancel(id);
    else
      DeliverNow(id);
  }
  return changing.size();
}

}  // namespace postern
