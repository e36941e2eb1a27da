// tests/lib/base/faulty_file_system.h — a FileSystem that fails on demand.
//
// Passes every call to the real PosixFileSystem, except the writes and
// syncs a test tells it to fail, the way a full disk (ENOSPC) or a broken
// one (EIO) would. The switches may be flipped while another thread (qmgr's
// delivery worker) uses the file system.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/file_system.h"

namespace postern {

class FaultyFileSystem final : public FileSystem {
 public:
  std::atomic<int> fail_append_number{0};  // fail the Nth Append (1-based); 0: never
  std::atomic<bool> fail_appends{false};   // fail every Append while set
  std::atomic<bool> fail_file_sync{false};

  // Files created so far (CreateNewFile calls that succeeded).
  int files_created() const { return files_created_; }

  // Directories made so far, in order (MakeDirectory calls that created one).
  std::vector<std::string> made_directories() const {
    std::lock_guard<std::mutex> lock(made_mutex_);
    return made_directories_;
  }

  Result<bool> MakeDirectory(const std::string& path, mode_t mode) override {
    Result<bool> made = real_.MakeDirectory(path, mode);
    if (made.ok() && *made) {
      std::lock_guard<std::mutex> lock(made_mutex_);
      made_directories_.push_back(path);
    }
    return made;
  }
  Result<std::unique_ptr<WritableFile>> CreateNewFile(const std::string& path,
                                                      mode_t mode) override {
    Result<std::unique_ptr<WritableFile>> file = real_.CreateNewFile(path, mode);
    if (!file.ok()) return file;
    ++files_created_;
    return std::unique_ptr<WritableFile>(new FaultyFile(this, std::move(*file)));
  }
  Status Rename(const std::string& from, const std::string& to) override {
    return real_.Rename(from, to);
  }
  Status RemoveFile(const std::string& path) override { return real_.RemoveFile(path); }
  Status SyncDirectory(const std::string& path) override { return real_.SyncDirectory(path); }
  Result<bool> FileExists(const std::string& path) override { return real_.FileExists(path); }
  Result<std::vector<std::string>> ListDirectory(const std::string& path) override {
    return real_.ListDirectory(path);
  }
  Result<std::optional<std::string>> ReadFile(const std::string& path) override {
    return real_.ReadFile(path);
  }

 private:
  class FaultyFile final : public WritableFile {
   public:
    FaultyFile(FaultyFileSystem* owner, std::unique_ptr<WritableFile> real)
        : owner_(owner), real_(std::move(real)) {}
    Status Append(std::string_view bytes) override {
      if (++owner_->appends_ == owner_->fail_append_number || owner_->fail_appends)
        return Status::ResourceExhausted("write: No space left on device (injected)");
      return real_->Append(bytes);
    }
    Status Sync() override {
      if (owner_->fail_file_sync) return Status::Error("fsync: Input/output error (injected)");
      return real_->Sync();
    }
    Status Close() override { return real_->Close(); }

   private:
    FaultyFileSystem* owner_;
    std::unique_ptr<WritableFile> real_;
  };

  PosixFileSystem real_;
  std::atomic<int> appends_{0};
  std::atomic<int> files_created_{0};
  mutable std::mutex made_mutex_;  // delivery threads make directories concurrently
  std::vector<std::string> made_directories_;
};

}  // namespace postern
