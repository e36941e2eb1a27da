// tests/lib/base/backoff_test.cc — the doubling back-off shared by the
// supervisor's restarts and qmgr's delivery retries.
#define BOOST_TEST_DYN_LINK
#include "lib/base/backoff.h"

#include <boost/test/unit_test.hpp>

namespace postern {
namespace {

using std::chrono::seconds;

BOOST_AUTO_TEST_SUITE(backoff)

BOOST_AUTO_TEST_CASE(doubles_from_the_first_wait_after_each_failure) {
  BOOST_TEST((DoublingBackoff(1, seconds(1), seconds(60)) == seconds(1)));
  BOOST_TEST((DoublingBackoff(2, seconds(1), seconds(60)) == seconds(2)));
  BOOST_TEST((DoublingBackoff(3, seconds(1), seconds(60)) == seconds(4)));
  BOOST_TEST((DoublingBackoff(6, seconds(1), seconds(60)) == seconds(32)));
}

BOOST_AUTO_TEST_CASE(never_waits_longer_than_the_ceiling) {
  BOOST_TEST((DoublingBackoff(7, seconds(1), seconds(60)) == seconds(60)));  // 64 s capped
  BOOST_TEST((DoublingBackoff(1000000, seconds(1), seconds(60)) == seconds(60)));
  BOOST_TEST((DoublingBackoff(3, seconds(50), seconds(60)) == seconds(60)));
}

BOOST_AUTO_TEST_CASE(no_failure_yet_counts_as_the_first) {
  BOOST_TEST((DoublingBackoff(0, seconds(1), seconds(60)) == seconds(1)));
  BOOST_TEST((DoublingBackoff(-5, seconds(1), seconds(60)) == seconds(1)));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
