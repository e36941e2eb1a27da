// lib/net/client_refusal.cc — see lib/net/client_refusal.h.
#include "lib/net/client_refusal.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "lib/base/log.h"
#include "lib/smtp/session_log.h"

namespace postern {

void RefuseClient(int fd, const IpAddress& peer, uint16_t port, std::string_view reply) {
  // Postfix's shape; the port as in the connect line.
  const std::string client = ClientLogName("", peer.ToString()) + ":" + std::to_string(port);
  const std::string sent = ReplyLogText(reply);
  RejectLogFields fields{.stage = "CONNECT", .client = client, .reply = sent};
  LOG_INFO("%s", RejectLogLine(fields).c_str());
  ssize_t ignored = send(fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)ignored;
  // shutdown() reaches every copy of the socket, also one that a worker
  // which never took its hand-off may still hold.
  shutdown(fd, SHUT_RDWR);
  close(fd);
}

}  // namespace postern
