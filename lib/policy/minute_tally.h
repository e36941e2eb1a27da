// lib/policy/minute_tally.h — a count over the last minute, for `postern status`.
//
// master adds the messages its workers queued and the rejections they and
// it sent; `postern status` shows the sums of the last minute. Sixty
// one-second buckets: an event counts from the second it was added in until
// 59 whole seconds after it, so the sum is exact to the second and the
// memory fixed, however busy the server. Reads no clock: callers pass
// Clock::Now(), so tests use a FakeClock. `now` must not go backwards.
#pragma once

#include <array>
#include <cstdint>

#include "lib/base/clock.h"

namespace postern {

class MinuteTally {
 public:
  void Add(TimePoint now, uint64_t count = 1);
  // What was added during the minute that ends at now.
  uint64_t Sum(TimePoint now) const;

 private:
  static constexpr int64_t kSeconds = 60;
  struct Bucket {
    int64_t second = -1;  // whole seconds of the steady clock; -1: never used
    uint64_t count = 0;
  };
  static int64_t SecondOf(TimePoint time);

  std::array<Bucket, kSeconds> buckets_{};
};

}  // namespace postern
