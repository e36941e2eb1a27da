// lib/queue/disk_floor.h — keeps the queue's writes above min_free_disk_space.
//
// master refuses new connections and MAIL FROM once the queue has less than
// min_free_disk_space of room, but messages already past MAIL keep
// streaming in: twenty of them can fill a small file system although each
// MAIL saw room. qmgr is the one process that writes the queue, and it
// knows every byte before it writes it, so the floor is kept there: before
// a piece of content joins the open batch (and before a message's envelope
// does), DiskFloor asks whether the bytes in flight (accepted by qmgr but
// not yet committed to disk: the open batch's chunks and the partial chunks
// of open streams) plus the new piece still leave min_free_disk_space free.
//
// When they do not, the oldest messages win (StreamsToGiveUp): the
// youngest open streams that hold bytes, younger than the one asking, are
// given up, youngest first, until the bytes they hold cover what is short;
// when even all of them cannot cover it, the stream asking is given up
// itself. A stream given up is answered 452 4.3.1 at the end of its data,
// and qmgr discards its content at once so that its room serves the
// others. Without this rule a lock-step burst (every stream's next piece
// meeting the same reading) gave each stream up in turn before any
// completed, and could refuse every message although the room would hold
// several. master's check at connect and MAIL stays the cheap early
// refusal (it asks qmgr for Space(), see lib/policy/resource_check.h); this is
// the floor itself, kept by the one writer that knows the bytes.
//
// Room is the file system's free space plus what the store can reuse
// without growing its file (pages LMDB freed when messages left the queue,
// QueueStore::ReusableBytes; qmgr commits early near the floor so that
// pages freed by the last commit become reusable): a queue that once grew
// near the floor and emptied again must not refuse every large message for
// ever. The free space is read with one statvfs, at each question near the
// floor; far from it, a reading serves the questions of the next
// kReadingFreshFor, less everything admitted since (every message asks
// for its envelope and each piece of content: two statvfs for a 1 KB
// message were a tenth of qmgr's system calls). A
// kept reading answers only when it leaves kReadingSlack above the floor
// and what is asked: the room other writers (Maildir deliveries, logs) may
// take in the meantime without the queue seeing it. The store's reusable
// figure is read only when the free space alone is not enough (or master
// asks), and then once per commit, since only a commit changes it, unless a
// reader's snapshot held pages back (then it is read again next time).
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
#include <vector>

#include "lib/base/clock.h"
#include "lib/base/status.h"

namespace postern {

class DiskFloor {
 public:
  struct Probe {
    // Bytes available to the queue's file system now (statvfs f_bavail).
    std::function<Result<uint64_t>()> free_disk;
    // Bytes the store can reuse without growing (QueueStore::ReusableBytes);
    // *held_back set when a reader held some back for a moment.
    std::function<Result<uint64_t>(bool* held_back)> reusable;
  };

  // LMDB's own pages charged to every commit: branch, leaf and free-list pages.
  static constexpr uint64_t kCommitOverhead = 64 * 1024;
  // How long a free-space reading far from the floor is kept, and how far
  // from it the reading must be.
  static constexpr Duration kReadingFreshFor = Duration(100);
  static constexpr uint64_t kReadingSlack = 256ull << 20;

  DiskFloor(Probe probe, const Clock* clock) : probe_(std::move(probe)), clock_(clock) {}

  // What `bytes` of content cost on disk: 1/16 more (a page header per
  // chunk of 32 pages, rounded up), plus kCommitOverhead.
  static uint64_t Footprint(uint64_t bytes);

  // ok when `more` bytes can join the `in_flight` bytes not yet on disk and
  // their Footprint still leaves `floor` bytes free; otherwise a
  // resource-exhausted Status that says what is short, and *shortfall (when
  // given) is set to how many bytes are missing (0 when ok). A floor of 0
  // allows everything, and so does a free-space reading that fails (logged;
  // the store itself still refuses what it cannot write).
  Status Admit(uint64_t floor, uint64_t in_flight, uint64_t more, uint64_t* shortfall = nullptr);
  // The store's reusable figure, read at most once per commit (0 when the
  // reading fails, logged). A reading that a reader's snapshot held back is
  // not kept: the delivery reading a message ends soon, and a figure kept
  // until the next commit would refuse messages (and make master refuse
  // connections) in an idle, empty queue.
  uint64_t Reusable();
  // The last reading of the reusable figure was held back by a reader: pages
  // freed lately (streams just given up) do not count as room yet.
  bool held_back() const { return held_back_; }
  // A commit happened: the store's reusable figure is read again when next needed.
  void Committed() { reusable_.reset(); }

 private:
  // A fresh statvfs reading, or what the last one leaves once the bytes
  // admitted since are charged to it; in_flight has what Admit knows is
  // not yet on disk.
  Result<uint64_t> FreeDisk(uint64_t floor, uint64_t in_flight, uint64_t need);

  struct Reading {
    uint64_t free = 0;
    TimePoint at;
    uint64_t unwritten = 0;  // in flight at the reading, and admitted since
  };

  Probe probe_;
  const Clock* clock_;
  std::optional<Reading> reading_;
  std::optional<uint64_t> reusable_;
  bool held_back_ = false;
};

// An open stream as StreamsToGiveUp sees it: what it has stored so far
// (content bytes appended, in flight or committed; all of it comes free when
// the stream is given up). `id` is the caller's.
struct HeldStream {
  uint64_t id = 0;
  uint64_t bytes = 0;
};

// The oldest messages win: which of the streams `oldest_first` (every open
// stream, in the order they began) to give up so that `shortfall` bytes
// come free for the stream `requester`. The streams younger than the
// requester that hold bytes, youngest first, until the bytes they hold
// cover the shortfall (their pages come free with one or two commits). Empty when the requester is
// the youngest holding bytes, or when all those younger cannot cover the shortfall: then the
// requester is the one given up (giving up the others would not save it).
std::vector<uint64_t> StreamsToGiveUp(const std::vector<HeldStream>& oldest_first,
                                      uint64_t requester, uint64_t shortfall);

}  // namespace postern
