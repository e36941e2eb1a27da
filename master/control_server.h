// master/control_server.h — the socket the `postern` CLI talks to.
//
// Listens on run_directory/master.sock (mode 0600: only root, or the user
// running postern, may connect). Each client sends one kControlRequest and
// gets one kControlReply (lib/ipc/messages_control.h); the handler decides
// what the verb means. A client whose request does not decode is dropped
// without a reply.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lib/base/status.h"
#include "lib/ipc/messages_control.h"
#include "lib/net/event_handles.h"

namespace postern {

class ControlServer {
 public:
  using Handler = std::function<ipc::ControlReply(const std::string& verb,
                                                  const std::vector<std::string>& args)>;

  ControlServer(event_base* base, Handler handler);
  ~ControlServer();

  // Creates the socket at path (replacing a stale one) and starts serving.
  Status Listen(const std::string& path);
  void Close();

 private:
  struct Client {
    ControlServer* server;
    BufferEventPtr bev;
    ipc::FrameDecoder decoder;
    bool replied = false;
  };
  static void OnAccept(evutil_socket_t fd, short, void* self);
  static void OnRead(bufferevent* bev, void* client);
  static void OnWrite(bufferevent* bev, void* client);
  static void OnEvent(bufferevent* bev, short what, void* client);
  void Serve(Client* client, const ipc::Frame& frame);
  void Drop(Client* client);

  event_base* base_;
  Handler handler_;
  int fd_ = -1;
  std::string path_;
  EventPtr accept_event_;
  std::map<Client*, std::unique_ptr<Client>> clients_;
};

}  // namespace postern
