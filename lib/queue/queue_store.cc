// lib/queue/queue_store.cc — the LMDB queue of lib/queue/queue_store.h.
#include "lib/queue/queue_store.h"

#include <errno.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>

#include "lib/base/log.h"

namespace postern {
namespace {

struct TxnAborter {
  void operator()(MDB_txn* txn) const { mdb_txn_abort(txn); }
};
using TxnPtr = std::unique_ptr<MDB_txn, TxnAborter>;

struct CursorCloser {
  void operator()(MDB_cursor* cursor) const { mdb_cursor_close(cursor); }
};
using CursorPtr = std::unique_ptr<MDB_cursor, CursorCloser>;

constexpr size_t kSequenceBytes = 4;

MDB_val Val(std::string_view bytes) {
  return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};
}

std::string_view View(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

std::string ChunkKey(std::string_view queue_id, uint32_t sequence) {
  std::string key(queue_id);
  for (int shift = 24; shift >= 0; shift -= 8) key.push_back(static_cast<char>(sequence >> shift));
  return key;
}

// Splits a content key; false when it is not one.
bool ParseChunkKey(std::string_view key, std::string_view* queue_id, uint32_t* sequence) {
  if (key.size() <= kSequenceBytes) return false;
  *queue_id = key.substr(0, key.size() - kSequenceBytes);
  *sequence = 0;
  for (size_t i = key.size() - kSequenceBytes; i < key.size(); ++i)
    *sequence = (*sequence << 8) | static_cast<uint8_t>(key[i]);
  return true;
}

// Failures for want of room, answered 452 4.3.1 rather than 451 4.3.0.
// LMDB turns a short write into EIO, and a write on a full file system is
// short when the file system fills in the middle of it: so EIO, ambiguous
// as it is, counts as room running out (its text stays in the message and
// the log). EFBIG is a file size limit (RLIMIT_FSIZE, the file system's
// largest file) reached.
bool IsResourceExhaustion(int rc) {
  return rc == MDB_MAP_FULL || rc == MDB_TXN_FULL || rc == ENOSPC || rc == EDQUOT || rc == EIO ||
         rc == EFBIG;
}

Status EnsureDirectory(const std::string& directory) {
  if (mkdir(directory.c_str(), 0700) == 0) return Status::Ok();
  int error = errno;
  struct stat st;
  if (error == EEXIST && stat(directory.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return Status::Ok();
  return Status::Error("queue store: cannot create directory " + directory + ": " +
                       strerror(error == EEXIST ? ENOTDIR : error));
}

// Calls visit(key, value) for each content chunk of queue_id, in sequence
// order; stops at the first failure.
template <typename Visit>
int ForEachChunk(MDB_txn* txn, MDB_dbi content, std::string_view queue_id, Visit visit) {
  MDB_cursor* raw = nullptr;
  int rc = mdb_cursor_open(txn, content, &raw);
  if (rc != 0) return rc;
  CursorPtr cursor(raw);
  std::string first = ChunkKey(queue_id, 0);
  MDB_val key = Val(first), value;
  // Queue ids are printable, so a sequence (first byte 0 below 2^24 chunks)
  // sorts every chunk of one id before any longer id sharing its prefix.
  for (rc = mdb_cursor_get(cursor.get(), &key, &value, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cursor.get(), &key, &value, MDB_NEXT)) {
    std::string_view id;
    uint32_t sequence;
    if (!ParseChunkKey(View(key), &id, &sequence) || id != queue_id) return 0;
    if (Status s = visit(View(key), sequence, View(value)); !s.ok()) return -1;
  }
  return rc == MDB_NOTFOUND ? 0 : rc;
}

}  // namespace

Result<Envelope> QueueStore::DecodeEnvelope(std::string_view queue_id, const MDB_val& value) const {
  Result<Envelope> envelope = Envelope::Decode(View(value));
  if (!envelope.ok())
    return Status::Error("queue store " + directory_ + ": the envelope of " +
                         std::string(queue_id) + " is unreadable: " + envelope.status().message());
  return envelope;
}

Status QueueStore::Describe(int rc, const std::string& what) const {
  std::string message = "queue store " + directory_ + ": " + what + ": " + mdb_strerror(rc);
  if (rc == MDB_MAP_FULL) message += " (queue_map_size is too small for the queue)";
  if (rc == EIO) message += " (LMDB reports a short write so: is the file system full?)";
  return IsResourceExhaustion(rc) ? Status::ResourceExhausted(message) : Status::Error(message);
}

uint64_t QueueMapSize(uint64_t configured, uint64_t file_system_size) {
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  uint64_t size = configured != 0 ? configured : file_system_size;
  size = size > UINT64_MAX - kMiB ? UINT64_MAX / kMiB * kMiB : (size + kMiB - 1) / kMiB * kMiB;
  return std::max(size, kMinimumQueueMapSize);
}

Result<std::unique_ptr<QueueStore>> QueueStore::Open(const std::string& directory,
                                                     uint64_t map_size) {
  if (Status s = EnsureDirectory(directory); !s.ok()) return s;
  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != 0)
    return Status::Error(std::string("queue store: mdb_env_create: ") + mdb_strerror(rc));
  std::unique_ptr<QueueStore> store(new QueueStore(directory, raw));
  MDB_env* env = store->env_.get();
  if ((rc = mdb_env_set_maxdbs(env, 4)) != 0) return store->Describe(rc, "mdb_env_set_maxdbs");
  if ((rc = mdb_env_set_mapsize(env, map_size)) != 0)
    return store->Describe(rc, "set map size " + std::to_string(map_size));
  if ((rc = mdb_env_open(env, directory.c_str(), MDB_NOTLS, 0600)) != 0)
    return store->Describe(rc, "open the LMDB environment");
  int dead_readers = 0;
  if ((rc = mdb_reader_check(env, &dead_readers)) != 0)
    return store->Describe(rc, "clear stale reader slots");
  MDB_txn* txn = nullptr;
  if ((rc = mdb_txn_begin(env, nullptr, 0, &txn)) != 0)
    return store->Describe(rc, "begin a write transaction");
  TxnPtr guard(txn);
  const std::pair<const char*, MDB_dbi*> databases[] = {{"envelopes", &store->envelopes_},
                                                        {"content", &store->content_},
                                                        {"hold", &store->hold_},
                                                        {"meta", &store->meta_}};
  for (const auto& [name, dbi] : databases) {
    if ((rc = mdb_dbi_open(txn, name, MDB_CREATE, dbi)) != 0)
      return store->Describe(rc, std::string("open database ") + name);
  }
  rc = mdb_txn_commit(guard.release());
  if (rc != 0) return store->Describe(rc, "create the databases");
  return store;
}

Result<QueueStore::WriteBatch> QueueStore::BeginBatch() {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_.get(), nullptr, 0, &txn);
  if (rc != 0) return Describe(rc, "begin a write transaction");
  return WriteBatch(this, txn);
}

Result<MDB_txn*> QueueStore::BeginRead() const {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return Describe(rc, "begin a read transaction");
  return txn;
}

QueueStore::WriteBatch::WriteBatch(WriteBatch&& other) noexcept
    : store_(other.store_),
      txn_(other.txn_),
      failure_(std::move(other.failure_)),
      chunk_bytes_(other.chunk_bytes_) {
  other.txn_ = nullptr;
}

QueueStore::WriteBatch::~WriteBatch() {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
}

Status QueueStore::WriteBatch::Check(int rc, const std::string& what) {
  if (rc == 0) return Status::Ok();
  failure_ = store_->Describe(rc, what);
  return failure_;
}

Status QueueStore::WriteBatch::PutChunk(std::string_view queue_id, uint32_t sequence,
                                        std::string_view bytes) {
  if (!failure_.ok()) return failure_;
  if (bytes.size() > kChunkSize)
    PANIC("chunk %u of %.*s has %zu bytes, more than %zu", sequence,
          static_cast<int>(queue_id.size()), queue_id.data(), bytes.size(), kChunkSize);
  std::string key = ChunkKey(queue_id, sequence);
  MDB_val k = Val(key), v = Val(bytes);
  int rc = mdb_put(txn_, store_->content_, &k, &v, 0);
  if (rc == 0) chunk_bytes_ += bytes.size();
  return Check(rc, "store chunk " + std::to_string(sequence) + " of " + std::string(queue_id));
}

Status QueueStore::WriteBatch::PutEnvelope(const Envelope& envelope) {
  if (!failure_.ok()) return failure_;
  std::string bytes = envelope.Encode();
  MDB_val k = Val(envelope.queue_id), v = Val(bytes);
  return Check(mdb_put(txn_, store_->envelopes_, &k, &v, 0),
               "store the envelope of " + envelope.queue_id);
}

Result<std::optional<Envelope>> QueueStore::WriteBatch::GetEnvelope(std::string_view queue_id) {
  if (!failure_.ok()) return failure_;
  MDB_val k = Val(queue_id), v;
  int rc = mdb_get(txn_, store_->envelopes_, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<Envelope>();
  if (rc != 0) return store_->Describe(rc, "read the envelope of " + std::string(queue_id));
  Result<Envelope> envelope = store_->DecodeEnvelope(queue_id, v);
  if (!envelope.ok()) return envelope.status();
  return std::optional<Envelope>(std::move(*envelope));
}

Status QueueStore::WriteBatch::SetHold(std::string_view queue_id, bool held) {
  if (!failure_.ok()) return failure_;
  MDB_val k = Val(queue_id), v = Val("");
  int rc =
      held ? mdb_put(txn_, store_->hold_, &k, &v, 0) : mdb_del(txn_, store_->hold_, &k, nullptr);
  if (rc == MDB_NOTFOUND) rc = 0;
  return Check(rc, std::string(held ? "hold " : "release ") + std::string(queue_id));
}

Status QueueStore::WriteBatch::DeleteChunks(std::string_view queue_id) {
  std::vector<std::string> keys;
  int rc = ForEachChunk(txn_, store_->content_, queue_id,
                        [&keys](std::string_view key, uint32_t, std::string_view) {
                          keys.emplace_back(key);
                          return Status::Ok();
                        });
  if (rc != 0) return Check(rc, "find the chunks of " + std::string(queue_id));
  for (const std::string& key : keys) {
    MDB_val k = Val(key);
    rc = mdb_del(txn_, store_->content_, &k, nullptr);
    if (rc != 0) return Check(rc, "delete a chunk of " + std::string(queue_id));
  }
  return Status::Ok();
}

Status QueueStore::WriteBatch::DeleteContent(std::string_view queue_id) {
  if (!failure_.ok()) return failure_;
  return DeleteChunks(queue_id);
}

Status QueueStore::WriteBatch::DeleteMessage(std::string_view queue_id) {
  if (!failure_.ok()) return failure_;
  if (Status s = DeleteChunks(queue_id); !s.ok()) return s;
  for (MDB_dbi dbi : {store_->envelopes_, store_->hold_}) {
    MDB_val k = Val(queue_id);
    int rc = mdb_del(txn_, dbi, &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) return Check(rc, "delete " + std::string(queue_id));
  }
  return Status::Ok();
}

Status QueueStore::WriteBatch::Commit() {
  if (txn_ == nullptr) PANIC("commit of a batch that is already spent");
  MDB_txn* txn = txn_;
  txn_ = nullptr;
  if (!failure_.ok()) {
    mdb_txn_abort(txn);
    return failure_;
  }
  if (const int injected = store_->commit_fault_ ? store_->commit_fault_() : 0; injected != 0) {
    mdb_txn_abort(txn);
    return Check(injected, "commit (sync to disk)");
  }
  return Check(mdb_txn_commit(txn), "commit (sync to disk)");
}

Status QueueStore::ReleaseFreedPages() {
  Result<WriteBatch> batch = BeginBatch();
  if (!batch.ok()) return batch.status();
  uint64_t count = ++checkpoints_;
  std::string_view key = "checkpoint";
  MDB_val k = Val(key), v{sizeof count, &count};
  if (Status s = batch->Check(mdb_put(batch->txn_, meta_, &k, &v, 0), "write the checkpoint");
      !s.ok())
    return s;
  return batch->Commit();
}

Result<RecoveryReport> QueueStore::Recover() {
  Result<WriteBatch> batch = BeginBatch();
  if (!batch.ok()) return batch.status();
  MDB_txn* txn = batch->txn_;
  MDB_cursor* raw = nullptr;
  int rc = mdb_cursor_open(txn, content_, &raw);
  if (rc != 0) return Describe(rc, "open a cursor on the content");
  CursorPtr cursor(raw);
  std::set<std::string, std::less<>> orphan_ids;
  std::vector<std::string> orphan_keys;
  std::string last_id;
  bool last_has_envelope = false;
  MDB_val key, value;
  for (rc = mdb_cursor_get(cursor.get(), &key, &value, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor.get(), &key, &value, MDB_NEXT)) {
    std::string_view id;
    uint32_t sequence;
    if (!ParseChunkKey(View(key), &id, &sequence)) id = View(key);
    if (id != last_id) {
      last_id = id;
      MDB_val k = Val(id), v;
      int found = mdb_get(txn, envelopes_, &k, &v);
      if (found != 0 && found != MDB_NOTFOUND) return Describe(found, "look up " + last_id);
      last_has_envelope = found == 0;
    }
    if (!last_has_envelope) {
      orphan_ids.insert(last_id);
      orphan_keys.emplace_back(View(key));
    }
  }
  if (rc != MDB_NOTFOUND) return Describe(rc, "scan the content");
  cursor.reset();
  for (const std::string& k : orphan_keys) {
    MDB_val mk = Val(k);
    if (Status s = batch->Check(mdb_del(txn, content_, &mk, nullptr), "delete an orphan chunk");
        !s.ok())
      return s;
  }
  if (Status s = batch->Commit(); !s.ok()) return s;
  if (!orphan_keys.empty())
    if (Status s = ReleaseFreedPages(); !s.ok()) return s;
  return RecoveryReport{orphan_ids.size(), orphan_keys.size()};
}

namespace {

// mdb_reader_list callback: lowers *oldest to each reader's snapshot. The
// lines read "PID THREAD TXNID" (TXNID "-" for a slot without a snapshot)
// after a header.
int LowerToReader(const char* line, void* oldest_ptr) {
  auto* oldest = static_cast<size_t*>(oldest_ptr);
  unsigned long long pid = 0, txnid = 0;
  char thread[32];
  if (sscanf(line, "%llu %31s %llu", &pid, thread, &txnid) == 3 && txnid < *oldest)
    *oldest = static_cast<size_t>(txnid);
  return 0;
}

}  // namespace

Result<uint64_t> QueueStore::ReusableBytes(bool* held_back) const {
  Result<MDB_txn*> begun = BeginRead();
  if (!begun.ok()) return begun.status();
  TxnPtr txn(*begun);
  MDB_envinfo info;
  MDB_stat stat;
  int rc = mdb_env_info(env_.get(), &info);
  if (rc == 0) rc = mdb_env_stat(env_.get(), &stat);
  if (rc != 0) return Describe(rc, "read the environment's figures");
  // As LMDB decides: pages freed by transaction T are reused once no
  // snapshot older than T is read, and not by the transaction right after T.
  size_t oldest = info.me_last_txnid;
  mdb_reader_list(env_.get(), LowerToReader, &oldest);
  if (held_back != nullptr) *held_back = oldest < info.me_last_txnid;
  MDB_cursor* raw = nullptr;
  // Database 0 is LMDB's free list: key the id of the transaction that freed
  // the pages, value a list of page numbers whose first word counts them.
  if ((rc = mdb_cursor_open(txn.get(), 0, &raw)) != 0) return Describe(rc, "open the free list");
  CursorPtr cursor(raw);
  std::vector<size_t> free_pages;
  MDB_val key, value;
  while ((rc = mdb_cursor_get(cursor.get(), &key, &value, MDB_NEXT)) == 0) {
    size_t freed_by = 0, count = 0;
    if (key.mv_size != sizeof freed_by || value.mv_size < sizeof count) continue;
    memcpy(&freed_by, key.mv_data, sizeof freed_by);
    memcpy(&count, value.mv_data, sizeof count);
    if (freed_by >= oldest || value.mv_size < (count + 1) * sizeof count) continue;
    const char* ids = static_cast<const char*>(value.mv_data) + sizeof count;
    for (size_t i = 0; i < count; ++i) {
      size_t page;
      memcpy(&page, ids + i * sizeof page, sizeof page);
      free_pages.push_back(page);
    }
  }
  if (rc != MDB_NOTFOUND) return Describe(rc, "read the free list");
  // A chunk needs contiguous pages (its header and kChunkSize bytes): only
  // runs that long can take one.
  const size_t chunk_pages = (kChunkSize + stat.ms_psize) / stat.ms_psize;
  std::sort(free_pages.begin(), free_pages.end());
  uint64_t usable = 0;
  for (size_t start = 0, end = 0; start < free_pages.size(); start = end) {
    for (end = start + 1; end < free_pages.size() && free_pages[end] == free_pages[end - 1] + 1;)
      ++end;
    size_t run = end - start;
    usable += run / chunk_pages * chunk_pages;
  }
  return usable * stat.ms_psize;
}

Result<std::vector<StoredMessage>> QueueStore::ListMessages() const {
  Result<MDB_txn*> begun = BeginRead();
  if (!begun.ok()) return begun.status();
  TxnPtr txn(*begun);
  MDB_cursor* raw = nullptr;
  int rc = mdb_cursor_open(txn.get(), envelopes_, &raw);
  if (rc != 0) return Describe(rc, "open a cursor on the envelopes");
  CursorPtr cursor(raw);
  std::vector<StoredMessage> messages;
  MDB_val key, value;
  for (rc = mdb_cursor_get(cursor.get(), &key, &value, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor.get(), &key, &value, MDB_NEXT)) {
    Result<Envelope> envelope = DecodeEnvelope(View(key), value);
    if (!envelope.ok()) return envelope.status();
    MDB_val hold_value;
    int held = mdb_get(txn.get(), hold_, &key, &hold_value);
    if (held != 0 && held != MDB_NOTFOUND) return Describe(held, "read the hold flags");
    messages.push_back(StoredMessage{std::move(*envelope), held == 0});
  }
  if (rc != MDB_NOTFOUND) return Describe(rc, "list the envelopes");
  return messages;
}

Result<std::optional<StoredMessage>> QueueStore::GetMessage(std::string_view queue_id) const {
  Result<MDB_txn*> begun = BeginRead();
  if (!begun.ok()) return begun.status();
  TxnPtr txn(*begun);
  MDB_val k = Val(queue_id), v;
  int rc = mdb_get(txn.get(), envelopes_, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<StoredMessage>();
  if (rc != 0) return Describe(rc, "read the envelope of " + std::string(queue_id));
  Result<Envelope> envelope = DecodeEnvelope(queue_id, v);
  if (!envelope.ok()) return envelope.status();
  MDB_val hold_value;
  rc = mdb_get(txn.get(), hold_, &k, &hold_value);
  if (rc != 0 && rc != MDB_NOTFOUND)
    return Describe(rc, "read the hold flag of " + std::string(queue_id));
  return std::optional<StoredMessage>(StoredMessage{std::move(*envelope), rc == 0});
}

Status QueueStore::ReadContent(std::string_view queue_id, const ChunkSink& sink) const {
  const std::string id(queue_id);
  Result<MDB_txn*> begun = BeginRead();
  if (!begun.ok()) return begun.status();
  TxnPtr txn(*begun);
  MDB_val k = Val(queue_id), v;
  int rc = mdb_get(txn.get(), envelopes_, &k, &v);
  if (rc == MDB_NOTFOUND) return Status::Error("queue store " + directory_ + ": no message " + id);
  if (rc != 0) return Describe(rc, "read the envelope of " + id);
  Result<Envelope> envelope = DecodeEnvelope(queue_id, v);
  if (!envelope.ok()) return envelope.status();
  uint32_t expected = 0;
  uint64_t total = 0;
  Status failure;
  rc = ForEachChunk(txn.get(), content_, queue_id,
                    [&](std::string_view, uint32_t sequence, std::string_view chunk) {
                      if (sequence != expected)
                        failure =
                            Status::Error("queue store " + directory_ + ": chunk " +
                                          std::to_string(expected) + " of " + id + " is missing");
                      else
                        failure = sink(chunk);
                      ++expected;
                      total += chunk.size();
                      return failure;
                    });
  if (!failure.ok()) return failure;
  if (rc != 0) return Describe(rc, "read the content of " + id);
  if (total != envelope->size)
    return Status::Error("queue store " + directory_ + ": the content of " + id + " has " +
                         std::to_string(total) + " bytes, its envelope says " +
                         std::to_string(envelope->size));
  return Status::Ok();
}

Result<std::string> QueueStore::ReadPiece(std::string_view queue_id, uint64_t offset) const {
  const std::string id(queue_id);
  Result<MDB_txn*> begun = BeginRead();
  if (!begun.ok()) return begun.status();
  TxnPtr txn(*begun);
  // Every chunk but the last holds kChunkSize bytes (ContentChunker).
  const std::string key = ChunkKey(queue_id, static_cast<uint32_t>(offset / kChunkSize));
  MDB_val k = Val(key), v;
  int rc = mdb_get(txn.get(), content_, &k, &v);
  if (rc == MDB_NOTFOUND)
    return Status::Error("queue store " + directory_ + ": " + id + " has no content at offset " +
                         std::to_string(offset));
  if (rc != 0) return Describe(rc, "read the content of " + id);
  const std::string_view chunk = View(v);
  const size_t within = offset % kChunkSize;
  if (within >= chunk.size())
    return Status::Error("queue store " + directory_ + ": " + id + " has no content at offset " +
                         std::to_string(offset));
  return std::string(chunk.substr(within));
}

Result<std::string> QueueStore::ReadRange(std::string_view queue_id, uint64_t offset,
                                          uint64_t length, uint64_t size) const {
  std::string bytes;
  const uint64_t end = offset + std::min(length, size - std::min(offset, size));
  while (offset + bytes.size() < end) {
    Result<std::string> piece = ReadPiece(queue_id, offset + bytes.size());
    if (!piece.ok()) return piece.status();
    bytes.append(*piece, 0, std::min<uint64_t>(piece->size(), end - offset - bytes.size()));
  }
  return bytes;
}

Status ContentChunker::Store(QueueStore::WriteBatch* batch, std::string_view chunk) {
  if (Status s = batch->PutChunk(queue_id_, next_sequence_, chunk); !s.ok()) return s;
  ++next_sequence_;
  return Status::Ok();
}

Status ContentChunker::Append(QueueStore::WriteBatch* batch, std::string_view bytes) {
  size_ += bytes.size();
  while (!bytes.empty()) {
    if (pending_.empty() && bytes.size() >= kChunkSize) {
      if (Status s = Store(batch, bytes.substr(0, kChunkSize)); !s.ok()) return s;
      bytes.remove_prefix(kChunkSize);
      continue;
    }
    size_t take = std::min(kChunkSize - pending_.size(), bytes.size());
    pending_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (pending_.size() == kChunkSize) {
      if (Status s = Store(batch, pending_); !s.ok()) return s;
      pending_.clear();
    }
  }
  return Status::Ok();
}

Status ContentChunker::Finish(QueueStore::WriteBatch* batch) {
  if (pending_.empty()) return Status::Ok();
  if (Status s = Store(batch, pending_); !s.ok()) return s;
  pending_.clear();
  return Status::Ok();
}

}  // namespace postern
