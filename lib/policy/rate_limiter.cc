// lib/policy/rate_limiter.cc — see lib/policy/rate_limiter.h.
//
// Each key keeps the times of its allowed messages, oldest first. An attempt
// first drops the times that left the window, then compares the count with
// the limit. Keys nobody asked about for a whole window are swept once per
// window, so the sweep costs O(keys) per minute, not per attempt.
#include "lib/policy/rate_limiter.h"

#include <iterator>
#include <string>

namespace postern {
namespace {

void DropExpired(std::deque<TimePoint>* times, TimePoint now) {
  while (!times->empty() && times->front() + RateLimiter::kWindow <= now) times->pop_front();
}

}  // namespace

bool RateLimiter::Allow(std::string_view key, uint32_t limit, TimePoint now) {
  if (limit == 0) return true;
  Prune(now);
  std::deque<TimePoint>& times = windows_[std::string(key)];
  DropExpired(&times, now);
  if (times.size() >= limit) return false;
  times.push_back(now);
  return true;
}

void RateLimiter::Prune(TimePoint now) {
  if (now < next_prune_) return;
  next_prune_ = now + kWindow;
  for (auto it = windows_.begin(); it != windows_.end();) {
    DropExpired(&it->second, now);
    it = it->second.empty() ? windows_.erase(it) : std::next(it);
  }
}

}  // namespace postern
