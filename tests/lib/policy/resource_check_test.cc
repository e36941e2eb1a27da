// tests/lib/policy/resource_check_test.cc — OutOfResources thresholds.
#define BOOST_TEST_DYN_LINK
#include "lib/policy/resource_check.h"

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

ResourceReadings Plenty() { return ResourceReadings{10240 * kMB, 100 * kMB, 4096 * kMB, {}}; }

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

// Issue 8: data.mdb never shrinks. Once it grew near the floor, statvfs
// alone refused every connection although the queue was empty: qmgr's
// reusable bytes count as room, its bytes in flight as taken.
BOOST_AUTO_TEST_CASE(the_queue_reusable_space_counts_as_room_and_its_bytes_in_flight_as_taken) {
  Config config = Thresholds();
  ResourceReadings r = Plenty();
  r.free_disk = 40 * kMB;  // below min_free_disk_space 64 MB
  BOOST_TEST(ResourceShortage(r, config).has_value());
  r.queue.reusable = 24 * kMB;
  BOOST_TEST(!ResourceShortage(r, config).has_value());
  r.queue.in_flight = 1;
  auto disk = ResourceShortage(r, config);
  BOOST_REQUIRE(disk.has_value());
  BOOST_TEST(*disk ==
                 "free disk space 63 MB is below min_free_disk_space 64 MB (with 24 MB reusable in "
                 "the queue, less 0 MB in flight)",
             *disk);
  // The map: 1024 MB less a 1020 MB file leaves 4 MB, and 12 MB reusable in it.
  r = Plenty();
  r.queue_map_used = 1020 * kMB;
  BOOST_TEST(ResourceShortage(r, config).has_value());
  r.queue.reusable = 12 * kMB;
  BOOST_TEST(!ResourceShortage(r, config).has_value());
  r.queue.reusable = UINT64_MAX;  // does not wrap
  r.free_disk = UINT64_MAX;
  BOOST_TEST(!ResourceShortage(r, config).has_value());
}

BOOST_AUTO_TEST_CASE(qmgr_s_space_answer_reads_back) {
  QueueSpace space{123456789, 42};
  BOOST_TEST(FormatQueueSpace(space) == "reusable 123456789\nin_flight 42\n");
  BOOST_TEST((ParseQueueSpace(FormatQueueSpace(space)) == space));
  BOOST_TEST(!ParseQueueSpace("pong\n").has_value());
  BOOST_TEST(!ParseQueueSpace("reusable 1\n").has_value());
  BOOST_TEST(!ParseQueueSpace("reusable 1\nin_flight 2\nmore 3\n").has_value());
  BOOST_TEST(!ParseQueueSpace("in_flight 1\nreusable 2\n").has_value());
}

