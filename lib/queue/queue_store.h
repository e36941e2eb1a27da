// lib/queue/queue_store.h — the durable mail queue: an LMDB environment.
//
// Owns the LMDB environment in a directory (state_directory/queue: data.mdb
// and lock.mdb) and its named databases:
//   envelopes  queue id -> Envelope::Encode() bytes; its presence is what
//              makes a message exist
//   content    queue id + big-endian u32 sequence -> one chunk of at most
//              kChunkSize bytes (large values would need contiguous pages
//              of the map; 128 KB chunks keep a 10 MB message cheap to write
//              and to stream back)
//   hold       queue id -> empty: the operator put the message on hold
//   meta       "checkpoint" -> u64: rewritten by ReleaseFreedPages()
// Only qmgr opens it. Never used for anything but the queue.
//
// Durability: a WriteBatch is one LMDB write transaction, and Commit() is
// mdb_txn_commit with LMDB's default sync behaviour: the data pages are
// flushed (fdatasync), then the meta page is written and flushed. When
// Commit() returns ok, everything in the batch survives a kill -9 and a power
// cut. MDB_NOSYNC + mdb_env_sync was rejected: it saves no flush (group
// commit already pays one commit for many messages) and without the ordered
// flushes a power cut during the sync can leave a meta page pointing at
// unwritten pages. A message becomes visible atomically: its envelope is put
// in the same transaction as its last chunk, so a reader never sees a
// message without all its content. Chunks whose queue id has no envelope
// are orphans (a stream that was aborted, or a crash mid-stream) and are
// removed by Recover().
//
// Failures: running out of space (MDB_MAP_FULL, ENOSPC, EDQUOT, EFBIG, a
// transaction with too many dirty pages, and EIO, which is how LMDB reports
// the short write of a file system that fills during a commit) gives a
// Status with is_resource_exhausted() set, which qmgr answers with 452
// 4.3.1; the message keeps the error's own text for the log. A failed
// operation poisons its batch: every later operation and Commit() return
// the same failure and nothing of the batch is kept; what earlier batches
// committed is untouched and the store stays usable. Space freed by a
// commit (a delete) becomes reusable only after one more commit, because
// LMDB keeps the previous snapshot intact for crash safety; on a full map
// every batch may fail, so no commit would ever come: ReleaseFreedPages()
// is that commit.
//
// Threads: the read functions may be called from any thread at any time
// (each uses its own read transaction; MDB_NOTLS). At most one WriteBatch
// is open at a time; BeginBatch() blocks while another thread holds one.
// A WriteBatch is used by the thread that began it, and that thread calls
// nothing else that writes (Recover, ReleaseFreedPages) while it is open:
// LMDB would wait for itself.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"
#include "lib/queue/envelope.h"

namespace postern {

// A message's content is stored in pieces of this size (the last one shorter).
constexpr size_t kChunkSize = 128 * 1024;
// The smallest map postern opens the queue with.
constexpr uint64_t kMinimumQueueMapSize = uint64_t{1} << 20;

// The size of the queue's LMDB map: queue_map_size (configured) when it is
// set; otherwise the size of the file system that holds the queue, so that
// the queue can grow until min_free_disk_space stops it rather than at a
// fixed size. Rounded up to a whole MiB (LMDB wants a multiple of the page
// size), and at least kMinimumQueueMapSize.
uint64_t QueueMapSize(uint64_t configured, uint64_t file_system_size);

struct StoredMessage {
  Envelope envelope;
  bool held = false;
};

struct RecoveryReport {
  size_t orphan_messages = 0;  // distinct queue ids whose chunks were removed
  size_t orphan_chunks = 0;
};

// Receives content chunk by chunk. The bytes are valid only during the call.
using ChunkSink = std::function<Status(std::string_view chunk)>;

struct MdbEnvDeleter {
  void operator()(MDB_env* env) const { mdb_env_close(env); }
};

class QueueStore {
 public:
  // One write transaction. Destroying it without Commit() discards it.
  class WriteBatch {
   public:
    WriteBatch(WriteBatch&& other) noexcept;
    WriteBatch& operator=(WriteBatch&&) = delete;
    ~WriteBatch();

    // Stores chunk `sequence` (0, 1, 2, ...) of a message; at most kChunkSize bytes.
    Status PutChunk(std::string_view queue_id, uint32_t sequence, std::string_view bytes);
    // Adds or replaces a message's envelope (also how recipient states change).
    Status PutEnvelope(const Envelope& envelope);
    // The envelope as this batch sees it (including its own changes); nullopt
    // when there is no such message.
    Result<std::optional<Envelope>> GetEnvelope(std::string_view queue_id);
    Status SetHold(std::string_view queue_id, bool held);
    // Removes the envelope, every chunk and the hold flag. Removing a message
    // that does not exist is not an error.
    Status DeleteMessage(std::string_view queue_id);
    // Removes only the chunks: for a stream that will never get its envelope.
    Status DeleteContent(std::string_view queue_id);

    // Syncs the batch to disk. Afterwards the batch is spent, whatever the result.
    Status Commit();
    // Bytes of chunk data put in this batch: a caller commits when it grows large.
    uint64_t chunk_bytes() const { return chunk_bytes_; }

   private:
    friend class QueueStore;
    WriteBatch(const QueueStore* store, MDB_txn* txn) : store_(store), txn_(txn) {}
    Status Check(int rc, const std::string& what);
    Status DeleteChunks(std::string_view queue_id);

