// tests/lib/policy/minute_tally_test.cc — the last minute's counts of
// `postern status`, driven with a FakeClock.
#define BOOST_TEST_DYN_LINK
#include "lib/policy/minute_tally.h"

#include <boost/test/unit_test.hpp>

namespace postern {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

BOOST_AUTO_TEST_SUITE(minute_tally)

BOOST_AUTO_TEST_CASE(counts_what_was_added_during_the_last_minute) {
  MinuteTally tally;
  FakeClock clock;
  BOOST_TEST(tally.Sum(clock.Now()) == 0u);
  tally.Add(clock.Now());
  tally.Add(clock.Now(), 2);
  clock.Advance(seconds(30));
  tally.Add(clock.Now());
  BOOST_TEST(tally.Sum(clock.Now()) == 4u);
  // 59 seconds after the first three they still count; at 60 they are gone.
  clock.Advance(seconds(29));
  BOOST_TEST(tally.Sum(clock.Now()) == 4u);
  clock.Advance(seconds(1));
  BOOST_TEST(tally.Sum(clock.Now()) == 1u);
  clock.Advance(seconds(30));
  BOOST_TEST(tally.Sum(clock.Now()) == 0u);
}

BOOST_AUTO_TEST_CASE(a_bucket_reused_a_minute_later_starts_again) {
  MinuteTally tally;
  FakeClock clock;
  tally.Add(clock.Now(), 5);
  clock.Advance(seconds(60));
  tally.Add(clock.Now(), 1);  // the same bucket, a minute on
  BOOST_TEST(tally.Sum(clock.Now()) == 1u);
  clock.Advance(milliseconds(999));
  BOOST_TEST(tally.Sum(clock.Now()) == 1u);
}

BOOST_AUTO_TEST_CASE(an_hour_of_traffic_keeps_only_the_last_minute) {
  MinuteTally tally;
  FakeClock clock;
  for (int i = 0; i < 3600; ++i) {
    tally.Add(clock.Now(), 2);
    clock.Advance(seconds(1));
  }
  // Added at the last 60 whole seconds before now, 59 of them still inside.
  BOOST_TEST(tally.Sum(clock.Now()) == 118u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
