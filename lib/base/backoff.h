// lib/base/backoff.h — the one doubling back-off of postern.
//
// master's supervisor waits before it restarts a child that keeps failing
// at start-up, and qmgr waits before it retries a deferred delivery; both
// double their wait after each failure in a row, up to a ceiling.
#pragma once

#include "lib/base/clock.h"

namespace postern {

// The wait after the n-th failure in a row (n >= 1; less counts as 1):
// first, 2 x first, 4 x first, ... and never more than ceiling.
constexpr Duration DoublingBackoff(int failures, Duration first, Duration ceiling) {
  Duration delay = first;
  for (int i = 1; i < failures && delay < ceiling; ++i) delay *= 2;
  return delay < ceiling ? delay : ceiling;
}

}  // namespace postern
