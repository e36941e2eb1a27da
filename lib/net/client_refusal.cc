// lib/net/client_refusal.cc — see lib/net/client_refusal.h.
#include "lib/net/client_refusal.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "lib/base/log.h"

namespace postern {

void RefuseClient(int fd, const IpAddress& peer, uint16_t port, std::string_view reply) {
  std::string line(reply.substr(0, reply.size() >= 2 ? reply.size() - 2 : 0));
  LOG_INFO("refused [%s]:%u: %s", peer.ToString().c_str(), port, line.c_str());
  ssize_t ignored = send(fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)ignored;
  // shutdown() reaches every copy of the socket, also one that a worker
  // which never took its hand-off may still hold.
  shutdown(fd, SHUT_RDWR);
  close(fd);
}

}  // namespace postern
