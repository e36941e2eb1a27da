// auth/auth_server.h — authd's client connections on its listening socket.
//
// Accepts smtpd (and any local tool allowed by the socket's mode) on the
// socket it is given, reads framed messages from each connection and answers
// them: kPing with kPong. A malformed frame, or a message type authd does
// not serve, closes that one connection and nothing else. Never blocks: one
// libevent loop serves every connection. Owns the client connections, not
// the listening socket.
#pragma once

#include <map>
#include <memory>

#include "lib/event_handles.h"
#include "lib/ipc.h"

namespace postern {

class AuthServer {
 public:
  // listen_fd must be a listening SOCK_STREAM socket; it is made
  // non-blocking and must outlive the server.
  AuthServer(event_base* base, int listen_fd);
  ~AuthServer();
  AuthServer(const AuthServer&) = delete;
  AuthServer& operator=(const AuthServer&) = delete;

  Status Start();

 private:
  struct Client {
    AuthServer* server;
    BufferEventPtr bev;
    ipc::FrameDecoder decoder;
  };

  static void OnAccept(evutil_socket_t fd, short, void* self);
  static void OnAcceptRetry(evutil_socket_t, short, void* self);
  static void OnRead(bufferevent* bev, void* client);
  static void OnEvent(bufferevent* bev, short what, void* client);
  void AcceptAll();
  void PauseAccepting();
  void Adopt(int fd);
  // False when the client was dropped.
  bool Serve(Client* client, const ipc::Frame& frame);
  void Drop(Client* client);

  event_base* base_;
  int listen_fd_;
  EventPtr accept_event_;
  EventPtr accept_retry_;
  std::map<Client*, std::unique_ptr<Client>> clients_;
};

}  // namespace postern