    const QueueStore* store_;
    MDB_txn* txn_;
    Status failure_;  // the first failure; the transaction is then unusable
    uint64_t chunk_bytes_ = 0;
  };

  // Opens (creating when missing, mode 0700/0600) the environment in
  // `directory` with a map of map_size bytes (QueueMapSize). Clears reader slots
  // left by a process that died (kill -9) so they do not pin old pages.
  static Result<std::unique_ptr<QueueStore>> Open(const std::string& directory, uint64_t map_size);

  QueueStore(const QueueStore&) = delete;
  QueueStore& operator=(const QueueStore&) = delete;

  Result<WriteBatch> BeginBatch();

  // Removes orphan chunks (see the top of this file). Call at start-up,
  // before any stream is accepted.
  Result<RecoveryReport> Recover();
  // Commits a transaction that rewrites only a marker, so that the pages
  // freed by the last commit can be reused by the next batch. Call after
  // deleting to make room, and after a batch failed for want of space.
  Status ReleaseFreedPages();

  // Bytes the store can fill without growing its file: the pages on LMDB's
  // free list, less those freed by the last commit (reusable only after the
  // next one) and those a reader's snapshot still holds, counted only in
  // whole runs of contiguous pages long enough for a 128 KB chunk (which
  // is what the queue stores; single pages for the B-tree are not counted). Walks the free list
  // in a read transaction: call it when the figure matters, not per write.
  // *held_back (when given) is set when a reader's snapshot (a delivery
  // reading a message) holds freed pages back: the figure grows when it
  // ends, without a commit, so a caller must not keep it.
  Result<uint64_t> ReusableBytes(bool* held_back = nullptr) const;

  // Fault injection for tests: fault is asked before every commit (a
  // batch's, ReleaseFreedPages()'s) and may return an errno (ENOSPC, EIO,
  // ...) that fails this commit as if LMDB had returned it: the transaction
  // is aborted and the Status is the one LMDB's own error would give. 0 lets
  // the commit run. Nothing but tests sets it; an empty function clears it.
  using CommitFault = std::function<int()>;
  void SetCommitFault(CommitFault fault) { commit_fault_ = std::move(fault); }

  // Every message, in queue id order.
  Result<std::vector<StoredMessage>> ListMessages() const;
  // One message, or nullopt when it does not exist.
  Result<std::optional<StoredMessage>> GetMessage(std::string_view queue_id) const;
  // Streams a message's content, in order, to sink within one read
  // transaction. Fails if the message does not exist, if a chunk is missing,
  // or if the content's length differs from the envelope's size; a sink
  // failure stops the read and is returned as is.
  Status ReadContent(std::string_view queue_id, const ChunkSink& sink) const;
  // The content from offset to the end of the chunk that holds it (1 to
  // kChunkSize bytes): a piece for a sender that streams a message without
  // holding it whole (the relay's). Fails when offset is not before the end
  // of the content, or the message is gone.
  Result<std::string> ReadPiece(std::string_view queue_id, uint64_t offset) const;
  // Up to length bytes of the content from offset on, no further than size
  // (the envelope's), read a chunk at a time with ReadPiece(): a page of
  // `postern queue show --body`, the part of a message a DSN returns.
  Result<std::string> ReadRange(std::string_view queue_id, uint64_t offset, uint64_t length,
                                uint64_t size) const;

  const std::string& directory() const { return directory_; }

 private:
  QueueStore(std::string directory, MDB_env* env) : directory_(std::move(directory)), env_(env) {}
  Status Describe(int rc, const std::string& what) const;
  Result<Envelope> DecodeEnvelope(std::string_view queue_id, const MDB_val& value) const;
  Result<MDB_txn*> BeginRead() const;

  std::string directory_;
  std::unique_ptr<MDB_env, MdbEnvDeleter> env_;
  MDB_dbi envelopes_ = 0;
  MDB_dbi content_ = 0;
  MDB_dbi hold_ = 0;
  MDB_dbi meta_ = 0;
  uint64_t checkpoints_ = 0;
  CommitFault commit_fault_;
};

// Cuts one message's content into kChunkSize chunks as it streams in, so at
// most one partial chunk of it is held in memory. A message may span
// batches: each call names the batch that receives the chunks it completes.
// After a failed batch the chunker is out of step with the store; the
// message must then be given up.
class ContentChunker {
 public:
  explicit ContentChunker(std::string queue_id) : queue_id_(std::move(queue_id)) {}
  // Appends bytes, storing every chunk that becomes full.
  Status Append(QueueStore::WriteBatch* batch, std::string_view bytes);
  // Stores the last partial chunk; the content is then complete.
  Status Finish(QueueStore::WriteBatch* batch);
  uint64_t size() const { return size_; }
  // Bytes appended but not yet stored (less than kChunkSize; 0 after Finish).
  uint64_t pending_bytes() const { return pending_.size(); }
  // Forgets the bytes not yet stored: the message is given up.
  void DropPending() { std::string().swap(pending_); }
  const std::string& queue_id() const { return queue_id_; }

 private:
  Status Store(QueueStore::WriteBatch* batch, std::string_view chunk);

  std::string queue_id_;
  std::string pending_;
  uint32_t next_sequence_ = 0;
  uint64_t size_ = 0;
};

}  // namespace postern
