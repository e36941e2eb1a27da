// lib/queue/delivery_schedule.cc — see lib/queue/delivery_schedule.h.
#include "lib/queue/delivery_schedule.h"

#include <algorithm>

#include "lib/base/backoff.h"

namespace postern {
namespace {

// RFC 3463 X.4.7: delivery time expired.
constexpr const char* kExpiredStatus = "4.4.7";

bool IsPending(const Recipient& r) { return r.state == RecipientState::kPending; }

// The Action an outcome reports, or nothing (a next hop with DSN reports itself).
std::optional<DsnAction> ActionOf(Verdict verdict) {
  switch (verdict) {
    case Verdict::kDelivered:
      return DsnAction::kDelivered;
    case Verdict::kRelayedNoDsn:
      return DsnAction::kRelayed;
    case Verdict::kFailed:
      return DsnAction::kFailed;
    case Verdict::kRelayed:
    case Verdict::kDeferred:
      return std::nullopt;
  }
  return std::nullopt;
}

void Apply(const AttemptOutcome& outcome, int64_t now, Recipient* r) {
  r->last_error = outcome.reply;
  r->status = StatusOf(outcome);
  r->remote_mta = outcome.remote_mta;
  r->smtp_reply = outcome.smtp_reply;
  r->last_attempt = now;
  switch (outcome.verdict) {
    case Verdict::kDelivered:
    case Verdict::kRelayed:
    case Verdict::kRelayedNoDsn:
      r->state = RecipientState::kDelivered;
      return;
    case Verdict::kDeferred:
      ++r->attempts;
      return;
    case Verdict::kFailed:
      ++r->attempts;
      r->state = RecipientState::kFailed;
      return;
  }
}

void AddDsn(const Envelope& envelope, size_t index, DsnAction action, ScheduleDecision* decision) {
  if (WantsDsn(envelope, envelope.recipients[index], action))
    decision->dsn.push_back(DsnRecipient{index, action});
}

}  // namespace

std::string StatusOf(const AttemptOutcome& outcome) {
  if (!outcome.status.empty()) return outcome.status;
  switch (outcome.verdict) {
    case Verdict::kDelivered:
    case Verdict::kRelayed:
    case Verdict::kRelayedNoDsn:
      return "2.0.0";
    case Verdict::kDeferred:
      return "4.0.0";
    case Verdict::kFailed:
      return "5.0.0";
  }
  return "5.0.0";
}

DeliverySettings DeliverySettingsFrom(const Config& config) {
  DeliverySettings settings;
  settings.minimal_backoff_time = config.minimal_backoff_time;
  settings.maximal_backoff_time = config.maximal_backoff_time;
  settings.maximal_queue_lifetime = config.maximal_queue_lifetime;
  settings.delay_warning_time = config.delay_warning_time;
  return settings;
}

Duration RetryDelay(int failed_attempts, const DeliverySettings& settings) {
  return DoublingBackoff(failed_attempts, settings.minimal_backoff_time,
                         settings.maximal_backoff_time);
}

WallTime DeliverySchedule::NextTry(const Recipient& recipient) const {
  if (recipient.attempts == 0) return FromEpochSeconds(recipient.last_attempt);
  return FromEpochSeconds(recipient.last_attempt) +
         RetryDelay(static_cast<int>(std::min<uint32_t>(recipient.attempts, 1000)), settings_);
}

WallTime DeliverySchedule::Expiry(const Envelope& envelope) const {
  return FromEpochSeconds(envelope.arrival_time) + settings_.maximal_queue_lifetime;
}

std::vector<size_t> DeliverySchedule::Due(const Envelope& envelope) const {
  WallTime now = clock_->WallNow();
  std::vector<size_t> due;
  for (size_t i = 0; i < envelope.recipients.size(); ++i) {
    const Recipient& r = envelope.recipients[i];
    if (IsPending(r) && NextTry(r) <= now) due.push_back(i);
  }
  return due;
}

ScheduleDecision DeliverySchedule::Record(Envelope* envelope,
                                          const std::vector<AttemptOutcome>& outcomes) const {
  int64_t now = ToEpochSeconds(clock_->WallNow());
  ScheduleDecision decision;
  for (const AttemptOutcome& outcome : outcomes) {
    if (outcome.index >= envelope->recipients.size()) continue;
    Recipient& r = envelope->recipients[outcome.index];
    if (!IsPending(r)) continue;
    Apply(outcome, now, &r);
    if (std::optional<DsnAction> action = ActionOf(outcome.verdict))
      AddDsn(*envelope, outcome.index, *action, &decision);
  }
  Expire(envelope, &decision);
  WarnOfDelay(envelope, &decision);
  Conclude(*envelope, &decision);
  return decision;
}

ScheduleDecision DeliverySchedule::Review(Envelope* envelope) const { return Record(envelope, {}); }

void DeliverySchedule::Expire(Envelope* envelope, ScheduleDecision* decision) const {
  if (clock_->WallNow() < Expiry(*envelope)) return;
  for (size_t i = 0; i < envelope->recipients.size(); ++i) {
    Recipient& r = envelope->recipients[i];
    if (!IsPending(r)) continue;
    // last_error, remote_mta and smtp_reply stay: the DSN shows the
    // problem that kept the recipient waiting.
    r.state = RecipientState::kFailed;
    r.status = kExpiredStatus;
    AddDsn(*envelope, i, DsnAction::kFailed, decision);
  }
}

void DeliverySchedule::WarnOfDelay(Envelope* envelope, ScheduleDecision* decision) const {
  if (envelope->delay_warning_sent || settings_.delay_warning_time == Duration::zero()) return;
  if (clock_->WallNow() < FromEpochSeconds(envelope->arrival_time) + settings_.delay_warning_time)
    return;
  if (std::none_of(envelope->recipients.begin(), envelope->recipients.end(), IsPending)) return;
  envelope->delay_warning_sent = true;
  for (size_t i = 0; i < envelope->recipients.size(); ++i)
    if (IsPending(envelope->recipients[i])) AddDsn(*envelope, i, DsnAction::kDelayed, decision);
}

void DeliverySchedule::Conclude(const Envelope& envelope, ScheduleDecision* decision) const {
  std::optional<WallTime> next;
  for (const Recipient& r : envelope.recipients)
    if (IsPending(r)) next = next ? std::min(*next, NextTry(r)) : NextTry(r);
  decision->finished = !next.has_value();
  if (decision->finished) return;
  decision->next_event = std::min(*next, NextReview(envelope));
}

WallTime DeliverySchedule::NextReview(const Envelope& envelope) const {
  WallTime next = Expiry(envelope);
  if (!envelope.delay_warning_sent && settings_.delay_warning_time != Duration::zero())
    next = std::min(next, FromEpochSeconds(envelope.arrival_time) + settings_.delay_warning_time);
  return next;
}

void DueMessages::Schedule(const std::string& queue_id, TimePoint due) {
  Cancel(queue_id);
  due_by_id_[queue_id] = by_time_.emplace(due, queue_id);
}

void DueMessages::Cancel(const std::string& queue_id) {
  auto found = due_by_id_.find(queue_id);
  if (found == due_by_id_.end()) return;
  by_time_.erase(found->second);
  due_by_id_.erase(found);
}

std::vector<std::string> DueMessages::TakeDue(TimePoint now) {
  std::vector<std::string> due;
  while (!by_time_.empty() && by_time_.begin()->first <= now) {
    due.push_back(by_time_.begin()->second);
    due_by_id_.erase(by_time_.begin()->second);
    by_time_.erase(by_time_.begin());
  }
  return due;
}

std::vector<std::string> DueMessages::TakeAll() { return TakeDue(TimePoint::max()); }

std::optional<TimePoint> DueMessages::NextDue() const {
  if (by_time_.empty()) return std::nullopt;
  return by_time_.begin()->first;
}

}  // namespace postern
