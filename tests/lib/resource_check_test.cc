// tests/lib/resource_check_test.cc — OutOfResources thresholds.
#define BOOST_TEST_DYN_LINK
#include "lib/resource_check.h"

#include <boost/test/unit_test.hpp>

using namespace postern;

namespace {

constexpr uint64_t kMB = 1 << 20;

Config Thresholds() {
  Config config;
  config.queue_map_size = 1024 * kMB;
  config.min_free_disk_space = 64 * kMB;
  config.min_queue_map_space = 16 * kMB;
  config.min_free_memory = 32 * kMB;
  return config;
}

ResourceReadings Plenty() { return ResourceReadings{10240 * kMB, 100 * kMB, 4096 * kMB}; }

}  // namespace

BOOST_AUTO_TEST_SUITE(resource_check)

BOOST_AUTO_TEST_CASE(plenty_of_everything_is_no_shortage) {
  BOOST_TEST(!ResourceShortage(Plenty(), Thresholds()).has_value());
}

BOOST_AUTO_TEST_CASE(each_threshold_is_exact) {
  Config config = Thresholds();
  ResourceReadings r = Plenty();
  r.free_disk = 64 * kMB;
  BOOST_TEST(!ResourceShortage(r, config).has_value());
  r.free_disk = 64 * kMB - 1;
  auto disk = ResourceShortage(r, config);
  BOOST_REQUIRE(disk.has_value());
  BOOST_TEST(disk->find("min_free_disk_space") != std::string::npos);

  r = Plenty();
  r.queue_map_used = 1008 * kMB;  // 16 MB left
  BOOST_TEST(!ResourceShortage(r, config).has_value());
  r.queue_map_used = 1008 * kMB + 1;
  auto map = ResourceShortage(r, config);
  BOOST_REQUIRE(map.has_value());
  BOOST_TEST(map->find("min_queue_map_space") != std::string::npos);

  r = Plenty();
  r.free_memory = 32 * kMB - 1;
  auto memory = ResourceShortage(r, config);
  BOOST_REQUIRE(memory.has_value());
  BOOST_TEST(memory->find("min_free_memory") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_map_file_larger_than_the_map_leaves_no_room) {
  ResourceReadings r = Plenty();
  r.queue_map_used = 2048 * kMB;
  BOOST_TEST(ResourceShortage(r, Thresholds()).has_value());
}

BOOST_AUTO_TEST_CASE(zero_switches_each_check_off) {
  Config config = Thresholds();
  config.min_free_disk_space = 0;
  config.min_queue_map_space = 0;
  config.min_free_memory = 0;
  BOOST_TEST(!ResourceShortage(ResourceReadings{0, 4096 * kMB, 0}, config).has_value());
}

BOOST_AUTO_TEST_CASE(monitor_reads_at_most_once_per_interval) {
  FakeClock clock;
  Config config = Thresholds();
  config.state_directory = "/nonexistent-postern-state";
  ResourceMonitor monitor(&clock, std::chrono::seconds(1));
  // An unreadable queue directory is logged and is no shortage.
  BOOST_TEST(!monitor.Shortage(config).has_value());
  config.state_directory = "/tmp";
  config.min_free_memory = UINT64_MAX;  // more than any machine has
  // Within the interval the earlier reading stands.
  BOOST_TEST(!monitor.Shortage(config).has_value());
  clock.Advance(std::chrono::seconds(1));
  std::optional<std::string> shortage = monitor.Shortage(config);
  BOOST_REQUIRE(shortage.has_value());
  BOOST_TEST(shortage->find("min_free_memory") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
