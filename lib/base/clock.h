// lib/base/clock.h — the one source of time for protocol logic.
//
// Session state machines and rate counters ask a Clock, never the system,
// so unit tests drive every timer with a FakeClock that moves only when told.
#pragma once

#include <chrono>

namespace postern {

using TimePoint = std::chrono::steady_clock::time_point;
using Duration = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
};

class FakeClock final : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  void Advance(Duration d) { now_ += d; }

 private:
  TimePoint now_{};
};

}  // namespace postern
