// tests/lib/queue/retry_schedule_test.cc — back-off and due times (lib/queue/retry_schedule.h).
#define BOOST_TEST_DYN_LINK
#include "lib/queue/retry_schedule.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace postern {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using Ids = std::vector<std::string>;

BOOST_AUTO_TEST_SUITE(retry_schedule)

BOOST_AUTO_TEST_CASE(delay_starts_at_a_minute_and_doubles_to_an_hour) {
  BOOST_TEST((RetryDelay(1) == minutes(1)));
  BOOST_TEST((RetryDelay(2) == minutes(2)));
  BOOST_TEST((RetryDelay(3) == minutes(4)));
  BOOST_TEST((RetryDelay(6) == minutes(32)));
  BOOST_TEST((RetryDelay(7) == hours(1)));  // 64 minutes, capped
  BOOST_TEST((RetryDelay(1000) == hours(1)));
}

BOOST_AUTO_TEST_CASE(hands_out_ids_when_due_earliest_first) {
  FakeClock clock;
  RetrySchedule schedule;
  schedule.Schedule("B", clock.Now() + minutes(2));
  schedule.Schedule("A", clock.Now() + minutes(1));
  BOOST_TEST((schedule.NextDue() == clock.Now() + minutes(1)));
  BOOST_TEST(schedule.TakeDue(clock.Now()).empty());
  clock.Advance(minutes(1));
  BOOST_TEST((schedule.TakeDue(clock.Now()) == Ids{"A"}));
  clock.Advance(minutes(5));
  BOOST_TEST((schedule.TakeDue(clock.Now()) == Ids{"B"}));
  BOOST_TEST(!schedule.NextDue().has_value());
}

BOOST_AUTO_TEST_CASE(rescheduling_moves_and_cancel_removes) {
  FakeClock clock;
  RetrySchedule schedule;
  schedule.Schedule("A", clock.Now() + seconds(10));
  schedule.Schedule("A", clock.Now() + hours(1));
  schedule.Schedule("B", clock.Now() + seconds(10));
  schedule.Cancel("B");
  schedule.Cancel("never-scheduled");
  BOOST_TEST(schedule.size() == 1u);
  clock.Advance(minutes(1));
  BOOST_TEST(schedule.TakeDue(clock.Now()).empty());
  BOOST_TEST((schedule.TakeAll() == Ids{"A"}));
  BOOST_TEST(schedule.size() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
