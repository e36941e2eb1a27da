// lib/queue/disk_floor.cc — see lib/queue/disk_floor.h.
#include "lib/queue/disk_floor.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "lib/base/log.h"

namespace postern {
namespace {

std::string Kilobytes(uint64_t bytes) { return std::to_string(bytes >> 10) + " KB"; }

// room - floor >= need, without overflow.
bool Leaves(uint64_t room, uint64_t floor, uint64_t need) {
  return room >= floor && room - floor >= need;
}

}  // namespace

uint64_t DiskFloor::Footprint(uint64_t bytes) {
  if (bytes > UINT64_MAX / 2) return UINT64_MAX;
  return bytes + bytes / 16 + kCommitOverhead;
}

Status DiskFloor::Admit(uint64_t floor, uint64_t in_flight, uint64_t more, uint64_t* shortfall) {
  if (shortfall != nullptr) *shortfall = 0;
  if (floor == 0) return Status::Ok();
  const uint64_t need = Footprint(in_flight > UINT64_MAX - more ? UINT64_MAX : in_flight + more);
  Result<uint64_t> free = FreeDisk(floor, in_flight, need);
  if (!free.ok()) {
    LOG_WARNING("cannot read the queue's free disk space: %s", free.status().message().c_str());
    return Status::Ok();
  }
  if (Leaves(*free, floor, need)) {
    if (reading_) reading_->unwritten += std::min(more, UINT64_MAX - reading_->unwritten);
    return Status::Ok();
  }
  const uint64_t reusable = Reusable();
  const uint64_t room = *free + std::min(reusable, UINT64_MAX - *free);
  if (Leaves(room, floor, need)) return Status::Ok();
  if (shortfall != nullptr)
    *shortfall = room < floor ? std::min(need, UINT64_MAX - (floor - room)) + (floor - room)
                              : need - (room - floor);
  return Status::ResourceExhausted(
      "free disk space " + Kilobytes(*free) + " (and " + Kilobytes(reusable) +
      " reusable in the queue) less " + Kilobytes(need) +
      " for the messages in flight would fall below min_free_disk_space " + Kilobytes(floor));
}

Result<uint64_t> DiskFloor::FreeDisk(uint64_t floor, uint64_t in_flight, uint64_t need) {
  const TimePoint now = clock_->Now();
  if (reading_ && now - reading_->at < kReadingFreshFor) {
    const uint64_t written = Footprint(reading_->unwritten);
    const uint64_t left = reading_->free - std::min(written, reading_->free);
    if (Leaves(left, floor, need) && left - floor - need >= kReadingSlack) return left;
  }
  reading_.reset();
  Result<uint64_t> free = probe_.free_disk();
  if (free.ok()) reading_ = Reading{*free, now, in_flight};
  return free;
}

uint64_t DiskFloor::Reusable() {
  if (reusable_) return *reusable_;
  held_back_ = false;
  Result<uint64_t> reusable = probe_.reusable(&held_back_);
  if (!reusable.ok()) {
    LOG_WARNING("cannot read the queue's reusable space: %s", reusable.status().message().c_str());
    return 0;
  }
  if (!held_back_) reusable_ = *reusable;
  return *reusable;
}

std::vector<uint64_t> StreamsToGiveUp(const std::vector<HeldStream>& oldest_first,
                                      uint64_t requester, uint64_t shortfall) {
  std::vector<uint64_t> chosen;
  uint64_t covered = 0;
  for (auto it = oldest_first.rbegin(); it != oldest_first.rend() && it->id != requester; ++it) {
    if (it->bytes == 0) continue;
    chosen.push_back(it->id);
    covered += std::min(it->bytes, UINT64_MAX - covered);
    if (covered >= shortfall) return chosen;
  }
  return {};
}

}  // namespace postern
