// master/listener_sockets.h — the listening TCP sockets of every listener.
//
// One socket per distinct bind address; listeners that share an address share
// its socket, and admission picks among them per client. On reload, sockets
// whose address is still configured are kept (no connection is refused
// while the config changes), the others are closed and new ones bound.
// When master runs out of descriptors (EMFILE, ENFILE), accepting pauses for
// a moment instead of spinning on a socket that stays readable; the waiting
// clients stay in the kernel's backlog meanwhile.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lib/base/status.h"
#include "lib/config/config.h"
#include "lib/net/event_handles.h"

namespace postern {

class ListenerSockets {
 public:
  // on_accept(fd, peer, bound, candidates): a new client socket
  // (non-blocking, close-on-exec), the client's address as accept4 gave it,
  // the address the listening socket is bound to, and the listeners bound
  // to it.
  using AcceptCallback =
      std::function<void(int fd, const sockaddr_storage& peer, const BindAddress& bound,
                         const std::vector<const ListenerConfig*>& candidates)>;

  ListenerSockets(event_base* base, AcceptCallback on_accept);
  ~ListenerSockets();

  // Binds what config needs (reusing sockets already bound to the same
  // address) and closes the rest. On failure nothing changes.
  Status Apply(const Config& config);
  // Stops accepting (SIGTERM): closes every listening socket.
  void CloseAll();

 private:
  // What an accept event needs: the owner and the key of its socket.
  struct AcceptContext {
    ListenerSockets* owner;
    std::string key;
  };
  struct Socket {
    BindAddress address;
    int fd = -1;
    std::unique_ptr<AcceptContext> context;
    EventPtr event;
    std::vector<const ListenerConfig*> listeners;
  };
  static void Close(Socket* socket);
  static void OnAcceptable(evutil_socket_t fd, short, void* socket_ptr);
  static void OnResume(evutil_socket_t, short, void* self);
  void PauseAccepting(const std::string& key, int error);

  event_base* base_;
  AcceptCallback on_accept_;
  EventPtr resume_timer_;
  bool paused_ = false;
  std::map<std::string, Socket> sockets_;  // by BindAddress::ToString()
};

}  // namespace postern
