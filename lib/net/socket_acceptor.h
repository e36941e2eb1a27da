// lib/net/socket_acceptor.h — the accept loop of one listening socket, which never spins.
//
// authd's, qmgr's and master's control sockets (lib/ipc/framed_server) and
// metricsd's TCP socket accept through one of these. It accepts every
// connection waiting (non-blocking, close-on-exec) and hands each to its
// owner, as long as the owner's `wanted` says more may come (its cap, its
// state). Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) it
// stops for `pause`, or until the owner says a descriptor came back
// (DescriptorFreed), instead of spinning on a listen queue it cannot empty;
// the waiting clients stay in the kernel's backlog meanwhile. Other accept
// errors are logged and the round ends. Does not own the socket.
// Single-threaded, on the owner's libevent loop.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <string>

#include "lib/base/status.h"
#include "lib/net/event_handles.h"

namespace postern {

class SocketAcceptor {
 public:
  // One accepted connection and its peer's address; false: stop this round
  // (the owner could not take it; it closed fd).
  using Accepted = std::function<bool(int fd, const sockaddr_storage& peer)>;
  // Whether more connections may be accepted now.
  using Wanted = std::function<bool()>;

  // name ("auth socket") shapes the warnings.
  SocketAcceptor(event_base* base, std::string name, int listen_fd, std::chrono::milliseconds pause,
                 Accepted accepted, Wanted wanted);
  SocketAcceptor(const SocketAcceptor&) = delete;
  SocketAcceptor& operator=(const SocketAcceptor&) = delete;

  // Makes the socket non-blocking and starts watching it.
  Status Start();
  // Watches the socket or not, as wanted() and the pause now say; the owner
  // calls it when its state changed (a connection closed, it stopped).
  void Update();
  // The owner closed a connection: a pause for lack of descriptors ends.
  void DescriptorFreed();
  // Watching now (started, wanted, not pausing).
  bool armed() const { return armed_; }

 private:
  static void OnAcceptable(evutil_socket_t, short, void* self);
  static void OnPauseOver(evutil_socket_t, short, void* self);
  void AcceptAll();

  event_base* base_;
  std::string name_;
  int listen_fd_;
  std::chrono::milliseconds pause_;
  Accepted accepted_;
  Wanted wanted_;
  EventPtr accept_event_;
  EventPtr pause_event_;
  bool short_of_descriptors_ = false;  // pause_event_ is running
  bool armed_ = false;
};

}  // namespace postern
