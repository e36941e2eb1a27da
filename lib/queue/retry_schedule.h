// lib/queue/retry_schedule.h — when each deferred message is tried again.
//
// qmgr defers a local delivery that failed for a reason that may pass (disk
// full, I/O error) and tries again after a back-off that starts at one
// minute and doubles up to one hour. This keeps one due time per queue id
// and hands out the ids whose time has come. Pure logic: time comes from
// the caller (a Clock), so tests need no waiting. Not thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lib/base/clock.h"

namespace postern {

constexpr Duration kFirstRetryDelay = std::chrono::minutes(1);
constexpr Duration kMaxRetryDelay = std::chrono::hours(1);

// The wait after the n-th failed attempt in a row (n >= 1): 1m, 2m, 4m, ...
// then 1h for every attempt after the seventh.
Duration RetryDelay(int failed_attempts);

class RetrySchedule {
 public:
  // Sets (or moves) the due time of queue_id.
  void Schedule(const std::string& queue_id, TimePoint due);
  void Cancel(const std::string& queue_id);
  // Removes and returns every id due at or before now, earliest first.
  std::vector<std::string> TakeDue(TimePoint now);
  // Removes and returns every id (a flush).
  std::vector<std::string> TakeAll();
  // The earliest due time, or nothing when no id waits.
  std::optional<TimePoint> NextDue() const;
  size_t size() const { return due_by_id_.size(); }

 private:
  std::multimap<TimePoint, std::string> by_time_;
  std::unordered_map<std::string, std::multimap<TimePoint, std::string>::iterator> due_by_id_;
};

}  // namespace postern
