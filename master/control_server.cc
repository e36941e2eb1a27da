// master/control_server.cc — see master/control_server.h.
#include "master/control_server.h"

#include <unistd.h>

#include "lib/net/unix_socket.h"

namespace postern {

ControlServer::ControlServer(event_base* base, Handler handler)
    : base_(base), handler_(std::move(handler)) {}

ControlServer::~ControlServer() { Close(); }

Status ControlServer::Listen(const std::string& path) {
  Result<int> fd = ListenUnixStream(path, nullptr);
  if (!fd.ok()) return fd.status();
  path_ = path;
  server_ = std::make_unique<FramedServer>(
      base_, "control socket", *fd,
      FramedServer::Handlers{
          .frame = [this](FramedServer::PeerId peer,
                          const ipc::Frame& frame) { return Serve(peer, frame); },
          .closed = nullptr},
      FramedServer::Limits{});
  return server_->Start();
}

void ControlServer::Close() {
  if (!server_) return;
  server_.reset();
  unlink(path_.c_str());
}

Status ControlServer::Serve(FramedServer::PeerId peer, const ipc::Frame& frame) {
  Result<ipc::ControlRequest> request = ipc::DecodeAs<ipc::ControlRequest>(frame);
  if (!request.ok()) return Status::Error("it sent " + request.status().message());
  server_->Send(peer, handler_(request->verb, request->args));
  server_->CloseAfterSending(peer);
  return Status::Ok();
}

}  // namespace postern
