// lib/net/tcp_listener.cc — see lib/net/tcp_listener.h.
#include "lib/net/tcp_listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace postern {
namespace {

// Room in the kernel for a burst of connects while master hands the earlier
// ones on (the kernel caps it at net.core.somaxconn).
constexpr int kBacklog = 4096;

}  // namespace

Result<int> BindTcpListener(const BindAddress& address, const std::string& owner) {
  sockaddr_storage ss;
  socklen_t length = address.ToSockaddr(&ss);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  auto fail = [&](const char* what) {
    Status s = Status::FromErrno(owner + ": cannot " + what + " " + address.ToString(), errno);
    if (fd >= 0) close(fd);
    return s;
  };
  if (fd < 0) return fail("create a socket for");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
    return fail("turn Nagle's algorithm off (TCP_NODELAY) for");
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), length) != 0) return fail("bind");
  if (listen(fd, kBacklog) != 0) return fail("listen on");
  return fd;
}

}  // namespace postern
