// lib/policy/resource_check.cc — see lib/policy/resource_check.h.
#include "lib/policy/resource_check.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "lib/base/log.h"

namespace postern {
namespace {

std::string Megabytes(uint64_t bytes) { return std::to_string(bytes >> 20) + " MB"; }

std::optional<std::string> Below(const char* what, uint64_t value, const char* key,
                                 uint64_t threshold) {
  if (threshold == 0 || value >= threshold) return std::nullopt;
  return std::string(what) + " " + Megabytes(value) + " is below " + key + " " +
         Megabytes(threshold);
}

Result<uint64_t> MemAvailable() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    std::istringstream fields(line);
    std::string name;
    uint64_t kilobytes = 0;
    if (fields >> name >> kilobytes && name == "MemAvailable:") return kilobytes * 1024;
  }
  return Status::Error("no MemAvailable line in /proc/meminfo");
}

// base + reusable - in_flight, at least 0 and without overflow.
uint64_t WithQueue(uint64_t base, const QueueSpace& q) {
  const uint64_t room = base + std::min(q.reusable, UINT64_MAX - base);
  return room > q.in_flight ? room - q.in_flight : 0;
}

std::string QueueNote(const QueueSpace& q) {
  if (q.reusable == 0 && q.in_flight == 0) return "";
  return " (with " + Megabytes(q.reusable) + " reusable in the queue, less " +
         Megabytes(q.in_flight) + " in flight)";
}

}  // namespace

std::string FormatQueueSpace(const QueueSpace& space) {
  return "reusable " + std::to_string(space.reusable) + "\nin_flight " +
         std::to_string(space.in_flight) + "\n";
}

std::optional<QueueSpace> ParseQueueSpace(std::string_view text) {
  QueueSpace space;
  std::istringstream in{std::string(text)};
  std::string reusable, in_flight, rest;
  if (!(in >> reusable >> space.reusable >> in_flight >> space.in_flight) || in >> rest ||
      reusable != "reusable" || in_flight != "in_flight")
    return std::nullopt;
  return space;
}

std::optional<std::string> ResourceShortage(const ResourceReadings& r, const Config& config) {
  if (auto s = Below("free disk space", WithQueue(r.free_disk, r.queue), "min_free_disk_space",
                     config.min_free_disk_space))
    return *s + QueueNote(r.queue);
  if (config.queue_map_size != 0) {
    uint64_t map_free =
        config.queue_map_size > r.queue_map_used ? config.queue_map_size - r.queue_map_used : 0;
    if (auto s = Below("free queue map space", WithQueue(map_free, r.queue), "min_queue_map_space",
                       config.min_queue_map_space))
      return *s + QueueNote(r.queue);
  }
  return Below("available memory", r.free_memory, "min_free_memory", config.min_free_memory);
}

Result<uint64_t> FreeDiskSpace(const std::string& path) {
  struct statvfs fs;
  if (statvfs(path.c_str(), &fs) != 0) return Status::FromErrno("statvfs " + path, errno);
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
}

Result<uint64_t> FileSystemSize(const std::string& path) {
  std::string at = path.empty() ? "." : path;
  struct statvfs fs;
  while (statvfs(at.c_str(), &fs) != 0) {
    size_t slash = at.find_last_of('/');
    if ((errno != ENOENT && errno != ENOTDIR) || at == "/" || at == ".")
      return Status::FromErrno("statvfs " + at, errno);
    at = slash == std::string::npos ? "." : slash == 0 ? "/" : at.substr(0, slash);
  }
  return static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize;
}

std::optional<std::string> DiskThresholdWarning(const Config& config, uint64_t file_system_size) {
  if (config.min_free_disk_space <= file_system_size) return std::nullopt;
  return "min_free_disk_space " + Megabytes(config.min_free_disk_space) + " is larger than the " +
         Megabytes(file_system_size) + " file system of state_directory " + config.state_directory +
         ": every connection and MAIL FROM will be refused with 452 " + "4.3.1";
}

Result<ResourceReadings> ReadResources(const Config& config) {
  ResourceReadings readings;
  Result<uint64_t> free_disk = FreeDiskSpace(config.state_directory);
  if (!free_disk.ok()) return free_disk.status();
  readings.free_disk = *free_disk;
  struct stat st;
  if (stat((config.state_directory + "/queue/data.mdb").c_str(), &st) == 0)
    readings.queue_map_used = static_cast<uint64_t>(st.st_size);
  Result<uint64_t> memory = MemAvailable();
  if (!memory.ok()) return memory.status();
  readings.free_memory = *memory;
  return readings;
}

std::optional<std::string> ResourceMonitor::Shortage(const Config& config) {
  TimePoint now = clock_->Now();
  if (!read_at_ || now - *read_at_ >= interval_) {
    read_at_ = now;
    Result<ResourceReadings> readings = reader_(config);
    if (readings.ok()) {
      readings_ = *readings;
    } else {
      LOG_WARNING("cannot read free resources: %s", readings.status().message().c_str());
      readings_.reset();
    }
  }
  if (!readings_) return std::nullopt;
  return ResourceShortage(*readings_, config);
}

ipc::MailVerdict AnswerMailCheck(ResourceMonitor& resources, RateLimiter& rates,
                                 const Config& config, const std::string& listener,
                                 const std::string& rate_key, TimePoint now,
                                 std::string* shortage) {
  if (std::optional<std::string> short_of = resources.Shortage(config)) {
    *shortage = std::move(*short_of);
    return ipc::MailVerdict::kInsufficientResources;
  }
  const ListenerConfig* found = config.FindListener(listener);
  uint32_t limit = found == nullptr ? 0 : found->message_rate_limit;
  return rates.Allow(rate_key, limit, now) ? ipc::MailVerdict::kAllowed
                                           : ipc::MailVerdict::kRateLimitExceeded;
}

ipc::MailCheckPolicy MailCheckPolicyFor(const Config& config, bool resources_ample) {
  ipc::MailCheckPolicy policy;
  policy.resources_ample = resources_ample;
  for (const ListenerConfig& listener : config.listeners)
    if (listener.message_rate_limit == 0) policy.unlimited_listeners.push_back(listener.name);
  return policy;
}

bool AllowedWithoutAsking(const ipc::MailCheckPolicy& policy, const std::string& listener) {
  return policy.resources_ample &&
         std::find(policy.unlimited_listeners.begin(), policy.unlimited_listeners.end(),
                   listener) != policy.unlimited_listeners.end();
}

}  // namespace postern
