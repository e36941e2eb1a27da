// lib/sasl/logon_lockout.cc — see lib/sasl/logon_lockout.h.
//
// The pairs are kept in the order of their last failure, so the ones whose
// window has passed are always at the front: expiry costs only what it removes.
#include "lib/sasl/logon_lockout.h"

namespace postern {

LogonLockout::LogonLockout(const Clock& clock, uint32_t max_failures, Duration window,
                           size_t max_pairs)
    : clock_(clock), max_failures_(max_failures), window_(window), max_pairs_(max_pairs) {}

void LogonLockout::Reconfigure(uint32_t max_failures, Duration window) {
  max_failures_ = max_failures;
  window_ = window;
  if (max_failures_ == 0) {
    recency_.clear();
    index_.clear();
  }
}

bool LogonLockout::IsLockedOut(std::string_view address, std::string_view user) {
  if (max_failures_ == 0) return false;
  TimePoint now = clock_.Now();
  Expire(now);
  auto found = index_.find(KeyOf(address, user));
  return found != index_.end() && found->second->locked_until > now;
}

bool LogonLockout::RecordFailure(std::string_view address, std::string_view user) {
  if (max_failures_ == 0) return false;
  TimePoint now = clock_.Now();
  Expire(now);
  Pair& pair = *Touch(KeyOf(address, user));
  while (!pair.failures.empty() && pair.failures.front() + window_ <= now)
    pair.failures.pop_front();
  pair.failures.push_back(now);
  while (pair.failures.size() > max_failures_) pair.failures.pop_front();
  if (pair.failures.size() < max_failures_) return false;
  pair.locked_until = now + window_;
  return true;
}

void LogonLockout::RecordSuccess(std::string_view address, std::string_view user) {
  auto found = index_.find(KeyOf(address, user));
  if (found != index_.end()) Forget(found->second);
}

LogonLockout::Key LogonLockout::KeyOf(std::string_view address, std::string_view user) {
  return Key(address, user.substr(0, kMaxUserKept));
}

void LogonLockout::Expire(TimePoint now) {
  // A pair's lockout ends with its window, counted from its last failure.
  while (!recency_.empty() && recency_.front().failures.back() + window_ <= now)
    Forget(recency_.begin());
}

void LogonLockout::Forget(Recency::iterator pair) {
  index_.erase(pair->key);
  recency_.erase(pair);
}

LogonLockout::Recency::iterator LogonLockout::Touch(const Key& key) {
  auto found = index_.find(key);
  if (found != index_.end()) {
    recency_.splice(recency_.end(), recency_, found->second);
    return found->second;
  }
  if (index_.size() >= max_pairs_ && !recency_.empty()) Forget(recency_.begin());
  recency_.push_back(Pair{key, {}, {}});
  auto pair = std::prev(recency_.end());
  index_.emplace(key, pair);
  return pair;
}

}  // namespace postern
