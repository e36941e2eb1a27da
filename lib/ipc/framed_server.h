// lib/ipc/framed_server.h — a listening Unix stream socket that serves
// lib/ipc/frame.h frames on a libevent loop.
//
// authd, qmgr's queue socket and master's control socket are each one of
// these plus a frame handler. The server owns the accept loop
// (lib/net/socket_acceptor), one frame decoder and one output buffer per peer, and the rules every
// receiver keeps (lib/ipc/frame.h): a peer that sends a malformed frame, or a frame its handler
// refuses, is dropped and nothing else is affected; a peer that lets more than Limits::max_output
// bytes of replies pile up unread has stopped reading and is dropped too. Output the socket does
// not take at once (EAGAIN) waits for a write event: the server never blocks.
//
// Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), accepting
// pauses for Limits::accept_pause, or until one of the server's own
// connections closes and gives a descriptor back, instead of spinning on a
// listen queue it cannot empty. With Limits::max_connections, accepting
// also pauses while that many peers are connected.
//
// Handlers run from the event loop. A peer is never freed under a handler:
// a dropped peer's connection is closed and its closed() handler runs from a
// later turn of the loop, once per peer. Single-threaded, like the loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"
#include "lib/ipc/frame.h"
#include "lib/net/event_handles.h"
#include "lib/net/socket_acceptor.h"

namespace postern {

class FramedServer {
 public:
  using PeerId = uint64_t;

  struct Handlers {
    // One whole frame from peer. An error drops the peer, with a warning
    // that names the server, the peer and the error.
    std::function<Status(PeerId peer, const ipc::Frame& frame)> frame;
    // The peer is gone (it closed, or was dropped); optional.
    std::function<void(PeerId peer)> closed;
  };

  struct Limits {
    // Unsent output a peer may leave; past it the peer is dropped. Room for
    // a few of the largest frames, so no legitimate reply is refused.
    size_t max_output = 4 * (ipc::kHeaderSize + ipc::kMaxPayload);
    // Peers connected at once; 0: no cap.
    size_t max_connections = 0;
    // How long accepting pauses when the process runs out of descriptors.
    std::chrono::milliseconds accept_pause{1000};
    // Bytes read from one peer per readiness event, so that one busy peer
    // cannot keep the loop from the others.
    size_t read_size = 256 * 1024;
  };

  // name is for the log ("auth socket"). listen_fd is a listening
  // SOCK_STREAM socket; the server makes it non-blocking and closes it.
  FramedServer(event_base* base, std::string name, int listen_fd, Handlers handlers, Limits limits);
  // Closes every connection without running closed().
  ~FramedServer();
  FramedServer(const FramedServer&) = delete;
  FramedServer& operator=(const FramedServer&) = delete;

  Status Start();
  // Takes no new connections from now on (shutdown).
  void StopAccepting();
  // Closes every connection now; closed() runs for each before it returns.
  void CloseAll();

  // Sends one frame's bytes to peer, queueing what the socket does not take
  // now. Nothing happens for a peer that is gone or being closed.
  void SendFrame(PeerId peer, std::string_view frame);
  // The same for one message struct (lib/ipc/messages_*.h).
  template <typename Message>
  void Send(PeerId peer, const Message& message) {
    SendFrame(peer, ipc::EncodeFrame(message));
  }
  // Reads nothing more from peer and closes it once its output is sent.
  void CloseAfterSending(PeerId peer);
  // Closes peer now, discarding its unsent output; logs why unless empty.
  void Drop(PeerId peer, const std::string& why);

  size_t connections() const { return connections_.size(); }
  // Started, not stopped, and yet not accepting: out of descriptors or at
  // max_connections.
  bool accept_paused() const { return accepting_ && !acceptor_.armed(); }

 private:
  struct Connection {
    FramedServer* server = nullptr;
    PeerId id = 0;
    int fd = -1;
    EventPtr read_event;
    EventPtr write_event;
    ipc::FrameDecoder decoder;
    std::string output;
    bool closing = false;  // closed as soon as the output is sent
    bool gone = false;     // dropped; freed by the next reap
    ~Connection();
  };

  static void OnReadable(evutil_socket_t, short, void* connection);
  static void OnWritable(evutil_socket_t, short, void* connection);
  static void OnReap(evutil_socket_t, short, void* self);

  // Whether the acceptor may take more connections now.
  bool WantsConnections() const;
  bool Adopt(int fd);
  void Read(Connection* c);
  void Flush(Connection* c);
  void Reap();
  Connection* Find(PeerId peer);

  event_base* base_;
  std::string name_;
  int listen_fd_;
  Handlers handlers_;
  Limits limits_;
  SocketAcceptor acceptor_;
  EventPtr reap_event_;
  bool accepting_ = false;  // Start() and no StopAccepting() since
  std::vector<char> read_buffer_;
  PeerId next_id_ = 1;
  std::map<PeerId, std::unique_ptr<Connection>> connections_;
};

}  // namespace postern
