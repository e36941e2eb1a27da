// lib/queue/retry_schedule.cc — see lib/queue/retry_schedule.h.
#include "lib/queue/retry_schedule.h"

#include "lib/base/backoff.h"

namespace postern {

Duration RetryDelay(int failed_attempts) {
  return DoublingBackoff(failed_attempts, kFirstRetryDelay, kMaxRetryDelay);
}

void RetrySchedule::Schedule(const std::string& queue_id, TimePoint due) {
  Cancel(queue_id);
  due_by_id_[queue_id] = by_time_.emplace(due, queue_id);
}

void RetrySchedule::Cancel(const std::string& queue_id) {
  auto found = due_by_id_.find(queue_id);
  if (found == due_by_id_.end()) return;
  by_time_.erase(found->second);
  due_by_id_.erase(found);
}

std::vector<std::string> RetrySchedule::TakeDue(TimePoint now) {
  std::vector<std::string> due;
  while (!by_time_.empty() && by_time_.begin()->first <= now) {
    due.push_back(by_time_.begin()->second);
    due_by_id_.erase(by_time_.begin()->second);
    by_time_.erase(by_time_.begin());
  }
  return due;
}

std::vector<std::string> RetrySchedule::TakeAll() { return TakeDue(TimePoint::max()); }

std::optional<TimePoint> RetrySchedule::NextDue() const {
  if (by_time_.empty()) return std::nullopt;
  return by_time_.begin()->first;
}

}  // namespace postern