BOOST_AUTO_TEST_CASE(zero_switches_each_check_off) {
  Config config = Thresholds();
  config.min_free_disk_space = 0;
  config.min_queue_map_space = 0;
  config.min_free_memory = 0;
  BOOST_TEST(!ResourceShortage(ResourceReadings{0, 4096 * kMB, 0, {}}, config).has_value());
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

// The MAIL-time check (master/worker_pool) asks at every MAIL FROM: the
// figures are read at most once a second, whatever the rate of questions.
BOOST_AUTO_TEST_CASE(monitor_reads_once_per_interval_and_sees_a_drop_after_it) {
  FakeClock clock;
  ResourceReadings current = Plenty();
  int reads = 0;
  ResourceMonitor monitor(&clock, std::chrono::seconds(1), [&](const Config&) {
    ++reads;
    return Result<ResourceReadings>(current);
  });
  Config config = Thresholds();
  for (int i = 0; i < 1000; ++i) BOOST_TEST(!monitor.Shortage(config).has_value());
  BOOST_TEST(reads == 1);
  current.free_memory = 31 * kMB;  // below min_free_memory 32 MB
  clock.Advance(std::chrono::milliseconds(999));
  BOOST_TEST(!monitor.Shortage(config).has_value());
  BOOST_TEST(reads == 1);
  clock.Advance(std::chrono::milliseconds(1));
  std::optional<std::string> shortage = monitor.Shortage(config);
  BOOST_TEST(reads == 2);
  BOOST_REQUIRE(shortage.has_value());
  BOOST_TEST(*shortage == "available memory 31 MB is below min_free_memory 32 MB");
  current = Plenty();
  clock.Advance(std::chrono::seconds(1));
  BOOST_TEST(!monitor.Shortage(config).has_value());
  BOOST_TEST(reads == 3);
}

BOOST_AUTO_TEST_CASE(monitor_applies_new_thresholds_without_a_new_reading) {
  FakeClock clock;
  int reads = 0;
  ResourceMonitor monitor(&clock, std::chrono::seconds(1), [&](const Config&) {
    ++reads;
    return Result<ResourceReadings>(ResourceReadings{100 * kMB, 0, 4096 * kMB, {}});
  });
  Config config = Thresholds();
  BOOST_TEST(!monitor.Shortage(config).has_value());
  config.min_free_disk_space = 101 * kMB;  // a reload raised the threshold
  BOOST_TEST(monitor.Shortage(config).has_value());
  config.min_free_disk_space = 0;
  BOOST_TEST(!monitor.Shortage(config).has_value());
  BOOST_TEST(reads == 1);
}

BOOST_AUTO_TEST_CASE(monitor_counts_a_failed_reading_as_no_shortage_until_the_next) {
  FakeClock clock;
  bool fail = true;
  ResourceMonitor monitor(&clock, std::chrono::seconds(1), [&](const Config&) {
    if (fail) return Result<ResourceReadings>(Status::Error("statvfs /nowhere: No such file"));
    return Result<ResourceReadings>(ResourceReadings{0, 0, 0, {}});
  });
  Config config = Thresholds();
  BOOST_TEST(!monitor.Shortage(config).has_value());
  fail = false;
  BOOST_TEST(!monitor.Shortage(config).has_value());
  clock.Advance(std::chrono::seconds(1));
  BOOST_TEST(monitor.Shortage(config).has_value());
}

// MS-OXSMTP 3.2.5 MAIL "System resources are not available" comes before
// MessageRateLimitExceeded: a MAIL refused for resources is not counted.
BOOST_AUTO_TEST_CASE(answer_mail_check_checks_resources_before_counting_the_rate) {
  FakeClock clock;
  ResourceReadings current = Plenty();
  ResourceMonitor monitor(&clock, std::chrono::seconds(1),
                          [&](const Config&) { return Result<ResourceReadings>(current); });
  RateLimiter rates;
  Config config = Thresholds();
  ListenerConfig listener;
  listener.name = "smtp";
  listener.message_rate_limit = 2;
  config.listeners.push_back(listener);
  std::string shortage;
  auto decide = [&] {
    return AnswerMailCheck(monitor, rates, config, "smtp", "ip:192.0.2.10", clock.Now(), &shortage);
  };

  current.free_disk = 63 * kMB;  // below min_free_disk_space 64 MB
  for (int i = 0; i < 5; ++i) BOOST_TEST((decide() == ipc::MailVerdict::kInsufficientResources));
  BOOST_TEST(shortage == "free disk space 63 MB is below min_free_disk_space 64 MB");

  current = Plenty();
  clock.Advance(std::chrono::seconds(1));
  // The five refusals used up nothing of the limit of 2.
  BOOST_TEST((decide() == ipc::MailVerdict::kAllowed));
  BOOST_TEST((decide() == ipc::MailVerdict::kAllowed));
  BOOST_TEST((decide() == ipc::MailVerdict::kRateLimitExceeded));
}

BOOST_AUTO_TEST_CASE(answer_mail_check_without_a_rate_limit_only_checks_resources) {
  FakeClock clock;
  ResourceMonitor monitor(&clock, std::chrono::seconds(1),
                          [](const Config&) { return Result<ResourceReadings>(Plenty()); });
  RateLimiter rates;
  Config config = Thresholds();
  ListenerConfig listener;
  listener.name = "smtp";
  listener.message_rate_limit = 0;
  config.listeners.push_back(listener);
  std::string shortage;
  for (int i = 0; i < 1000; ++i)
    BOOST_TEST((AnswerMailCheck(monitor, rates, config, "smtp", "ip:192.0.2.10", clock.Now(),
                                &shortage) == ipc::MailVerdict::kAllowed));
  BOOST_TEST(rates.tracked_keys() == 0u);
  // A listener removed by a reload limits nothing.
  BOOST_TEST((AnswerMailCheck(monitor, rates, config, "gone", "ip:192.0.2.10", clock.Now(),
                              &shortage) == ipc::MailVerdict::kAllowed));
}

// MS-OXSMTP 3.2.7 MessageRateLimitExceeded is "based on a unique IP address"
// (or user), not on a listener: two listeners must not double a client's
// allowance. The limit of the listener the MAIL arrives on is held against
// the count over both.
BOOST_AUTO_TEST_CASE(answer_mail_check_counts_a_client_over_every_listener) {
  FakeClock clock;
  ResourceMonitor monitor(&clock, std::chrono::seconds(1),
                          [](const Config&) { return Result<ResourceReadings>(Plenty()); });
  RateLimiter rates;
  Config config = Thresholds();
  for (auto [name, limit] : {std::pair{"smtp", 3u}, std::pair{"submission", 5u}}) {
    ListenerConfig listener;
    listener.name = name;
    listener.message_rate_limit = limit;
    config.listeners.push_back(listener);
  }
  std::string shortage;
  auto decide = [&](const char* listener, const char* key) {
    return AnswerMailCheck(monitor, rates, config, listener, key, clock.Now(), &shortage);
  };
  BOOST_TEST((decide("smtp", "ip:192.0.2.10") == ipc::MailVerdict::kAllowed));
  BOOST_TEST((decide("submission", "ip:192.0.2.10") == ipc::MailVerdict::kAllowed));
  BOOST_TEST((decide("smtp", "ip:192.0.2.10") == ipc::MailVerdict::kAllowed));
  // Three in all: smtp's limit of 3 is reached, submission's 5 is not.
  BOOST_TEST((decide("smtp", "ip:192.0.2.10") == ipc::MailVerdict::kRateLimitExceeded));
  BOOST_TEST((decide("submission", "ip:192.0.2.10") == ipc::MailVerdict::kAllowed));
  BOOST_TEST((decide("submission", "ip:192.0.2.10") == ipc::MailVerdict::kAllowed));
  BOOST_TEST((decide("submission", "ip:192.0.2.10") == ipc::MailVerdict::kRateLimitExceeded));
  // A user is one key too, whichever listener they authenticate on.
  for (int i = 0; i < 3; ++i)
    BOOST_TEST((decide(i % 2 ? "smtp" : "submission", "user:alice") == ipc::MailVerdict::kAllowed));
  BOOST_TEST((decide("smtp", "user:alice") == ipc::MailVerdict::kRateLimitExceeded));
  // Other clients keep their own counts.
  BOOST_TEST((decide("smtp", "ip:192.0.2.11") == ipc::MailVerdict::kAllowed));
}

// Issue 8: `postern check` and `start` warn when the threshold exceeds the
// file system, since no reading can meet it then.
BOOST_AUTO_TEST_CASE(a_threshold_larger_than_the_file_system_is_warned_of) {
  Config config = Thresholds();
  config.state_directory = "/var/lib/postern";
  config.min_free_disk_space = 64 * kMB;
  BOOST_TEST(!DiskThresholdWarning(config, 64 * kMB).has_value());
  std::optional<std::string> warning = DiskThresholdWarning(config, 20 * kMB);
  BOOST_TEST_REQUIRE(warning.has_value());
  BOOST_TEST(*warning ==
             "min_free_disk_space 64 MB is larger than the 20 MB file system of state_directory "
             "/var/lib/postern: every connection and MAIL FROM will be refused with 452 4.3.1");
  config.min_free_disk_space = 0;
  BOOST_TEST(!DiskThresholdWarning(config, 0).has_value());
}

BOOST_AUTO_TEST_CASE(file_system_size_of_a_directory_not_made_yet_is_its_parents) {
  Result<uint64_t> root = FileSystemSize("/");
  BOOST_TEST_REQUIRE(root.ok(), root.status().message());
  BOOST_TEST(*root > 0u);
  Result<uint64_t> missing = FileSystemSize("/no/such/state/directory");
  BOOST_TEST_REQUIRE(missing.ok(), missing.status().message());
  BOOST_TEST(*missing == *root);
}

BOOST_AUTO_TEST_SUITE_END()
