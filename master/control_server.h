// master/control_server.h — the socket the `postern` CLI talks to.
//
// Listens on run_directory/master.sock (mode 0600: only root, or the user
// running postern, may connect). Each client sends one kControlRequest and
// gets one kControlReply (lib/ipc/messages_control.h), after which the
// connection closes; the handler decides what the verb means. A client
// whose request does not decode is dropped without a reply. The
// connections are a lib/ipc/framed_server.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/base/status.h"
#include "lib/ipc/framed_server.h"
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
  // Closes the socket and every connection and removes the socket file.
  void Close();

 private:
  Status Serve(FramedServer::PeerId peer, const ipc::Frame& frame);

  event_base* base_;
  Handler handler_;
  std::string path_;
  std::unique_ptr<FramedServer> server_;
};

}  // namespace postern
