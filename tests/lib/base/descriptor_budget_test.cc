// tests/lib/base/descriptor_budget_test.cc — connections the descriptor limit allows.
#define BOOST_TEST_DYN_LINK
#include "lib/base/descriptor_budget.h"

#include <sys/resource.h>

#include <boost/test/unit_test.hpp>

using namespace postern;

BOOST_AUTO_TEST_SUITE(descriptor_budget)

BOOST_AUTO_TEST_CASE(each_worker_keeps_64_descriptors_for_itself) {
  BOOST_TEST(ConnectionCapacity(1024, 2) == 2u * 960u);
  BOOST_TEST(ConnectionCapacity(1024, 1) == 960u);
  BOOST_TEST(ConnectionCapacity(1048576, 2) == 2u * 1048512u);
}

BOOST_AUTO_TEST_CASE(a_limit_below_the_reserve_admits_nothing) {
  BOOST_TEST(ConnectionCapacity(64, 4) == 0u);
  BOOST_TEST(ConnectionCapacity(10, 4) == 0u);
}

BOOST_AUTO_TEST_CASE(raising_reaches_the_hard_limit) {
  rlimit before{};
  BOOST_REQUIRE(getrlimit(RLIMIT_NOFILE, &before) == 0);
  Result<uint64_t> raised = RaiseDescriptorLimit();
  BOOST_REQUIRE(raised.ok());
  BOOST_TEST(*raised == static_cast<uint64_t>(before.rlim_max));
  rlimit after{};
  BOOST_REQUIRE(getrlimit(RLIMIT_NOFILE, &after) == 0);
  BOOST_TEST(after.rlim_cur == before.rlim_max);
  BOOST_REQUIRE(setrlimit(RLIMIT_NOFILE, &before) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
