// lib/net/unix_socket.cc — see lib/net/unix_socket.h.
#include "lib/net/unix_socket.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace postern {
namespace {

constexpr int kListenBacklog = 1024;

Result<sockaddr_un> Address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return Status::Error("unusable socket path \"" + path + "\" (empty or longer than " +
                         std::to_string(sizeof addr.sun_path - 1) + " bytes)");
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// Removes a socket file nobody listens on; refuses anything else there.
Status ClearStaleSocket(const std::string& path, const sockaddr_un& addr) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::FromErrno("cannot examine " + path, errno);
  }
  if (!S_ISSOCK(st.st_mode))
    return Status::Error(path + " exists and is not a socket; not replacing it");
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return Status::FromErrno("socket", errno);
  bool live = connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  close(probe);
  if (live) return Status::Error("another process is already listening on " + path);
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    return Status::FromErrno("cannot remove the stale socket " + path, errno);
  return Status::Ok();
}

Status BindAndListen(int fd, const std::string& path, const sockaddr_un& addr) {
  mode_t old_mask = umask(0077);
  int rc = bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  umask(old_mask);
  if (rc != 0) return Status::FromErrno("cannot bind " + path, errno);
  // The umask left 0700; execute means nothing on a socket, so say 0600.
  if (chmod(path.c_str(), 0600) != 0) return Status::FromErrno("chmod 0600 " + path, errno);
  if (listen(fd, kListenBacklog) != 0) return Status::FromErrno("cannot listen on " + path, errno);
  return Status::Ok();
}

}  // namespace

Result<int> ListenUnixStream(const std::string& path, const UserIdentity* owner) {
  Result<sockaddr_un> addr = Address(path);
  if (!addr.ok()) return addr.status();
  if (Status s = ClearStaleSocket(path, *addr); !s.ok()) return s;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno("socket", errno);
  Status s = BindAndListen(fd, path, *addr);
  if (s.ok() && owner != nullptr && RunningAsRoot() &&
      chown(path.c_str(), owner->uid, owner->gid) != 0)
    s = Status::FromErrno("chown " + path + " to " + owner->name, errno);
  if (!s.ok()) {
    close(fd);
    return s;
  }
  return fd;
}

Result<int> ConnectUnixStream(const std::string& path, const std::string& daemon_name,
                              SocketMode mode) {
  Result<sockaddr_un> addr = Address(path);
  if (!addr.ok()) return addr.status();
  int flags = SOCK_STREAM | SOCK_CLOEXEC | (mode == SocketMode::kNonBlocking ? SOCK_NONBLOCK : 0);
  int fd = socket(AF_UNIX, flags, 0);
  if (fd < 0) return Status::FromErrno("socket", errno);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    Status s = Status::FromErrno("cannot connect to " + daemon_name + " at " + path, errno);
    close(fd);
    return s;
  }
  return fd;
}

}  // namespace postern
