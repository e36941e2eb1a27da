// lib/policy/minute_tally.cc — see lib/policy/minute_tally.h.
#include "lib/policy/minute_tally.h"

namespace postern {

int64_t MinuteTally::SecondOf(TimePoint time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

void MinuteTally::Add(TimePoint now, uint64_t count) {
  const int64_t second = SecondOf(now);
  Bucket& bucket = buckets_[static_cast<size_t>(second % kSeconds)];
  if (bucket.second != second) bucket = Bucket{second, 0};
  bucket.count += count;
}

uint64_t MinuteTally::Sum(TimePoint now) const {
  const int64_t second = SecondOf(now);
  uint64_t sum = 0;
  for (const Bucket& bucket : buckets_)
    if (bucket.second >= 0 && bucket.second > second - kSeconds && bucket.second <= second)
      sum += bucket.count;
  return sum;
}

}  // namespace postern
