// lib/base/file_system.h — the narrow file-system interface for durable writes.
//
// Code that must get durability right (Maildir delivery, master's pid and
// blocks files) touches files only through FileSystem, so a test can put a
// double in its place that fails a write or a sync at a chosen moment.
// PosixFileSystem is the real thing.
// Every failure names the operation, the path and strerror; running out of
// space (ENOSPC, EDQUOT) is a resource-exhausted Status. Never used for the
// LMDB queue, which does its own I/O.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"

namespace postern {

// A file open for writing. Destroying it closes it (ignoring errors: only
// failure paths do that; the normal path calls Close() and checks it).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view bytes) = 0;
  virtual Status Sync() = 0;  // fsync: data and metadata on disk
  virtual Status Close() = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Creates one directory. True when it made it, false when a directory was
  // already there (anything else there is an error).
  virtual Result<bool> MakeDirectory(const std::string& path, mode_t mode) = 0;
  // Creates a file that must not exist yet (O_EXCL).
  virtual Result<std::unique_ptr<WritableFile>> CreateNewFile(const std::string& path,
                                                              mode_t mode) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // fsync of a directory, which makes the names created in it durable.
  virtual Status SyncDirectory(const std::string& path) = 0;
  virtual Result<bool> FileExists(const std::string& path) = 0;
  // The names in a directory, without "." and "..", in no particular order.
  virtual Result<std::vector<std::string>> ListDirectory(const std::string& path) = 0;
  // A whole file's bytes; nothing when there is no such file.
  virtual Result<std::optional<std::string>> ReadFile(const std::string& path) = 0;
};

// Replaces path with contents through path.tmp (created with mode, written,
// synced, closed, renamed over path), so that a crash leaves either the old
// file or the new one. A temporary file left by a crash is removed first; on
// failure the temporary file is removed and path is untouched. The error
// names the operation, the file and the reason.
Status WriteFileAtomically(FileSystem* fs, const std::string& path, std::string_view contents,
                           mode_t mode);

// Plain POSIX calls. Holds no state: one instance may serve every thread.
class PosixFileSystem final : public FileSystem {
 public:
  Result<bool> MakeDirectory(const std::string& path, mode_t mode) override;
  Result<std::unique_ptr<WritableFile>> CreateNewFile(const std::string& path,
                                                      mode_t mode) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status RemoveFile(const std::string& path) override;
  Status SyncDirectory(const std::string& path) override;
  Result<bool> FileExists(const std::string& path) override;
  Result<std::vector<std::string>> ListDirectory(const std::string& path) override;
  Result<std::optional<std::string>> ReadFile(const std::string& path) override;
};

}  // namespace postern
