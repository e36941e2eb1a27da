// lib/base/clock.h — the one source of time for protocol logic.
//
// Session state machines and rate counters ask a Clock, never the system,
// so unit tests drive every timer with a FakeClock that moves only when told.
// Now() is monotonic, for timers; WallNow() is the calendar time, for what
// outlives the process (a queued message's arrival, its lifetime, the
// dates in a DSN).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace postern {

using TimePoint = std::chrono::steady_clock::time_point;
using Duration = std::chrono::milliseconds;
using WallTime = std::chrono::system_clock::time_point;

// Calendar times as stored (envelopes, DSN dates): whole seconds since the
// epoch, rounded down.
inline int64_t ToEpochSeconds(WallTime time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}
inline WallTime FromEpochSeconds(int64_t seconds) {
  return WallTime(std::chrono::seconds(seconds));
}

// Implementations are safe to read from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  virtual WallTime WallNow() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() const override { return std::chrono::system_clock::now(); }
};

// Both times move together, and only in Advance() (one thread advances;
// any thread may read, as qmgr's delivery threads do).
class FakeClock final : public Clock {
 public:
  explicit FakeClock(WallTime wall_start = WallTime{}) : wall_(wall_start) {}
  TimePoint Now() const override { return now_.load(); }
  WallTime WallNow() const override { return wall_.load(); }
  void Advance(Duration d) {
    now_.store(now_.load() + d);
    wall_.store(wall_.load() + d);
  }

 private:
  std::atomic<TimePoint> now_{TimePoint{}};
  std::atomic<WallTime> wall_;
};

}  // namespace postern
