// tests/lib/queue/disk_floor_test.cc — qmgr's floor of free disk space (lib/queue/disk_floor.h),
// driven with made-up readings.
#define BOOST_TEST_DYN_LINK
#include "lib/queue/disk_floor.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace postern {
namespace {

constexpr uint64_t kMB = 1 << 20;

struct Readings {
  uint64_t free_disk = 0;
  uint64_t reusable = 0;
  bool fail_free_disk = false;
  bool held_back = false;
  int reusable_reads = 0;
  int free_disk_reads = 0;
  FakeClock clock{WallTime{}};

  DiskFloor Floor() {
    return DiskFloor(DiskFloor::Probe{[this]() -> Result<uint64_t> {
                                        ++free_disk_reads;
                                        if (fail_free_disk)
                                          return Status::Error("statvfs: no such file");
                                        return free_disk;
                                      },
                                      [this](bool* held) -> Result<uint64_t> {
                                        ++reusable_reads;
                                        *held = held_back;
                                        return reusable;
                                      }},
                     &clock);
  }
};

BOOST_AUTO_TEST_SUITE(disk_floor)

constexpr uint64_t kKB = 1024;

BOOST_AUTO_TEST_CASE(content_is_charged_what_lmdb_makes_of_it) {
  // 32 pages of content take 33 (a chunk of 128 KB and its page header,
  // rounded up), and each commit rewrites some B-tree pages.
  BOOST_TEST(DiskFloor::Footprint(0) == 64 * kKB);
  BOOST_TEST(DiskFloor::Footprint(16 * kMB) == 17 * kMB + 64 * kKB);
  BOOST_TEST(DiskFloor::Footprint(UINT64_MAX - 1) == UINT64_MAX);
}

// Issue 8: twenty messages past MAIL filled a 20 MB file system. What is in
// flight counts against the floor, not only what is on disk.
BOOST_AUTO_TEST_CASE(bytes_in_flight_count_against_the_floor) {
  Readings r{.free_disk = 20 * kMB};
  DiskFloor floor = r.Floor();
  // 20 MB free, floor 8 MB: 12 MB of room, which 11 MB of content and its
  // overhead (11 MB + 704 KB + 64 KB) fit and 11.5 MB do not.
  BOOST_TEST(floor.Admit(8 * kMB, 10 * kMB, kMB).ok());
  Status refused = floor.Admit(8 * kMB, 11 * kMB, 512 * kKB);
  BOOST_TEST(!refused.ok());
  BOOST_TEST(refused.is_resource_exhausted());
  BOOST_TEST(refused.message() ==
                 "free disk space 20480 KB (and 0 KB reusable in the queue) less 12576 KB for the "
                 "messages in flight would fall below min_free_disk_space 8192 KB",
             refused.message());
  // Under the floor already, nothing more goes in.
  r.free_disk = 7 * kMB;
  BOOST_TEST(!floor.Admit(8 * kMB, 0, 1).ok());
}

BOOST_AUTO_TEST_CASE(space_the_queue_can_reuse_counts_as_room) {
  // A queue that grew and emptied again holds freed pages: without them a
  // large message would be refused for ever.
  Readings r{.free_disk = 9 * kMB, .reusable = 32 * kMB};
  DiskFloor floor = r.Floor();
  BOOST_TEST(floor.Admit(8 * kMB, 0, 16 * kMB).ok());              // 17 MB + 64 KB of 33 MB
  BOOST_TEST(floor.Admit(8 * kMB, 16 * kMB, 14 * kMB).ok());       // 31 MB + 1984 KB
  BOOST_TEST(floor.Admit(8 * kMB, 16 * kMB, 15 * kMB).ok());       // exactly 33 MB
  BOOST_TEST(!floor.Admit(8 * kMB, 16 * kMB, 15 * kMB + 1).ok());  // a byte more
}

BOOST_AUTO_TEST_CASE(reusable_space_is_read_only_when_needed_and_once_per_commit) {
  Readings r{.free_disk = 100 * kMB, .reusable = 20 * kMB};
  DiskFloor floor = r.Floor();
  for (int i = 0; i < 10; ++i) BOOST_TEST(floor.Admit(8 * kMB, 0, kMB).ok());
  BOOST_TEST(r.reusable_reads == 0);
  // 80 MB cost 85 MB + 64 KB: the free space alone holds them.
  BOOST_TEST(floor.Admit(8 * kMB, 79 * kMB, kMB).ok());
  BOOST_TEST(r.reusable_reads == 0);
  // Near the floor the reusable space is read, then kept until the next commit.
  BOOST_TEST(floor.Admit(8 * kMB, 95 * kMB, kMB).ok());  // 102 MB + 64 KB of 112 MB
  BOOST_TEST(floor.Admit(8 * kMB, 96 * kMB, kMB).ok());
  BOOST_TEST(r.reusable_reads == 1);
  r.reusable = 0;
  BOOST_TEST(floor.Admit(8 * kMB, 97 * kMB, kMB).ok());  // still the old figure
  floor.Committed();
  BOOST_TEST(!floor.Admit(8 * kMB, 97 * kMB, kMB).ok());
  BOOST_TEST(r.reusable_reads == 2);
}

// Issue 8: a reading taken while a delivery read a message was kept until
// the next commit; in an idle, emptied queue none came, and large messages
// (and, through master, every connection) stayed refused.
BOOST_AUTO_TEST_CASE(a_reusable_figure_held_back_by_a_reader_is_not_kept) {
  Readings r{.free_disk = 9 * kMB, .reusable = 0, .held_back = true};
  DiskFloor floor = r.Floor();
  BOOST_TEST(!floor.Admit(8 * kMB, 0, 4 * kMB).ok());
  BOOST_TEST(floor.held_back());
  r.reusable = 16 * kMB;  // the reader ended
  r.held_back = false;
  BOOST_TEST(floor.Admit(8 * kMB, 0, 4 * kMB).ok());
  BOOST_TEST(!floor.held_back());
  BOOST_TEST(r.reusable_reads == 2);
  BOOST_TEST(floor.Admit(8 * kMB, 0, 4 * kMB).ok());
  BOOST_TEST(r.reusable_reads == 2);  // kept now, until the next commit
}

// Far from the floor one statvfs serves kReadingFreshFor, less what was
// admitted since; near it (within kReadingSlack), every question reads.
BOOST_AUTO_TEST_CASE(a_reading_far_from_the_floor_is_kept_for_a_moment) {
  constexpr uint64_t kGB = 1024 * kMB;
  Readings r{.free_disk = 10 * kGB};
  DiskFloor floor = r.Floor();
  for (int i = 0; i < 100; ++i) BOOST_TEST(floor.Admit(kGB, 0, 100 * kKB).ok());
  BOOST_TEST(r.free_disk_reads == 1);
  // Another writer took most of the disk: seen once the reading is stale.
  r.free_disk = kGB + 10 * kMB;
  r.clock.Advance(DiskFloor::kReadingFreshFor);
  BOOST_TEST(!floor.Admit(kGB, 0, 100 * kMB).ok());
  BOOST_TEST(r.free_disk_reads == 2);
  // Near the floor, every question reads again, fresh or not.
  BOOST_TEST(floor.Admit(kGB, 0, kMB).ok());
  BOOST_TEST(floor.Admit(kGB, 0, kMB).ok());
  BOOST_TEST(r.free_disk_reads == 4);
  // What was admitted since a reading counts against it: of 6 GB free, five
  // steps of 1 GB fit the reading; the sixth does not, and reads again.
  r.free_disk = 6 * kGB;
  r.clock.Advance(DiskFloor::kReadingFreshFor);
  for (int i = 0; i < 5; ++i) BOOST_TEST(floor.Admit(kMB, 0, kGB).ok());
  BOOST_TEST(r.free_disk_reads == 5);
  r.free_disk = kGB;  // what the queue wrote, seen by the next reading
  BOOST_TEST(!floor.Admit(kMB, 0, kGB).ok());
  BOOST_TEST(r.free_disk_reads == 6);
  // A failed reading is not kept.
  r.clock.Advance(DiskFloor::kReadingFreshFor);
  r.fail_free_disk = true;
  BOOST_TEST(floor.Admit(kGB, 0, 1).ok());
  r.fail_free_disk = false;
  r.free_disk = 10 * kGB;
  BOOST_TEST(floor.Admit(kGB, 0, 1).ok());
  BOOST_TEST(r.free_disk_reads == 8);
}

BOOST_AUTO_TEST_CASE(zero_or_an_unreadable_disk_refuses_nothing) {
  Readings r{.free_disk = 0};
  DiskFloor floor = r.Floor();
  BOOST_TEST(floor.Admit(0, 100 * kMB, 100 * kMB).ok());
  r.fail_free_disk = true;
  BOOST_TEST(floor.Admit(8 * kMB, 100 * kMB, 100 * kMB).ok());
}

BOOST_AUTO_TEST_CASE(huge_figures_do_not_wrap) {
  Readings r{.free_disk = UINT64_MAX - 1, .reusable = UINT64_MAX - 1};
  DiskFloor floor = r.Floor();
  const uint64_t highest = UINT64_MAX - DiskFloor::kCommitOverhead;
  BOOST_TEST(floor.Admit(highest, 0, 0).ok());
  BOOST_TEST(!floor.Admit(highest, 0, 1).ok());
  BOOST_TEST(!floor.Admit(8 * kMB, UINT64_MAX, UINT64_MAX).ok());
}

BOOST_AUTO_TEST_CASE(a_refusal_says_how_many_bytes_are_short) {
  Readings r{.free_disk = 10 * kMB, .reusable = 2 * kMB};
  DiskFloor floor = r.Floor();
  uint64_t shortfall = 99;
  // 12 MB of room, floor 8 MB: 4 MB above it. 3 MB in flight and 1 MB more
  // cost 4 MB + 256 KB + 64 KB: 320 KB short.
  BOOST_TEST(!floor.Admit(8 * kMB, 3 * kMB, kMB, &shortfall).ok());
  BOOST_TEST(shortfall == 320 * kKB);
  BOOST_TEST(floor.Admit(8 * kMB, 0, kMB, &shortfall).ok());
  BOOST_TEST(shortfall == 0);
  // Below the floor already: the distance to it counts too.
  r.free_disk = 5 * kMB;
  floor.Committed();
  BOOST_TEST(!floor.Admit(8 * kMB, 0, 0, &shortfall).ok());
  BOOST_TEST(shortfall == kMB + 64 * kKB);
  BOOST_TEST(floor.Reusable() == 2 * kMB);
}

// Issue 8: 24 messages streaming in lock-step near the floor were each
// given up in turn, and none was accepted. The oldest win now.
BOOST_AUTO_TEST_CASE(the_youngest_streams_holding_bytes_are_given_up_first) {
  // Streams 1..5 in the order they began; 4 has sent nothing yet.
  const std::vector<HeldStream> open = {{1, kMB}, {2, kMB}, {3, 512 * kKB}, {4, 0}, {5, 256 * kKB}};
  using Ids = std::vector<uint64_t>;
  BOOST_TEST(StreamsToGiveUp(open, 1, 200 * kKB) == Ids({5}));
  BOOST_TEST(StreamsToGiveUp(open, 1, 256 * kKB) == Ids({5}));
  BOOST_TEST(StreamsToGiveUp(open, 1, 256 * kKB + 1) == Ids({5, 3}));
  BOOST_TEST(StreamsToGiveUp(open, 1, 1792 * kKB) == Ids({5, 3, 2}));
  // Only younger streams: 2 may give up 3 and 5, never 1.
  BOOST_TEST(StreamsToGiveUp(open, 2, 700 * kKB) == Ids({5, 3}));
}

BOOST_AUTO_TEST_CASE(the_youngest_stream_or_one_that_others_cannot_save_is_refused_itself) {
  const std::vector<HeldStream> open = {{1, kMB}, {2, kMB}, {3, 512 * kKB}, {4, 0}};
  // 3 is the youngest holding bytes (4 holds none): nobody to give up for it.
  BOOST_TEST(StreamsToGiveUp(open, 3, 1).empty());
  BOOST_TEST(StreamsToGiveUp(open, 4, 1).empty());
  // The streams younger than 2 hold 512 KB: not enough for 1 MB, so giving
  // them up would not save 2; 2 is refused and they go on.
  BOOST_TEST(StreamsToGiveUp(open, 2, kMB).empty());
  BOOST_TEST(StreamsToGiveUp({}, 1, 1).empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
