// master/control_server.cc — see master/control_server.h.
#include "master/control_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "lib/base/log.h"
#include "lib/net/unix_socket.h"

namespace postern {

ControlServer::ControlServer(event_base* base, Handler handler)
    : base_(base), handler_(std::move(handler)) {}

ControlServer::~ControlServer() { Close(); }

Status ControlServer::Listen(const std::string& path) {
  Result<int> fd = ListenUnixStream(path, nullptr);
  if (!fd.ok()) return fd.status();
  fd_ = *fd;
  evutil_make_socket_nonblocking(fd_);
  path_ = path;
  accept_event_.reset(event_new(base_, fd_, EV_READ | EV_PERSIST, OnAccept, this));
  event_add(accept_event_.get(), nullptr);
  return Status::Ok();
}

void ControlServer::Close() {
  accept_event_.reset();
  if (fd_ >= 0) {
    close(fd_);
    unlink(path_.c_str());
  }
  fd_ = -1;
}

void ControlServer::OnAccept(evutil_socket_t fd, short, void* self_ptr) {
  auto* self = static_cast<ControlServer*>(self_ptr);
  int client_fd = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (client_fd < 0) return;
  auto client = std::make_unique<Client>();
  client->server = self;
  client->bev.reset(bufferevent_socket_new(self->base_, client_fd, BEV_OPT_CLOSE_ON_FREE));
  bufferevent_setcb(client->bev.get(), OnRead, OnWrite, OnEvent, client.get());
  bufferevent_enable(client->bev.get(), EV_READ | EV_WRITE);
  self->clients_[client.get()] = std::move(client);
}

void ControlServer::OnRead(bufferevent* bev, void* client_ptr) {
  auto* client = static_cast<Client*>(client_ptr);
  evbuffer* input = bufferevent_get_input(bev);
  std::string bytes(evbuffer_get_length(input), '\0');
  evbuffer_remove(input, bytes.data(), bytes.size());
  if (client->replied) return;
  client->decoder.Feed(bytes);
  Result<std::optional<ipc::Frame>> frame = client->decoder.Next();
  if (!frame.ok()) {
    LOG_WARNING("control client: %s", frame.status().message().c_str());
    client->server->Drop(client);
    return;
  }
  if (frame->has_value()) client->server->Serve(client, **frame);
}

void ControlServer::Serve(Client* client, const ipc::Frame& frame) {
  Result<ipc::ControlRequest> request = ipc::DecodeAs<ipc::ControlRequest>(frame);
  if (!request.ok()) {
    LOG_WARNING("control client sent %s; closing its connection",
                request.status().message().c_str());
    Drop(client);
    return;
  }
  std::string bytes = ipc::EncodeFrame(handler_(request->verb, request->args));
  client->replied = true;
  bufferevent_write(client->bev.get(), bytes.data(), bytes.size());
}

void ControlServer::OnWrite(bufferevent* bev, void* client_ptr) {
  auto* client = static_cast<Client*>(client_ptr);
  if (client->replied && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
    client->server->Drop(client);
}

void ControlServer::OnEvent(bufferevent*, short what, void* client_ptr) {
  auto* client = static_cast<Client*>(client_ptr);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) client->server->Drop(client);
}

void ControlServer::Drop(Client* client) { clients_.erase(client); }

}  // namespace postern
