// lib/policy/rate_limiter.h — message submission rates over a sliding minute
// (MS-OXSMTP 3.2.7 MessageRateLimitExceeded).
//
// Counts the messages each key (a client address or a user) was allowed
// during the last minute, over every listener: a client that reaches the
// server through two listeners has one count, not one per listener (the
// spec's limit is "based on a unique IP address" or "a unique user", not on
// a receive connector). Each attempt brings its own limit (the listener's
// message_rate_limit), which is compared with that shared count. It owns
// only those time stamps: never more than the largest limit asked with per
// key, and keys whose minute has passed are pruned, so memory stays bounded
// by the clients of the last minute. It reads no clock itself: callers pass
// Clock::Now(), so tests use a FakeClock. One instance in master serves
// every smtpd worker; it must never be copied into each worker, or a client
// could escape its limit by reconnecting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

#include "lib/base/clock.h"

namespace postern {

class RateLimiter {
 public:
  // The span over which messages are counted. A message allowed at t counts
  // against every attempt made before t + kWindow, and no longer.
  static constexpr Duration kWindow = std::chrono::minutes(1);

  // Counts one attempt of `key` at `now`. True when fewer than `limit`
  // messages of key were allowed in the last kWindow, on any listener (and
  // then this one counts towards later attempts); false otherwise (a refused
  // attempt is not counted). A limit of 0 is no limit: the attempt is
  // neither checked nor counted. `now` must not go backwards between calls.
  bool Allow(std::string_view key, uint32_t limit, TimePoint now);

  // How many keys hold time stamps: for tests of pruning.
  size_t tracked_keys() const { return windows_.size(); }

 private:
  void Prune(TimePoint now);

  std::unordered_map<std::string, std::deque<TimePoint>> windows_;
  TimePoint next_prune_{};
};

}  // namespace postern
