// lib/policy/resource_check.h — is this machine too low on disk, queue space or memory?
//
// MS-OXSMTP 3.2.7 OutOfResources: when the server is low on memory or disk
// space, a client is answered "452 4.3.1 Insufficient system resources":
// master asks here before every hand-off (the session ends) and before it
// answers a worker's check of a MAIL FROM (the MAIL is refused, the session
// goes on). Three thresholds, each a config key and each switched off by 0:
// min_free_disk_space (the file system of the queue), min_queue_map_space
// (room left in the LMDB map, queue_map_size less the size of data.mdb; only
// with queue_map_size set, as by default the map spans the file system) and
// min_free_memory (MemAvailable of /proc/meminfo). The decision is a pure
// function of the readings, so tests drive it with made-up numbers.
//
// data.mdb never shrinks: once it grew near the floor, statvfs alone would
// refuse every connection for ever although LMDB can refill the pages of
// the messages that left. Only qmgr may read the LMDB file, so master asks
// it (QueueSpace, the control verb "space" on the queue socket,
// master/queue_control_client.h) and counts the reusable bytes as room and
// the bytes qmgr holds in flight as taken, in both the disk and the map
// check; without a fresh answer it falls back to statvfs and the file size.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "lib/base/clock.h"
#include "lib/base/status.h"
#include "lib/config/config.h"
#include "lib/ipc/messages_worker.h"
#include "lib/policy/rate_limiter.h"

namespace postern {

// qmgr's own figures (QueueManager::Space).
struct QueueSpace {
  uint64_t reusable = 0;   // bytes inside data.mdb that LMDB can refill without growing it
  uint64_t in_flight = 0;  // what the bytes accepted but not yet committed will take on disk

  bool operator==(const QueueSpace&) const = default;
};

// The "space" control reply: "reusable N\nin_flight N\n", and back;
// nothing when the text is not that.
std::string FormatQueueSpace(const QueueSpace& space);
std::optional<QueueSpace> ParseQueueSpace(std::string_view text);

struct ResourceReadings {
  uint64_t free_disk = 0;       // bytes available to the queue's file system
  uint64_t queue_map_used = 0;  // bytes of data.mdb
  uint64_t free_memory = 0;     // MemAvailable, bytes
  QueueSpace queue;             // from qmgr; zeros when it did not answer
};

// What is short, in words for the log ("free disk space 12 MB is below
// min_free_disk_space 100 MB"), or nothing when every reading is above its
// threshold.
std::optional<std::string> ResourceShortage(const ResourceReadings& readings, const Config& config);

// Bytes available to an unprivileged writer on the file system holding path
// (statvfs f_bavail).
Result<uint64_t> FreeDiskSpace(const std::string& path);

// The size of the file system holding path, or of its nearest existing
// ancestor when path does not exist yet (statvfs f_blocks).
Result<uint64_t> FileSystemSize(const std::string& path);

// What to warn of when min_free_disk_space is larger than the whole file
// system of state_directory (file_system_size bytes): then no reading can
// ever meet it, and every connection would be refused. Nothing otherwise.
std::optional<std::string> DiskThresholdWarning(const Config& config, uint64_t file_system_size);

// Reads the three figures: the file system of state_directory, the size of
// state_directory/queue/data.mdb, MemAvailable.
Result<ResourceReadings> ReadResources(const Config& config);

// ReadResources at most once per interval: master accepts thousands of
// connections and MAIL checks a second and the figures change slowly. The
// readings are kept, not the verdict, so thresholds changed by a reload
// apply at once.
class ResourceMonitor {
 public:
  using Reader = std::function<Result<ResourceReadings>(const Config&)>;

  // reader: ReadResources unless a test gives made-up readings.
  ResourceMonitor(const Clock* clock, Duration interval, Reader reader = ReadResources)
      : clock_(clock), interval_(interval), reader_(std::move(reader)) {}
  // The shortage as of the latest reading; a reading that fails is logged
  // and counts as no shortage (the queue itself still refuses what it
  // cannot store).
  std::optional<std::string> Shortage(const Config& config);

 private:
  const Clock* clock_;
  Duration interval_;
  Reader reader_;
  std::optional<TimePoint> read_at_;
  std::optional<ResourceReadings> readings_;  // empty when the last reading failed
};

// master's answer to a worker's check of a MAIL FROM (ipc kMailCheck) on
// listener for rate_key: resources first, so that a MAIL refused for them
// uses up none of the client's rate; then the message_rate_limit of the
// listener the MAIL arrived on (none for a listener the config no longer
// has), applied to rate_key's count over every listener. *shortage is set
// to what is short when the answer is kInsufficientResources.
ipc::MailVerdict AnswerMailCheck(ResourceMonitor& resources, RateLimiter& rates,
                                 const Config& config, const std::string& listener,
                                 const std::string& rate_key, TimePoint now, std::string* shortage);

// What master tells the workers they may answer themselves
// (ipc::MailCheckPolicy): the listeners of config without a
// message_rate_limit, and whether resources are ample now.
ipc::MailCheckPolicy MailCheckPolicyFor(const Config& config, bool resources_ample);

// Whether a worker under policy allows a MAIL FROM on listener without
// asking master: AnswerMailCheck would say kAllowed and count nothing.
bool AllowedWithoutAsking(const ipc::MailCheckPolicy& policy, const std::string& listener);

}  // namespace postern
