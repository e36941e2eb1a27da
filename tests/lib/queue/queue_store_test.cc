// tests/lib/queue/queue_store_test.cc — the LMDB queue (lib/queue/queue_store.h).
//
// Every test works in its own temporary directory and checks what qmgr
// relies on: content comes back byte for byte in chunks of at most 128 KB,
// committed data survives a reopen, orphans go away, and a full map is a
// resource-exhausted failure after which the store still works.
#define BOOST_TEST_DYN_LINK
#include "lib/queue/queue_store.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "tests/lib/base/temp_dir.h"

namespace postern {
namespace {

std::string RandomBytes(size_t size, unsigned seed) {
  std::mt19937 generator(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(generator());
  return bytes;
}

Envelope MakeEnvelope(const std::string& id, uint64_t size) {
  Envelope e;
  e.queue_id = id;
  e.sender = "alice@example.test";
  e.recipients.push_back(Recipient{"bob@example.test", "", 0, RecipientState::kPending, ""});
  e.size = size;
  e.arrival_time = 1732960000;
  return e;
}

std::unique_ptr<QueueStore> OpenStore(const std::string& dir, uint64_t map_size = 64 << 20) {
  Result<std::unique_ptr<QueueStore>> store = QueueStore::Open(dir, map_size);
  BOOST_TEST_REQUIRE(store.ok(), store.status().message());
  return std::move(*store);
}

// Streams content through a ContentChunker in pieces of `piece` bytes, then
// puts the envelope, all in one batch.
Status PutMessage(QueueStore* store, const std::string& id, const std::string& content,
                  size_t piece = 65536) {
  Result<QueueStore::WriteBatch> batch = store->BeginBatch();
  if (!batch.ok()) return batch.status();
  ContentChunker chunker(id);
  for (size_t at = 0; at < content.size(); at += piece) {
    if (Status s = chunker.Append(&*batch, std::string_view(content).substr(at, piece)); !s.ok())
      return s;
  }
  if (Status s = chunker.Finish(&*batch); !s.ok()) return s;
  if (Status s = batch->PutEnvelope(MakeEnvelope(id, chunker.size())); !s.ok()) return s;
  return batch->Commit();
}

struct ReadBack {
  Status status;
  std::string content;
  std::vector<size_t> chunk_sizes;
};

ReadBack Read(const QueueStore& store, const std::string& id) {
  ReadBack r;
  r.status = store.ReadContent(id, [&r](std::string_view chunk) {
    r.content.append(chunk);
    r.chunk_sizes.push_back(chunk.size());
    return Status::Ok();
  });
  return r;
}

const char* const kIdA = "5F3A9C2B1D4E.1A2B.1";
const char* const kIdB = "5F3A9C2B1D4E.1A2B.2";
const char* const kIdC = "5F3A9C2B1D4E.1A2B.3";

BOOST_AUTO_TEST_SUITE(queue_store)

BOOST_AUTO_TEST_CASE(map_size_is_the_file_system_unless_queue_map_size_is_set) {
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  BOOST_TEST(QueueMapSize(0, 20 * kMiB) == 20 * kMiB);
  BOOST_TEST(QueueMapSize(0, 20 * kMiB + 1) == 21 * kMiB);  // whole MiB, rounded up
  BOOST_TEST(QueueMapSize(0, uint64_t{500} << 30) == uint64_t{500} << 30);
  BOOST_TEST(QueueMapSize(4 * kMiB, uint64_t{500} << 30) == 4 * kMiB);
  BOOST_TEST(QueueMapSize(0, 4096) == kMinimumQueueMapSize);
  BOOST_TEST(QueueMapSize(0, UINT64_MAX) == UINT64_MAX / kMiB * kMiB);
}

BOOST_AUTO_TEST_CASE(ten_megabyte_message_reads_back_in_128k_chunks) {
  TempDir dir("queue_store_test");
  auto store = OpenStore(dir.Join("queue"));
  std::string content = RandomBytes(10485760 + 7, 1);
  BOOST_TEST_REQUIRE(PutMessage(store.get(), kIdA, content, 100000).ok());
  ReadBack r = Read(*store, kIdA);
  BOOST_TEST_REQUIRE(r.status.ok(), r.status.message());
  BOOST_TEST((r.content == content));
  // 10485760 = 80 full chunks of 131072 bytes, then the 7 left over.
  BOOST_TEST_REQUIRE(r.chunk_sizes.size() == 81u);
  for (size_t i = 0; i < 80; ++i) BOOST_TEST(r.chunk_sizes[i] == 131072u);
  BOOST_TEST(r.chunk_sizes[80] == 7u);
}

// A relay streams content in pieces from any offset: each piece runs to
// the end of its chunk, and together they are the message.
BOOST_AUTO_TEST_CASE(pieces_from_any_offset_make_up_the_message) {
  TempDir dir("queue_store_test");
  auto store = OpenStore(dir.Join("queue"));
  std::string content = RandomBytes(2 * 131072 + 5, 2);
  BOOST_TEST_REQUIRE(PutMessage(store.get(), kIdA, content, 100000).ok());
  Result<std::string> middle = store->ReadPiece(kIdA, 131072 + 100);
  BOOST_TEST_REQUIRE(middle.ok(), middle.status().message());
  BOOST_TEST((*middle == content.substr(131072 + 100, 131072 - 100)));
  std::string joined;
  while (joined.size() < content.size()) {
    Result<std::string> piece = store->ReadPiece(kIdA, joined.size());
    BOOST_TEST_REQUIRE(piece.ok(), piece.status().message());
    BOOST_TEST_REQUIRE(!piece->empty());
    joined += *piece;
  }
  BOOST_TEST((joined == content));
  BOOST_TEST(!store->ReadPiece(kIdA, content.size()).ok());
  BOOST_TEST(!store->ReadPiece(kIdB, 0).ok());
  // A range across a chunk boundary, one cut by the end, one past the end.
  Result<std::string> across = store->ReadRange(kIdA, 131072 - 3, 10, content.size());
  BOOST_TEST_REQUIRE(across.ok(), across.status().message());
  BOOST_TEST((*across == content.substr(131072 - 3, 10)));
  Result<std::string> tail = store->ReadRange(kIdA, content.size() - 2, 100, content.size());
  BOOST_TEST_REQUIRE(tail.ok());
  BOOST_TEST((*tail == content.substr(content.size() - 2)));
  Result<std::string> past = store->ReadRange(kIdA, content.size() + 5, 100, content.size());
  BOOST_TEST_REQUIRE(past.ok());
  BOOST_TEST(past->empty());
}

BOOST_AUTO_TEST_CASE(empty_and_boundary_sizes_read_back_exactly) {
  TempDir dir("queue_store_test");
  auto store = OpenStore(dir.Join("queue"));
  const std::vector<std::pair<std::string, size_t>> cases = {
      {kIdA, 0}, {kIdB, 131072}, {kIdC, 131073}};
  for (const auto& [id, size] : cases)
    BOOST_TEST_REQUIRE(PutMessage(store.get(), id, RandomBytes(size, 2), 4096).ok());
  ReadBack empty = Read(*store, kIdA);
  BOOST_TEST_REQUIRE(empty.status.ok(), empty.status.message());
  BOOST_TEST(empty.content.empty());
  BOOST_TEST(empty.chunk_sizes.empty());
  ReadBack exact = Read(*store, kIdB);
  BOOST_TEST((exact.content == RandomBytes(131072, 2)));
  BOOST_TEST(exact.chunk_sizes.size() == 1u);
  ReadBack over = Read(*store, kIdC);
  BOOST_TEST((over.content == RandomBytes(131073, 2)));
  BOOST_TEST((over.chunk_sizes == std::vector<size_t>{131072, 1}));
}

BOOST_AUTO_TEST_CASE(committed_message_survives_reopen) {
  TempDir dir("queue_store_test");
  std::string content = "Subject: hi\r\n\r\nbody\r\n";
  {
    auto store = OpenStore(dir.Join("queue"));
    BOOST_TEST_REQUIRE(PutMessage(store.get(), kIdA, content).ok());
  }
  auto store = OpenStore(dir.Join("queue"));
  Result<std::optional<StoredMessage>> message = store->GetMessage(kIdA);
  BOOST_TEST_REQUIRE(message.ok(), message.status().message());
  BOOST_TEST_REQUIRE(message->has_value());
  BOOST_TEST(((*message)->envelope == MakeEnvelope(kIdA, content.size())));
  BOOST_TEST(Read(*store, kIdA).content == content);
}

BOOST_AUTO_TEST_CASE(uncommitted_batch_leaves_nothing) {
  TempDir dir("queue_store_test");
  auto store = OpenStore(dir.Join("queue"));
  {
    Result<QueueStore::WriteBatch> batch = store->BeginBatch();
    BOOST_TEST_REQUIRE(batch.ok());
    BOOST_TEST(batch->PutChunk(kIdA, 0, "abc").ok());
    BOOST_TEST(batch->PutEnvelope(MakeEnvelope(kIdA, 3)).ok());
  }
  Result<std::optional<StoredMessage>> message = store->GetMessage(kIdA);
  BOOST_TEST_REQUIRE(message.ok());
  BOOST_TEST(!message->has_value());
  Result<RecoveryReport> report = store->Recover();
  BOOST_TEST_REQUIRE(report.ok());
  BOOST_TEST(report->orphan_chunks == 0u);
}

BOOST_AUTO_TEST_CASE(list_is_in_id_order_with_hold_flags) {
  TempDir dir("queue_store_test");
  auto store = OpenStore(dir.Join("queue"));
  for (const char* id : {kIdC, kIdA, kIdB})
    BOOST_TEST_REQUIRE(PutMessage(store.get(), id, "x").ok());
  Result<QueueStore::WriteBatch> batch = store->BeginBatch();
  BOOST_TEST_REQUIRE(batch.ok());
  BOOST_TEST(batch->SetHold(kIdB, true).ok());
  BOOST_TEST_REQUIRE(batch->Commit().ok());
  Result<std::vector<StoredMessage>> list = store->ListMessages();
  BOOST_TEST_REQUIRE(list.ok(), list.status().message());
  BOOST_TEST_REQUIRE(list->size() == 3u);
  BOOST_TEST((*list)[0].envelope.queue_id == kIdA);
  BOOST_TEST((*list)[1].envelope.queue_id == kIdB);
  BOOST_TEST((*list)[2].envelope.queue_id == kIdC);
  BOOST_TEST(!(*list)[0].held);
  BOOST_TEST((*list)[1].held);
  BOOST_TEST(!(*list)[2].held);
}

BOOST_AUTO_TEST_CASE(delete_removes_envelope_content_and_hold) {
  TempDir dir("queue_store_test");
  auto store = OpenStore(dir.Join("queue"));
  BOOST_TEST_REQUIRE(PutMessage(store.get(), kIdA, RandomBytes(300000, 3)).ok());
  BOOST_TEST_REQUIRE(PutMessage(store.get(), kIdB, "keep").ok());
  {
    Result<QueueStore::WriteBatch> batch = store->BeginBatch();
    BOOST_TEST_REQUIRE(batch.ok());
    BOOST_TEST(batch->SetHold(kIdA, true).ok());
    BOOST_TEST(batch->DeleteMessage(kIdA).ok());
    BOOST_TEST(batch->DeleteMessage(kIdC).ok());  // absent: not an error
    BOOST_TEST_REQUIRE(batch->Commit().ok());
  }
  Result<std::vector<StoredMessage>> list = store->ListMessages();
  BOOST_TEST_REQUIRE(list.ok());
  BOOST_TEST_REQUIRE(list->size() == 1u);
  BOOST_TEST((*list)[0].envelope.queue_id == kIdB);
  ReadBack gone = Read(*store, kIdA);
  BOOST_TEST(!gone.status.ok());
  BOOST_TEST(gone.status.message().find(kIdA) != std::string::npos);
  // No chunk of the deleted message is left behind for recovery to find.
  Result<RecoveryReport> report = store->Recover();
  BOOST_TEST_REQUIRE(report.ok());
  BOOST_TEST(report->orphan_chunks == 0u);
  BOOST_TEST(Read(*store, kIdB).content == "keep");
}

BOOST_AUTO_TEST_CASE(recover_removes_chunks_without_envelope) {
  TempDir dir("queue_store_test");
  {
    auto store = OpenStore(dir.Join("queue"));
    // A stream interrupted after 300000 bytes: three chunks, no envelope.
    Result<QueueStore::WriteBatch> batch = store->BeginBatch();
    BOOST_TEST_REQUIRE(batch.ok());
    ContentChunker interrupted(kIdA);
    BOOST_TEST(interrupted.Append(&*batch, RandomBytes(300000, 4)).ok());
    BOOST_TEST(interrupted.Finish(&*batch).ok());
    BOOST_TEST_REQUIRE(batch->Commit().ok());
    BOOST_TEST_REQUIRE(PutMessage(store.get(), kIdB, "complete").ok());
  }
  auto store = OpenStore(dir.Join("queue"));
  Result<RecoveryReport> report = store->Recover();
  BOOST_TEST_REQUIRE(report.ok(), report.status().message());
  BOOST_TEST(report->orphan_messages == 1u);
  BOOST_TEST(report->orphan_chunks == 3u);
  BOOST_TEST(Read(*store, kIdB).content == "complete");
  Result<RecoveryReport> again = store->Recover();
  BOOST_TEST_REQUIRE(again.ok());
  BOOST_TEST(again->orphan_chunks == 0u);
}

BOOST_AUTO_TEST_CASE(missing_chunk_is_reported) {
  TempDir dir("queue_store_test");
  auto store = OpenStore(dir.Join("queue"));
  Result<QueueStore::WriteBatch> batch = store->BeginBatch();
  BOOST_TEST_REQUIRE(batch.ok());
  BOOST_TEST(batch->PutChunk(kIdA, 0, "ab").ok());
  BOOST_TEST(batch->PutChunk(kIdA, 2, "cd").ok());
  BOOST_TEST(batch->PutEnvelope(MakeEnvelope(kIdA, 4)).ok());
  BOOST_TEST_REQUIRE(batch->Commit().ok());
  ReadBack r = Read(*store, kIdA);
  BOOST_TEST(!r.status.ok());
  BOOST_TEST(r.status.message().find("chunk 1") != std::string::npos, r.status.message());
}

BOOST_AUTO_TEST_CASE(full_map_is_resource_exhausted_and_store_recovers) {
  TempDir dir("queue_store_test");
  auto store = OpenStore(dir.Join("queue"), 1 << 20);
  const std::string big = RandomBytes(200000, 5);
  std::vector<std::string> stored;
  Status failure;
  for (int i = 0; i < 20 && failure.ok(); ++i) {
    std::string id = "5F3A9C2B1D4E.1A2B." + std::to_string(100 + i);
    failure = PutMessage(store.get(), id, big);
    if (failure.ok()) stored.push_back(id);
  }
  BOOST_TEST_REQUIRE(!failure.ok(), "20 messages of 200000 bytes fit in a 1 MB map");
  BOOST_TEST(failure.is_resource_exhausted(), failure.message());
  BOOST_TEST(failure.message().find("MDB_MAP_FULL") != std::string::npos, failure.message());
  BOOST_TEST_REQUIRE(!stored.empty());
  // What was committed before is intact.
  for (const std::string& id : stored) BOOST_TEST((Read(*store, id).content == big));
  Result<std::vector<StoredMessage>> list = store->ListMessages();
  BOOST_TEST_REQUIRE(list.ok());
  BOOST_TEST(list->size() == stored.size());
  // Deleting makes room, and once the freed pages are released a write
  // succeeds again.
  Result<QueueStore::WriteBatch> batch = store->BeginBatch();
  BOOST_TEST_REQUIRE(batch.ok(), batch.status().message());
  BOOST_TEST(batch->DeleteMessage(stored.front()).ok());
  BOOST_TEST_REQUIRE(batch->Commit().ok());
  Status released = store->ReleaseFreedPages();
  BOOST_TEST_REQUIRE(released.ok(), released.message());
  Status retry = PutMessage(store.get(), kIdA, big);
  BOOST_TEST_REQUIRE(retry.ok(), retry.message());
  BOOST_TEST((Read(*store, kIdA).content == big));
}

// Holds the process's file size limit (RLIMIT_FSIZE) at `bytes` while it
// lives, with SIGXFSZ ignored: a write that crosses the limit is then short
// and the next one fails with EFBIG, as writes do on a file system that
// fills up.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    old_handler_ = signal(SIGXFSZ, SIG_IGN);
    rlimit limited = saved_;
    limited.rlim_cur = bytes;
    BOOST_TEST_REQUIRE(setrlimit(RLIMIT_FSIZE, &limited) == 0);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit saved_{};
  sighandler_t old_handler_ = SIG_DFL;
};

// Issue 8: a commit that meets a full file system failed with EIO (LMDB's
// word for a short write) and was answered 451 4.3.0; like ENOSPC it is a
// want of room (452 4.3.1), and the store stays usable.
BOOST_AUTO_TEST_CASE(short_write_of_a_full_disk_is_resource_exhausted) {
  TempDir dir("queue_store_test");
  auto store = OpenStore(dir.Join("queue"));
  BOOST_TEST_REQUIRE(PutMessage(store.get(), kIdA, "before the disk filled").ok());
  struct stat st;
  BOOST_TEST_REQUIRE(stat((dir.Join("queue") + "/data.mdb").c_str(), &st) == 0);
  const std::string big = RandomBytes(1 << 20, 7);
  Status failure;
  {
    FileSizeLimit full(static_cast<rlim_t>(st.st_size) + 100000);
    failure = PutMessage(store.get(), kIdB, big);
  }
  BOOST_TEST_REQUIRE(!failure.ok(), "1 MB written into 100 KB of room");
  BOOST_TEST(failure.is_resource_exhausted(), failure.message());
  // The log keeps the real error.
  BOOST_TEST((failure.message().find("Input/output error") != std::string::npos ||
              failure.message().find("File too large") != std::string::npos),
             failure.message());
  BOOST_TEST((Read(*store, kIdA).content == "before the disk filled"));
  Status retry = PutMessage(store.get(), kIdC, big);
  BOOST_TEST_REQUIRE(retry.ok(), retry.message());
  BOOST_TEST((Read(*store, kIdC).content == big));
}

// The disk floor (lib/queue/disk_floor.h) counts the pages a queue that grew and
// emptied again can fill without growing its file.
BOOST_AUTO_TEST_CASE(pages_freed_by_a_delete_become_reusable_after_one_more_commit) {
  TempDir dir("queue_store_test");
  auto store = OpenStore(dir.Join("queue"));
  Result<uint64_t> empty = store->ReusableBytes();
  BOOST_TEST_REQUIRE(empty.ok(), empty.status().message());
  BOOST_TEST(*empty < 64 * 1024u);
  BOOST_TEST_REQUIRE(PutMessage(store.get(), kIdA, RandomBytes(1 << 20, 8)).ok());
  BOOST_TEST_REQUIRE(PutMessage(store.get(), kIdB, "stays").ok());
  Result<QueueStore::WriteBatch> batch = store->BeginBatch();
  BOOST_TEST_REQUIRE(batch.ok());
  BOOST_TEST(batch->DeleteMessage(kIdA).ok());
  BOOST_TEST_REQUIRE(batch->Commit().ok());
  // Freed by the last commit: LMDB keeps them for the previous snapshot.
  Result<uint64_t> kept = store->ReusableBytes();
  BOOST_TEST_REQUIRE(kept.ok());
  BOOST_TEST(*kept < 64 * 1024u, *kept);
  BOOST_TEST_REQUIRE(store->ReleaseFreedPages().ok());
  Result<uint64_t> freed = store->ReusableBytes();
  BOOST_TEST_REQUIRE(freed.ok());
  BOOST_TEST(*freed >= uint64_t{1} << 20, *freed);
  BOOST_TEST(*freed < uint64_t{2} << 20, *freed);
}

// A delivery reading a message holds the pages freed after its snapshot;
// the reading says so, so that the disk floor does not keep it.
BOOST_AUTO_TEST_CASE(a_reader_holding_freed_pages_back_is_reported) {
  TempDir dir("queue_store_test");
  auto store = OpenStore(dir.Join("queue"));
  BOOST_TEST_REQUIRE(PutMessage(store.get(), kIdA, RandomBytes(1 << 20, 9)).ok());
  BOOST_TEST_REQUIRE(PutMessage(store.get(), kIdB, "stays").ok());
  bool held_back = true;
  BOOST_TEST_REQUIRE(store->ReusableBytes(&held_back).ok());
  BOOST_TEST(!held_back);
  uint64_t during = 0;
  Status read = store->ReadContent(kIdB, [&](std::string_view) {
    Result<QueueStore::WriteBatch> batch = store->BeginBatch();
    if (!batch.ok()) return batch.status();
    if (Status s = batch->DeleteMessage(kIdA); !s.ok()) return s;
    if (Status s = batch->Commit(); !s.ok()) return s;
    if (Status s = store->ReleaseFreedPages(); !s.ok()) return s;
    Result<uint64_t> reusable = store->ReusableBytes(&held_back);
    if (!reusable.ok()) return reusable.status();
    during = *reusable;
    return Status::Ok();
  });
  BOOST_TEST_REQUIRE(read.ok(), read.message());
  BOOST_TEST(held_back);
  BOOST_TEST(during < 64 * 1024u, during);
  Result<uint64_t> after = store->ReusableBytes(&held_back);
  BOOST_TEST_REQUIRE(after.ok());
  BOOST_TEST(!held_back);
  BOOST_TEST(*after >= uint64_t{1} << 20, *after);
}

BOOST_AUTO_TEST_CASE(failed_operation_poisons_the_batch) {
  TempDir dir("queue_store_test");
  auto store = OpenStore(dir.Join("queue"), 1 << 20);
  Result<QueueStore::WriteBatch> batch = store->BeginBatch();
  BOOST_TEST_REQUIRE(batch.ok());
  ContentChunker chunker(kIdA);
  Status fill = chunker.Append(&*batch, RandomBytes(2 << 20, 6));
  BOOST_TEST_REQUIRE(fill.is_resource_exhausted(), fill.message());
  Status after = batch->PutEnvelope(MakeEnvelope(kIdA, 1));
  BOOST_TEST(!after.ok());
  BOOST_TEST(after.is_resource_exhausted());
  BOOST_TEST(!batch->Commit().ok());
  BOOST_TEST(PutMessage(store.get(), kIdB, "small").ok());
  Result<RecoveryReport> report = store->Recover();
  BOOST_TEST_REQUIRE(report.ok());
  BOOST_TEST(report->orphan_chunks == 0u);
}

BOOST_AUTO_TEST_CASE(open_reports_the_path_that_failed) {
  Result<std::unique_ptr<QueueStore>> store =
      QueueStore::Open("/proc/no/such/dir/queue", kMinimumQueueMapSize);
  BOOST_TEST_REQUIRE(!store.ok());
  BOOST_TEST(store.status().message().find("/proc/no/such/dir/queue") != std::string::npos,
             store.status().message());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
