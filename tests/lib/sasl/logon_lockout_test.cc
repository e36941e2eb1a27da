// tests/lib/sasl/logon_lockout_test.cc — failed logons per (client address, user)
// and the lockout they lead to (config auth_lockout_failures within
// auth_lockout_time), driven with a FakeClock.
#define BOOST_TEST_DYN_LINK
#include "lib/sasl/logon_lockout.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>

namespace postern {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

constexpr char kAttacker[] = "192.0.2.66";
constexpr char kOffice[] = "198.51.100.7";

// Fails `count` logons of user from address, one a second.
void FailMany(LogonLockout& lockout, FakeClock& clock, const char* address, const char* user,
              int count) {
  for (int i = 0; i < count; ++i) {
    lockout.RecordFailure(address, user);
    clock.Advance(seconds(1));
  }
}

BOOST_AUTO_TEST_SUITE(logon_lockout)

BOOST_AUTO_TEST_CASE(the_tenth_failure_locks_the_pair_out) {
  FakeClock clock;
  LogonLockout lockout(clock, 10, minutes(15));
  for (int i = 1; i <= 9; ++i) {
    BOOST_TEST(!lockout.RecordFailure(kAttacker, "alice"), "failure " << i);
    BOOST_TEST(!lockout.IsLockedOut(kAttacker, "alice"), "after failure " << i);
    clock.Advance(seconds(1));
  }
  BOOST_TEST(lockout.RecordFailure(kAttacker, "alice"));
  BOOST_TEST(lockout.IsLockedOut(kAttacker, "alice"));
}

BOOST_AUTO_TEST_CASE(another_address_or_user_is_not_locked_out) {
  FakeClock clock;
  LogonLockout lockout(clock, 3, minutes(15));
  FailMany(lockout, clock, kAttacker, "alice", 3);
  BOOST_TEST(lockout.IsLockedOut(kAttacker, "alice"));
  BOOST_TEST(!lockout.IsLockedOut(kOffice, "alice"));
  BOOST_TEST(!lockout.IsLockedOut(kAttacker, "bob"));
}

BOOST_AUTO_TEST_CASE(lockout_lasts_the_window_after_the_last_failure) {
  FakeClock clock;
  LogonLockout lockout(clock, 3, minutes(15));
  lockout.RecordFailure(kAttacker, "alice");
  clock.Advance(minutes(5));
  lockout.RecordFailure(kAttacker, "alice");
  clock.Advance(minutes(5));
  BOOST_TEST(lockout.RecordFailure(kAttacker, "alice"));  // the last failure: t = 10 min
  clock.Advance(minutes(15) - seconds(1));
  BOOST_TEST(lockout.IsLockedOut(kAttacker, "alice"));
  clock.Advance(seconds(1));
  BOOST_TEST(!lockout.IsLockedOut(kAttacker, "alice"));
  // And the slate is clean: one more failure does not lock it out again.
  BOOST_TEST(!lockout.RecordFailure(kAttacker, "alice"));
  BOOST_TEST(!lockout.IsLockedOut(kAttacker, "alice"));
}

BOOST_AUTO_TEST_CASE(failures_older_than_the_window_do_not_count) {
  FakeClock clock;
  LogonLockout lockout(clock, 3, minutes(15));
  lockout.RecordFailure(kAttacker, "alice");  // t = 0
  clock.Advance(minutes(10));
  lockout.RecordFailure(kAttacker, "alice");  // t = 10 min
  clock.Advance(minutes(5));
  // t = 15 min: the first failure has just left the window, so this is the second.
  BOOST_TEST(!lockout.RecordFailure(kAttacker, "alice"));
  BOOST_TEST(!lockout.IsLockedOut(kAttacker, "alice"));
  clock.Advance(minutes(1));
  BOOST_TEST(lockout.RecordFailure(kAttacker, "alice"));  // three within 6 minutes
}

BOOST_AUTO_TEST_CASE(a_success_clears_the_count) {
  FakeClock clock;
  LogonLockout lockout(clock, 3, minutes(15));
  FailMany(lockout, clock, kOffice, "alice", 2);
  lockout.RecordSuccess(kOffice, "alice");
  FailMany(lockout, clock, kOffice, "alice", 2);
  BOOST_TEST(!lockout.IsLockedOut(kOffice, "alice"));
  BOOST_TEST(lockout.RecordFailure(kOffice, "alice"));
}

BOOST_AUTO_TEST_CASE(zero_failures_means_no_lockout) {
  FakeClock clock;
  LogonLockout lockout(clock, 0, minutes(15));
  FailMany(lockout, clock, kAttacker, "alice", 1000);
  BOOST_TEST(!lockout.IsLockedOut(kAttacker, "alice"));
  BOOST_TEST(lockout.tracked_pairs() == 0u);
}

BOOST_AUTO_TEST_CASE(pairs_are_forgotten_once_their_window_has_passed) {
  FakeClock clock;
  LogonLockout lockout(clock, 10, minutes(15));
  for (int i = 0; i < 50; ++i) lockout.RecordFailure(kAttacker, "user" + std::to_string(i));
  BOOST_TEST(lockout.tracked_pairs() == 50u);
  clock.Advance(minutes(15));
  BOOST_TEST(!lockout.IsLockedOut(kAttacker, "user0"));
  BOOST_TEST(lockout.tracked_pairs() == 0u);
}

// Names of thousands of octets, now counted (issue 8 point 10), are kept
// by their beginning only, so the cap on pairs still bounds the memory.
BOOST_AUTO_TEST_CASE(long_user_names_count_by_their_first_256_octets) {
  FakeClock clock;
  LogonLockout lockout(clock, 3, minutes(15));
  std::string name(3000, 'a');
  for (int i = 0; i < 3; ++i) lockout.RecordFailure(kAttacker, name + std::to_string(i));
  BOOST_TEST(lockout.tracked_pairs() == 1u);
  BOOST_TEST(lockout.IsLockedOut(kAttacker, std::string(256, 'a')));
  BOOST_TEST(!lockout.IsLockedOut(kAttacker, std::string(255, 'a')));
}

BOOST_AUTO_TEST_CASE(the_table_never_grows_past_its_cap) {
  FakeClock clock;
  LogonLockout lockout(clock, 2, minutes(15), 100);
  for (int i = 0; i < 1000; ++i) lockout.RecordFailure(kAttacker, "user" + std::to_string(i));
  BOOST_TEST(lockout.tracked_pairs() == 100u);
  // The most recent pairs are the ones kept.
  lockout.RecordFailure(kAttacker, "user999");
  BOOST_TEST(lockout.IsLockedOut(kAttacker, "user999"));
}

BOOST_AUTO_TEST_CASE(reconfigure_applies_new_limits) {
  FakeClock clock;
  LogonLockout lockout(clock, 10, minutes(15));
  FailMany(lockout, clock, kAttacker, "alice", 3);
  lockout.Reconfigure(4, minutes(15));
  BOOST_TEST(lockout.RecordFailure(kAttacker, "alice"));  // the fourth
  lockout.Reconfigure(0, minutes(15));
  BOOST_TEST(!lockout.IsLockedOut(kAttacker, "alice"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
