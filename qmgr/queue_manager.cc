// qmgr/queue_manager.cc — group commit, index, scheduling of qmgr/queue_manager.h.
#include "qmgr/queue_manager.h"

#include <algorithm>
#include <cinttypes>

#include "lib/base/log.h"
#include "lib/base/printable.h"
#include "lib/policy/resource_check.h"
#include "lib/queue/maildir.h"

namespace postern {
namespace {

bool IsFinal(const Recipient& r) { return r.state != RecipientState::kPending; }

size_t CountRemotePending(const Envelope& envelope, const Config& config) {
  size_t count = 0;
  for (const Recipient& r : envelope.recipients)
    if (r.state == RecipientState::kPending && !config.IsLocalDomain(AddressDomain(r.address)))
      ++count;
  return count;
}

const char* OutcomeName(DeliveryOutcome outcome) {
  switch (outcome) {
    case DeliveryOutcome::kDelivered:
      return "sent";
    case DeliveryOutcome::kBounced:
      return "bounced";
    case DeliveryOutcome::kDeferred:
      return "deferred";
  }
  return "?";
}

}  // namespace

QueueManager::QueueManager(event_base* base, const Clock* clock, QueueStore* store, FileSystem* fs,
                           std::shared_ptr<const Config> config)
    : base_(base),
      store_(store),
      clock_(clock),
      config_(std::move(config)),
      worker_(store, fs),
      disk_floor_(
          DiskFloor::Probe{[store] { return FreeDiskSpace(store->directory()); },
                           [store](bool* held_back) { return store->ReusableBytes(held_back); }}) {}

QueueManager::~QueueManager() { worker_.Stop(); }

Status QueueManager::Start() {
  Result<RecoveryReport> recovered = store_->Recover();
  if (!recovered.ok()) return recovered.status();
  if (recovered->orphan_chunks > 0)
    LOG_INFO("removed %zu chunks of %zu messages that were never completed",
             recovered->orphan_chunks, recovered->orphan_messages);
  Result<std::vector<StoredMessage>> messages = store_->ListMessages();
  if (!messages.ok()) return messages.status();
  for (const StoredMessage& m : *messages) Index(m.envelope, m.held);
  LOG_INFO("queue %s opened: %zu messages", store_->directory().c_str(), index_.size());

  if (Status s = worker_.Start(config_->local_delivery_concurrency); !s.ok()) return s;
  commit_event_.reset(event_new(base_, -1, 0, OnCommitEvent, this));
  reports_event_.reset(
      event_new(base_, worker_.ready_fd(), EV_READ | EV_PERSIST, OnReportsReady, this));
  timer_.reset(evtimer_new(base_, OnTimer, this));
  if (!commit_event_ || !reports_event_ || !timer_ || event_add(reports_event_.get(), nullptr) != 0)
    return Status::Error("cannot create the queue manager's events");
  for (const auto& [id, state] : index_) Dispatch(id);
  return Status::Ok();
}

void QueueManager::Shutdown() {
  if (Status s = CommitNow(); !s.ok()) LOG_ERROR("final commit failed: %s", s.message().c_str());
  worker_.Stop();
  ApplyReports();
  if (Status s = CommitNow(); !s.ok()) LOG_ERROR("final commit failed: %s", s.message().c_str());
}

void QueueManager::Reconfigure(std::shared_ptr<const Config> config) {
  config_ = std::move(config);
  for (auto& [id, state] : index_) {
    Result<std::optional<StoredMessage>> message = store_->GetMessage(id);
    if (message.ok() && message->has_value())
      state.local_pending = HasLocalPending((*message)->envelope, *config_);
  }
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
  Status committed = batch_->Commit();
  if (!committed.ok()) {
    FailBatch(committed);
    return committed;
  }
  batch_.reset();
  disk_floor_.Committed();
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
    // RFC 4954 5 lets the AUTH= value be logged.
    std::string auth = e.auth_mailbox.empty() ? "" : ", auth=" + Printable(e.auth_mailbox);
    LOG_INFO("%s: from=<%s>%s, size=%" PRIu64 ", nrcpt=%zu (queued)", e.queue_id.c_str(),
             Printable(e.sender).c_str(), auth.c_str(), e.size, e.recipients.size());
    Index(e, false);
    ack.done(Status::Ok());
    Dispatch(e.queue_id);
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
  std::set<std::string> lost_outcomes = std::move(updated_);
  updated_.clear();
  for (const std::string& id : lost_outcomes) {
    if (!Reindex(id)) continue;
    if (content_to_blame)
      Dispatch(id);
    else
      ScheduleRetry(id);
  }
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

void QueueManager::Index(const Envelope& envelope, bool held) {
  MessageState& state = index_[envelope.queue_id];
  state.held = held;
  state.local_pending = HasLocalPending(envelope, *config_);
  if (size_t remote = CountRemotePending(envelope, *config_); remote > 0)
    LOG_INFO(
        "%s: %zu recipient(s) outside local_domains stay queued: relay delivery is not "
        "implemented yet",
        envelope.queue_id.c_str(), remote);
}

// Reloads a message's state from the store after its changes were lost;
// false when it is no longer queued.
bool QueueManager::Reindex(const std::string& queue_id) {
  Result<std::optional<StoredMessage>> message = store_->GetMessage(queue_id);
  if (!message.ok()) {
    LOG_ERROR("%s: %s", queue_id.c_str(), message.status().message().c_str());
    ScheduleRetry(queue_id);
    return false;
  }
  if (!message->has_value()) {
    index_.erase(queue_id);
    retries_.Cancel(queue_id);
    return false;
  }
  MessageState& state = index_[queue_id];
  state.held = (*message)->held;
  state.local_pending = HasLocalPending((*message)->envelope, *config_);
  state.in_delivery = false;
  return true;
}

bool QueueManager::Dispatch(const std::string& queue_id) {
  auto found = index_.find(queue_id);
  if (found == index_.end()) return false;
  MessageState& state = found->second;
  if (state.held || state.in_delivery || !state.local_pending) return false;
  retries_.Cancel(queue_id);
  state.in_delivery = true;
  worker_.Submit(queue_id, config_);
  return true;
}

void QueueManager::ScheduleRetry(const std::string& queue_id) {
  auto found = index_.find(queue_id);
  if (found == index_.end()) return;
  int attempts = ++found->second.failed_attempts;
  retries_.Schedule(queue_id, clock_->Now() + RetryDelay(attempts, DeliverySettingsFrom(*config_)));
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
  for (const std::string& id : retries_.TakeDue(now)) Dispatch(id);
  ArmTimer();
}

// --- delivery outcomes

void QueueManager::OnReportsReady(evutil_socket_t, short, void* self) {
  static_cast<QueueManager*>(self)->ApplyReports();
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
  MessageState& state = found->second;
  state.in_delivery = false;
  if (!report.failure.ok()) {
    LOG_ERROR("%s: cannot read the message for delivery: %s", report.queue_id.c_str(),
              report.failure.message().c_str());
    ScheduleRetry(report.queue_id);
    return;
  }
  updated_.insert(report.queue_id);
  if (Status s = RecordOutcomes(report, &state); !s.ok()) {
    LOG_ERROR("%s: cannot record delivery outcomes: %s", report.queue_id.c_str(),
              s.message().c_str());
    FailBatch(s);
  }
}

// Updates the recipients in the open batch; removes the message once none
// is pending. `state` is invalid after the message is removed.
Status QueueManager::RecordOutcomes(const DeliveryReport& report, MessageState* state) {
  const std::string& id = report.queue_id;
  Result<QueueStore::WriteBatch*> batch = Batch();
  if (!batch.ok()) return batch.status();
  Result<std::optional<Envelope>> stored = (*batch)->GetEnvelope(id);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) {
    index_.erase(id);
    return Status::Ok();
  }
  Envelope& envelope = **stored;
  bool deferred = false;
  for (const RecipientReport& r : report.recipients) {
    if (r.index >= envelope.recipients.size())
      PANIC("%s: recipient %zu out of range", id.c_str(), r.index);
    Recipient& rcpt = envelope.recipients[r.index];
    LOG_INFO("%s: to=<%s>, relay=maildir, status=%s (%s)", id.c_str(),
             Printable(rcpt.address).c_str(), OutcomeName(r.outcome), Printable(r.detail).c_str());
    switch (r.outcome) {
      case DeliveryOutcome::kDelivered:
        rcpt.state = RecipientState::kDelivered;
        rcpt.last_error.clear();
        break;
      case DeliveryOutcome::kBounced:
        rcpt.state = RecipientState::kFailed;
        rcpt.last_error = r.detail;
        break;
      case DeliveryOutcome::kDeferred:
        rcpt.last_error = r.detail;
        deferred = true;
        break;
    }
  }
  if (std::all_of(envelope.recipients.begin(), envelope.recipients.end(), IsFinal)) {
    LOG_INFO("%s: removed", id.c_str());
    index_.erase(id);
    retries_.Cancel(id);
    batch_frees_space_ = true;
    return (*batch)->DeleteMessage(id);
  }
  state->local_pending = HasLocalPending(envelope, *config_);
  if (deferred) {
    ScheduleRetry(id);
  } else {
    state->failed_attempts = 0;
  }
  return (*batch)->PutEnvelope(envelope);
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
    index_.erase(id);
    retries_.Cancel(id);
    LOG_INFO("%s: removed by the administrator", id.c_str());
  }
  ArmTimer();
  ReleaseFreedPages();  // so that the room made is usable at once
  return Status::Ok();
}

