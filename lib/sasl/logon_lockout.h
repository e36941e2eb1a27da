// lib/sasl/logon_lockout.h — failed logons per (client address, user), and the
// lockout that follows too many of them.
//
// A pair that fails `max_failures` times within `window` is locked out: it is
// refused, even with the right password, until `window` has passed since its
// last failure. A success clears the pair. Only the pair is affected: the same
// user from another address, or another user from the same address, is not,
// so an attacker cannot lock the real user out. Owns only time stamps, never
// more than max_failures per pair; pairs with nothing left in their window
// are forgotten, and the table never holds more than max_pairs (the pair whose
// last failure is oldest makes room). Reads time from the Clock it is given.
// Single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <list>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "lib/base/clock.h"

namespace postern {

class LogonLockout {
 public:
  // Enough for every client of a busy server over a lockout window; about
  // 100 bytes plus 8 per failure each, and at most kMaxUserKept more.
  static constexpr size_t kDefaultMaxPairs = 100000;
  // A user name counts by its first kMaxUserKept octets, so that names of
  // thousands of octets (an NTLM message carries up to 12 KB) cannot make
  // the table large; longer than any real login, a name sharing its
  // beginning with another shares its pair.
  static constexpr size_t kMaxUserKept = 256;

  // max_failures 0: no lockout, and nothing is counted.
  LogonLockout(const Clock& clock, uint32_t max_failures, Duration window,
               size_t max_pairs = kDefaultMaxPairs);
  LogonLockout(const LogonLockout&) = delete;
  LogonLockout& operator=(const LogonLockout&) = delete;

  // New limits (a reloaded configuration). Failures already counted stay and
  // are judged by the new limits from the next call on.
  void Reconfigure(uint32_t max_failures, Duration window);

  // True while the pair is locked out.
  bool IsLockedOut(std::string_view address, std::string_view user);
  // Counts a failure; true when it locks the pair out.
  bool RecordFailure(std::string_view address, std::string_view user);
  // Forgets the pair's failures.
  void RecordSuccess(std::string_view address, std::string_view user);

  uint32_t max_failures() const { return max_failures_; }
  Duration window() const { return window_; }
  // How many pairs are remembered: for tests of the memory bound.
  size_t tracked_pairs() const { return index_.size(); }

 private:
  using Key = std::pair<std::string, std::string>;
  struct Pair {
    Key key;
    std::deque<TimePoint> failures;  // oldest first, within the window
    TimePoint locked_until{};        // in the past when not locked out
  };
  using Recency = std::list<Pair>;  // least recent failure first

  // Forgets the pairs whose last failure left the window (and with it any lockout).
  void Expire(TimePoint now);
  void Forget(Recency::iterator pair);
  Recency::iterator Touch(const Key& key);
  static Key KeyOf(std::string_view address, std::string_view user);

  const Clock& clock_;
  uint32_t max_failures_;
  Duration window_;
  size_t max_pairs_;
  Recency recency_;
  std::map<Key, Recency::iterator> index_;
};

}  // namespace postern
