// lib/base/syslog_socket.cc — see lib/base/syslog_socket.h.
#include "lib/base/syslog_socket.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace postern {
namespace {

constexpr auto kReconnectInterval = std::chrono::seconds(1);
constexpr int kPatienceMs = 100;

bool QueueFull(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS; }

bool ConnectionLost(int error) {
  return error == ECONNREFUSED || error == ENOTCONN || error == ECONNRESET || error == ENOENT;
}

}  // namespace

Result<int> ConnectSyslog(const std::string& path) {
  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path)
    return Status::Error("syslog socket path \"" + path + "\" is empty or too long");
  memcpy(address.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Status::FromErrno("cannot make a socket for syslog", errno);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    Status why = Status::FromErrno("cannot reach syslog at " + path, errno);
    close(fd);
    return why;
  }
  return fd;
}

SyslogSocket::~SyslogSocket() { Close(); }

void SyslogSocket::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

Status SyslogSocket::Connect() {
  Close();
  Result<int> fd = ConnectSyslog(path_);
  if (!fd.ok()) {
    next_reconnect_ = std::chrono::steady_clock::now() + kReconnectInterval;
    return fd.status();
  }
  fd_ = *fd;
  return Status::Ok();
}

void SyslogSocket::Adopt(int fd) {
  Close();
  fd_ = fd;
}

int SyslogSocket::SendOnce(std::string_view record) {
  int error = 0;
  if (send(fd_, record.data(), record.size(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) error = errno;
  if (QueueFull(error) && patient_) {
    pollfd room = {fd_, POLLOUT, 0};
    error = EAGAIN;  // unless room comes in time
    if (poll(&room, 1, kPatienceMs) == 1)
      error = send(fd_, record.data(), record.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0 ? 0 : errno;
  }
  if (error == 0) patient_ = true;
  if (QueueFull(error)) patient_ = false;
  return error;
}

Status SyslogSocket::Failure(int error) const {
  if (QueueFull(error))
    return Status::WouldBlock("syslog at " + path_ + " takes no more lines for now");
  return Status::FromErrno("cannot write to syslog at " + path_, error);
}

Status SyslogSocket::Send(std::string_view record) {
  if (fd_ >= 0) {
    const int error = SendOnce(record);
    if (error == 0) return Status::Ok();
    if (!ConnectionLost(error)) return Failure(error);
    Close();
  }
  if (std::chrono::steady_clock::now() < next_reconnect_)
    return Status::Error("syslog at " + path_ + " cannot be reached");
  if (Status s = Connect(); !s.ok()) return s;
  const int error = SendOnce(record);
  return error == 0 ? Status::Ok() : Failure(error);
}

}  // namespace postern
