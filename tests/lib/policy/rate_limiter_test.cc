// tests/lib/policy/rate_limiter_test.cc — message submission rates over a sliding
// minute (MS-OXSMTP 3.2.7 MessageRateLimitExceeded: 600 messages per minute
// by default), driven with a FakeClock.
#define BOOST_TEST_DYN_LINK
#include "lib/policy/rate_limiter.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>

namespace postern {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Allows `count` attempts of key, all at the clock's present time; true when
// every one was allowed.
bool AllowMany(RateLimiter& limiter, const std::string& key, int count, uint32_t limit,
               const FakeClock& clock) {
  bool all = true;
  for (int i = 0; i < count; ++i) all = limiter.Allow(key, limit, clock.Now()) && all;
  return all;
}

BOOST_AUTO_TEST_SUITE(rate_limiter)

BOOST_AUTO_TEST_CASE(the_600th_message_in_a_minute_is_allowed_the_601st_refused) {
  RateLimiter limiter;
  FakeClock clock;
  // One message every 10 ms: the 600th comes 5.99 s after the first.
  for (int i = 1; i <= 600; ++i) {
    BOOST_TEST(limiter.Allow("192.0.2.1", 600, clock.Now()), "message " << i);
    clock.Advance(milliseconds(10));
  }
  BOOST_TEST(!limiter.Allow("192.0.2.1", 600, clock.Now()));
}

BOOST_AUTO_TEST_CASE(one_is_allowed_again_once_the_first_leaves_the_window) {
  RateLimiter limiter;
  FakeClock clock;
  BOOST_TEST(limiter.Allow("192.0.2.1", 600, clock.Now()));
  clock.Advance(seconds(1));
  BOOST_TEST(AllowMany(limiter, "192.0.2.1", 599, 600, clock));
  BOOST_TEST(!limiter.Allow("192.0.2.1", 600, clock.Now()));
  // A minute after the first message, less one millisecond: still full.
  clock.Advance(seconds(59) - milliseconds(1));
  BOOST_TEST(!limiter.Allow("192.0.2.1", 600, clock.Now()));
  // Exactly a minute after it, the first message no longer counts: one more
  // is allowed, and only one, since the other 599 are 59 s old.
  clock.Advance(milliseconds(1));
  BOOST_TEST(limiter.Allow("192.0.2.1", 600, clock.Now()));
  BOOST_TEST(!limiter.Allow("192.0.2.1", 600, clock.Now()));
  // A minute after the 599, all of them are gone: 599 more fit.
  clock.Advance(seconds(1));
  BOOST_TEST(AllowMany(limiter, "192.0.2.1", 599, 600, clock));
  BOOST_TEST(!limiter.Allow("192.0.2.1", 600, clock.Now()));
}

BOOST_AUTO_TEST_CASE(refused_attempts_do_not_count) {
  RateLimiter limiter;
  FakeClock clock;
  BOOST_TEST(AllowMany(limiter, "192.0.2.1", 5, 5, clock));
  clock.Advance(seconds(30));
  for (int i = 0; i < 100; ++i) BOOST_TEST(!limiter.Allow("192.0.2.1", 5, clock.Now()));
  // The five allowed a minute ago have left the window; the refusals never
  // entered it.
  clock.Advance(seconds(30));
  BOOST_TEST(AllowMany(limiter, "192.0.2.1", 5, 5, clock));
}

BOOST_AUTO_TEST_CASE(two_keys_are_counted_apart) {
  RateLimiter limiter;
  FakeClock clock;
  BOOST_TEST(AllowMany(limiter, "192.0.2.1", 3, 3, clock));
  BOOST_TEST(!limiter.Allow("192.0.2.1", 3, clock.Now()));
  BOOST_TEST(AllowMany(limiter, "192.0.2.2", 3, 3, clock));
  BOOST_TEST(!limiter.Allow("192.0.2.2", 3, clock.Now()));
}

BOOST_AUTO_TEST_CASE(each_attempt_brings_its_limit_to_the_one_count_of_its_key) {
  // Two listeners with limits 3 and 5 see one count per client: messages
  // under the limit of 5 fill the count that the limit of 3 is held against.
  RateLimiter limiter;
  FakeClock clock;
  BOOST_TEST(AllowMany(limiter, "ip:192.0.2.1", 2, 3, clock));
  BOOST_TEST(AllowMany(limiter, "ip:192.0.2.1", 2, 5, clock));
  BOOST_TEST(!limiter.Allow("ip:192.0.2.1", 3, clock.Now()));
  BOOST_TEST(limiter.Allow("ip:192.0.2.1", 5, clock.Now()));
  BOOST_TEST(!limiter.Allow("ip:192.0.2.1", 5, clock.Now()));
  BOOST_TEST(limiter.tracked_keys() == 1u);
}

BOOST_AUTO_TEST_CASE(a_limit_of_zero_is_off) {
  RateLimiter limiter;
  FakeClock clock;
  BOOST_TEST(AllowMany(limiter, "192.0.2.1", 10000, 0, clock));
  BOOST_TEST(limiter.tracked_keys() == 0u);
}

BOOST_AUTO_TEST_CASE(a_lowered_limit_applies_to_what_was_already_counted) {
  RateLimiter limiter;
  FakeClock clock;
  BOOST_TEST(AllowMany(limiter, "192.0.2.1", 5, 600, clock));
  BOOST_TEST(!limiter.Allow("192.0.2.1", 5, clock.Now()));
}

BOOST_AUTO_TEST_CASE(keys_of_clients_gone_quiet_are_pruned) {
  RateLimiter limiter;
  FakeClock clock;
  for (int i = 0; i < 1000; ++i)
    BOOST_TEST(limiter.Allow("198.51.100." + std::to_string(i), 600, clock.Now()));
  BOOST_TEST(limiter.tracked_keys() == 1000u);
  clock.Advance(seconds(30));
  BOOST_TEST(limiter.Allow("192.0.2.1", 600, clock.Now()));
  BOOST_TEST(limiter.tracked_keys() == 1001u);
  // A minute after the 1000 clients' last message only the one that sent
  // since is left.
  clock.Advance(seconds(30));
  BOOST_TEST(limiter.Allow("192.0.2.1", 600, clock.Now()));
  BOOST_TEST(limiter.tracked_keys() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
