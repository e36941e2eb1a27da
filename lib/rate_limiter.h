// lib/rate_limiter.h — message submission rates over a sliding minute
// (MS-OXSMTP 3.2.7 MessageRateLimitExceeded).
//
// Counts the messages each key (a client address or a user) was allowed on
// each listener during the last minute. It owns only those time stamps:
// never more than `limit` per key, and keys whose minute has passed are
// pruned, so memory stays bounded by the clients of the last minute. It reads
// no clock itself: callers pass Clock::Now(), so tests use a FakeClock. One
// instance in master serves every smtpd worker; it must never be copied into
// each worker, or a client could escape its limit by reconnecting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

#include "lib/clock.h"

namespace postern {

class RateLimiter {
 public:
  // The span over which messages are counted. A message allowed at t counts
  // against every attempt made before t + kWindow, and no longer.
  static constexpr Duration kWindow = std::chrono::minutes(1);

  // Counts one attempt of `key` on `listener` at `now`. True when it is
  // within `limit` messages per kWindow (and then it counts towards later
  // attempts); false when `limit` messages were already allowed in the last
  // kWindow (a refused attempt is not counted). A limit of 0 is no limit.
  // `now` must not go backwards between calls.
  bool Allow(std::string_view listener, std::string_view key, uint32_t limit, TimePoint now);

  // How many (listener, key) pairs hold time stamps: for tests of pruning.
  size_t tracked_keys() const { return windows_.size(); }

 private:
  void Prune(TimePoint now);

  // Keyed by the listener name's length, ':', the name, then the key, so
  // no two (listener, key) pairs share an entry.
  std::unordered_map<std::string, std::deque<TimePoint>> windows_;
  TimePoint next_prune_{};
};

}  // namespace postern