Status QueueManager::SetHold(const std::string& queue_id, bool held) {
  Result<QueueStore::WriteBatch*> batch = Batch();
  if (!batch.ok()) return batch.status();
  if (Status s = (*batch)->SetHold(queue_id, held); !s.ok()) {
    FailBatch(s);
    return s;
  }
  if (Status s = CommitNow(); !s.ok()) return s;
  auto found = index_.find(queue_id);
  if (found == index_.end()) return Status::Ok();
  found->second.held = held;
  LOG_INFO("%s: %s by the administrator", queue_id.c_str(), held ? "held" : "released");
  if (!held) Dispatch(queue_id);
  return Status::Ok();
}

size_t QueueManager::Flush() {
  retries_.TakeAll();
  ArmTimer();
  size_t dispatched = 0;
  for (auto& [id, state] : index_) {
    state.failed_attempts = 0;
    if (Dispatch(id)) ++dispatched;
  }
  return dispatched;
}

// --- queue control: requeue, hold and release of several messages

size_t QueueManager::Requeue(const std::vector<std::string>& queue_ids) {
  size_t dispatched = 0;
  for (const std::string& id : queue_ids) {
    auto found = index_.find(id);
    if (found == index_.end()) continue;
    retries_.Cancel(id);
    found->second.failed_attempts = 0;
    LOG_INFO("%s: requeued by the administrator", id.c_str());
    if (Dispatch(id)) ++dispatched;
  }
  ArmTimer();
  return dispatched;
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
    if (!held) Dispatch(id);
  }
  return changing.size();
}

}  // namespace postern
