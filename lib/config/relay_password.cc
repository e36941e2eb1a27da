// lib/config/relay_password.cc — see lib/config/relay_password.h.
//
// The mode is checked on the descriptor that is then read (fstat), so a
// file swapped between the check and the read cannot slip through.
#include "lib/config/relay_password.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string_view>

namespace postern {
namespace {

// Far above any real password; a larger file is not a password file.
constexpr size_t kMaxFileSize = 4096;

class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// "0644"
std::string OctalMode(mode_t mode) {
  char text[8];
  snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

Status CheckFile(const std::string& path, const struct stat& st) {
  std::string what = "relay_password_file " + path;
  if (!S_ISREG(st.st_mode)) return Status::Error(what + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    const char* who = (st.st_mode & 007) != 0 ? "others" : "its group";
    return Status::Error(what + " has mode " + OctalMode(st.st_mode) + ", open to " + who +
                         ": chmod 600 " + path);
  }
  if (st.st_size == 0) return Status::Error(what + " is empty: its first line is the password");
  if (static_cast<size_t>(st.st_size) > kMaxFileSize) {
    return Status::Error(what + " is larger than " + std::to_string(kMaxFileSize) +
                         " bytes: is it a password file?");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> ReadRelayPassword(const std::string& path) {
  std::string what = "relay_password_file " + path;
  Descriptor fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) return Status::FromErrno("cannot open " + what, errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Status::FromErrno("cannot examine " + what, errno);
  if (Status s = CheckFile(path, st); !s.ok()) return s;
  std::string bytes(kMaxFileSize, '\0');
  size_t length = 0;
  while (length < bytes.size()) {
    ssize_t n = read(fd.get(), bytes.data() + length, bytes.size() - length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      explicit_bzero(bytes.data(), bytes.size());
      return Status::FromErrno("cannot read " + what, error);
    }
    if (n == 0) break;
    length += static_cast<size_t>(n);
  }
  // The first line, without its line end; no copy of the rest is made.
  size_t end = std::string_view(bytes.data(), length).find_first_of("\r\n");
  std::string password(bytes.data(), end == std::string_view::npos ? length : end);
  explicit_bzero(bytes.data(), bytes.size());
  if (password.empty()) return Status::Error(what + ": its first line, the password, is empty");
  return password;
}

}  // namespace postern
