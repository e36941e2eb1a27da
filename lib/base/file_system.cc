// lib/base/file_system.cc — PosixFileSystem and WriteFileAtomically of
// lib/base/file_system.h.
#include "lib/base/file_system.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace postern {
namespace {

Status Failure(const std::string& what, const std::string& path, int error) {
  return Status::FromErrno(what + " " + path, error);
}

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) close(fd_);
  }

  Status Append(std::string_view bytes) override {
    while (!bytes.empty()) {
      ssize_t n = write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Failure("write", path_, errno);
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  Status Sync() override {
    if (fsync(fd_) != 0) return Failure("fsync", path_, errno);
    return Status::Ok();
  }

  Status Close() override {
    int fd = fd_;
    fd_ = -1;
    if (close(fd) != 0) return Failure("close", path_, errno);
    return Status::Ok();
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace

Result<bool> PosixFileSystem::MakeDirectory(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) == 0) return true;
  int error = errno;
  struct stat st;
  if (error != EEXIST) return Failure("create directory", path, error);
  if (stat(path.c_str(), &st) != 0) return Failure("stat", path, errno);
  if (!S_ISDIR(st.st_mode)) return Failure("create directory", path, ENOTDIR);
  return false;
}

Result<std::unique_ptr<WritableFile>> PosixFileSystem::CreateNewFile(const std::string& path,
                                                                     mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Failure("create", path, errno);
  return std::unique_ptr<WritableFile>(new PosixWritableFile(fd, path));
}

Status PosixFileSystem::Rename(const std::string& from, const std::string& to) {
  if (rename(from.c_str(), to.c_str()) != 0) return Failure("rename " + from + " to", to, errno);
  return Status::Ok();
}

Status PosixFileSystem::RemoveFile(const std::string& path) {
  if (unlink(path.c_str()) != 0) return Failure("remove", path, errno);
  return Status::Ok();
}

Status PosixFileSystem::SyncDirectory(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Failure("open directory", path, errno);
  FdCloser closer(fd);
  if (fsync(fd) != 0) return Failure("fsync directory", path, errno);
  return Status::Ok();
}

Result<bool> PosixFileSystem::FileExists(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return Failure("stat", path, errno);
}

Result<std::vector<std::string>> PosixFileSystem::ListDirectory(const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return Failure("open directory", path, errno);
  std::unique_ptr<DIR, int (*)(DIR*)> guard(dir, closedir);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* entry = readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
    errno = 0;
  }
  if (errno != 0) return Failure("read directory", path, errno);
  return names;
}

Result<std::optional<std::string>> PosixFileSystem::ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Failure("open", path, errno);
  }
  FdCloser closer(fd);
  std::string contents;
  char buffer[8192];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Failure("read", path, errno);
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
  }
  return std::optional<std::string>(std::move(contents));
}

Status WriteFileAtomically(FileSystem* fs, const std::string& path, std::string_view contents,
                           mode_t mode) {
  const std::string tmp = path + ".tmp";
  Result<bool> stale = fs->FileExists(tmp);
  if (!stale.ok()) return stale.status();
  if (*stale)
    if (Status s = fs->RemoveFile(tmp); !s.ok()) return s;
  Result<std::unique_ptr<WritableFile>> file = fs->CreateNewFile(tmp, mode);
  if (!file.ok()) return file.status();
  Status s = (*file)->Append(contents);
  if (s.ok()) s = (*file)->Sync();
  if (s.ok()) s = (*file)->Close();
  file->reset();
  if (s.ok()) s = fs->Rename(tmp, path);
  if (!s.ok()) fs->RemoveFile(tmp);  // the first failure is the one to tell
  return s;
}

}  // namespace postern
