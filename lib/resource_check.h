// lib/resource_check.h — is this machine too low on disk, queue space or memory?
//
// MS-OXSMTP 3.2.7 OutOfResources: when a client connects and the server is
// low on memory or disk space, the answer is "452 4.3.1 Insufficient system
// resources" and the session ends. master asks here before every hand-off.
// Three thresholds, each a config key and each switched off by 0:
// min_free_disk_space (the file system of the queue), min_queue_map_space
// (room left in the LMDB map, queue_map_size less the size of data.mdb) and
// min_free_memory (MemAvailable of /proc/meminfo). The decision is a pure
// function of the readings, so tests drive it with made-up numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lib/clock.h"
#include "lib/config.h"
#include "lib/status.h"

namespace postern {

struct ResourceReadings {
  uint64_t free_disk = 0;       // bytes available to the queue's file system
  uint64_t queue_map_used = 0;  // bytes of data.mdb
  uint64_t free_memory = 0;     // MemAvailable, bytes
};

// What is short, in words for the log ("free disk space 12 MB is below
// min_free_disk_space 100 MB"), or nothing when every reading is above its
// threshold.
std::optional<std::string> ResourceShortage(const ResourceReadings& readings, const Config& config);

// Reads the three figures: the file system of state_directory, the size of
// state_directory/queue/data.mdb, MemAvailable.
Result<ResourceReadings> ReadResources(const Config& config);

// ReadResources at most once per interval: master accepts thousands of
// connections a second and the figures change slowly.
class ResourceMonitor {
 public:
  ResourceMonitor(const Clock* clock, Duration interval) : clock_(clock), interval_(interval) {}
  // The shortage as of the latest reading; a reading that fails is logged
  // and counts as no shortage (the queue itself still refuses what it
  // cannot store).
  std::optional<std::string> Shortage(const Config& config);

 private:
  const Clock* clock_;
  Duration interval_;
  std::optional<TimePoint> read_at_;
  std::optional<std::string> shortage_;
};

}  // namespace postern
