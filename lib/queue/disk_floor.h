// lib/queue/disk_floor.h — keeps the queue's writes above min_free_disk_space.
//
// master refuses new connections and MAIL FROM once the queue's file system
// has less than min_free_disk_space free, but messages already past MAIL
// keep streaming in: twenty of them can fill a small file system although
// each MAIL saw room. qmgr is the one process that writes the queue, and it
// knows every byte before it writes it, so the floor is kept there: before
// a piece of content joins the open batch (and before a message's envelope
// does), DiskFloor asks whether the bytes in flight (accepted by qmgr but
// not yet committed to disk: the open batch's chunks and the partial chunks
// of open streams) plus the new piece still leave min_free_disk_space free.
// When they do not, that one message is given up (452 4.3.1 at the end of
// its data; qmgr discards its content at once, so that its room serves the
// others) and the others go on. master's check at connect and MAIL stays
// the cheap early refusal; this is the floor itself, kept by the one writer
// that knows the bytes.
//
// Room is the file system's free space plus what the store can reuse
// without growing its file (pages LMDB freed when messages left the queue,
// QueueStore::ReusableBytes; qmgr commits early near the floor so that
// pages freed by the last commit become reusable):
// a queue that once grew near the floor and emptied again must not refuse
// every large message for ever. The free space is read at each question
// (one statvfs); the store's reusable figure only when the free space alone
// is not enough, and then once per commit, since only a commit changes it.
//
// The bytes in flight are charged what LMDB makes of them on disk
// (Footprint): a 128 KB chunk takes 33 pages of 4 KB, and a commit rewrites
// the B-tree pages above what it changed. So what the queue writes keeps
// the free space at or above the floor, but for what LMDB cannot fit into
// freed pages that are too scattered for a chunk (then its file grows
// although reusable pages were counted). Writers other than the queue
// (Maildir deliveries when mail_directory shares the file system, logs) are
// not held: the floor is the room kept for them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "lib/base/status.h"

namespace postern {

class DiskFloor {
 public:
  struct Probe {
    // Bytes available to the queue's file system now (statvfs f_bavail).
    std::function<Result<uint64_t>()> free_disk;
    // Bytes the store can reuse without growing (QueueStore::ReusableBytes).
    std::function<Result<uint64_t>()> reusable;
  };

  // LMDB's own pages charged to every commit: branch, leaf and free-list pages.
  static constexpr uint64_t kCommitOverhead = 64 * 1024;

  explicit DiskFloor(Probe probe) : probe_(std::move(probe)) {}

  // What `bytes` of content cost on disk: 1/16 more (a page header per
  // chunk of 32 pages, rounded up), plus kCommitOverhead.
  static uint64_t Footprint(uint64_t bytes);

  // ok when `more` bytes can join the `in_flight` bytes not yet on disk and
  // their Footprint still leaves `floor` bytes free; otherwise a resource-exhausted Status
  // that says what is short. A floor of 0 allows everything, and so does a
  // free-space reading that fails (logged; the store itself still refuses
  // what it cannot write).
  Status Admit(uint64_t floor, uint64_t in_flight, uint64_t more);
  // A commit happened: the store's reusable figure is read again when next needed.
  void Committed() { reusable_.reset(); }

 private:
  Probe probe_;
  std::optional<uint64_t> reusable_;
};

}  // namespace postern
