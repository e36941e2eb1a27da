// lib/base/daemon_support.cc — see lib/base/daemon_support.h.
#include "lib/base/daemon_support.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace postern {

std::optional<int> ParseDescriptor(const char* text) {
  char* end = nullptr;
  errno = 0;
  long fd = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || errno != 0 || fd < 0 || fd > 65535) return std::nullopt;
  return static_cast<int>(fd);
}

Status AdoptListeningSocket(int fd) {
  int listening = 0;
  socklen_t length = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 || !listening)
    return Status::Error("descriptor " + std::to_string(fd) + " is not a listening socket");
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
      fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
    return Status::FromErrno("descriptor " + std::to_string(fd), errno);
  return Status::Ok();
}

Status Daemonize() {
  pid_t pid = fork();
  if (pid < 0) return Status::FromErrno("fork", errno);
  if (pid > 0) _exit(0);
  if (setsid() < 0) return Status::FromErrno("setsid", errno);
  if (chdir("/") != 0) return Status::FromErrno("chdir /", errno);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) return Status::FromErrno("/dev/null", errno);
  dup2(null, STDIN_FILENO);
  dup2(null, STDOUT_FILENO);
  close(null);
  return Status::Ok();
}

}  // namespace postern
