// auth/auth_server.cc — see auth/auth_server.h.
#include "auth/auth_server.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "lib/log.h"

namespace postern {
namespace {

// Out of descriptors or memory: accepting again at once would spin; a
// second lets connections close and the administrator read the warning.
constexpr std::chrono::seconds kAcceptPause{1};

bool IsResourceShortage(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

}  // namespace

AuthServer::AuthServer(event_base* base, int listen_fd) : base_(base), listen_fd_(listen_fd) {}

AuthServer::~AuthServer() = default;

Status AuthServer::Start() {
  int flags = fcntl(listen_fd_, F_GETFL);
  if (flags < 0 || fcntl(listen_fd_, F_SETFL, flags | O_NONBLOCK) != 0)
    return Status::Error("cannot make the listening socket (fd " + std::to_string(listen_fd_) +
                         ") non-blocking: " + strerror(errno));
  accept_event_.reset(event_new(base_, listen_fd_, EV_READ | EV_PERSIST, OnAccept, this));
  accept_retry_.reset(evtimer_new(base_, OnAcceptRetry, this));
  if (!accept_event_ || !accept_retry_ || event_add(accept_event_.get(), nullptr) != 0)
    return Status::Error("cannot watch the listening socket with libevent");
  return Status::Ok();
}

void AuthServer::OnAccept(evutil_socket_t, short, void* self) {
  static_cast<AuthServer*>(self)->AcceptAll();
}

void AuthServer::OnAcceptRetry(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<AuthServer*>(self_ptr);
  event_add(self->accept_event_.get(), nullptr);
  self->AcceptAll();
}

void AuthServer::AcceptAll() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      Adopt(fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    LOG_WARNING("accept on the auth socket: %s", strerror(errno));
    if (IsResourceShortage(errno)) PauseAccepting();
    return;
  }
}

void AuthServer::PauseAccepting() {
  event_del(accept_event_.get());
  timeval pause = ToTimeval(kAcceptPause);
  evtimer_add(accept_retry_.get(), &pause);
}

void AuthServer::Adopt(int fd) {
  auto client = std::make_unique<Client>();
  client->server = this;
  client->bev.reset(bufferevent_socket_new(base_, fd, BEV_OPT_CLOSE_ON_FREE));
  if (!client->bev) {
    LOG_WARNING("cannot set up an auth connection: out of memory");
    close(fd);
    return;
  }
  bufferevent_setcb(client->bev.get(), OnRead, nullptr, OnEvent, client.get());
  bufferevent_enable(client->bev.get(), EV_READ | EV_WRITE);
  clients_[client.get()] = std::move(client);
}

void AuthServer::OnRead(bufferevent* bev, void* client_ptr) {
  auto* client = static_cast<Client*>(client_ptr);
  evbuffer* input = bufferevent_get_input(bev);
  size_t length = evbuffer_get_length(input);
  client->decoder.Feed(std::string_view(
      reinterpret_cast<const char*>(evbuffer_pullup(input, static_cast<ev_ssize_t>(length))),
      length));
  evbuffer_drain(input, length);
  for (;;) {
    Result<std::optional<ipc::Frame>> frame = client->decoder.Next();
    if (!frame.ok()) {
      LOG_WARNING("auth client sent a malformed frame: %s; closing its connection",
                  frame.status().message().c_str());
      client->server->Drop(client);
      return;
    }
    if (!frame->has_value()) return;
    if (!client->server->Serve(client, **frame)) return;
  }
}

bool AuthServer::Serve(Client* client, const ipc::Frame& frame) {
  if (frame.type == ipc::MsgType::kPing && frame.payload.empty()) {
    std::string pong = ipc::EncodeFrame(ipc::MsgType::kPong, "");
    bufferevent_write(client->bev.get(), pong.data(), pong.size());
    return true;
  }
  LOG_WARNING(
      "auth client sent message type %u (%zu payload bytes), which authd does not "
      "serve; closing its connection",
      static_cast<unsigned>(frame.type), frame.payload.size());
  Drop(client);
  return false;
}

void AuthServer::OnEvent(bufferevent*, short what, void* client_ptr) {
  auto* client = static_cast<Client*>(client_ptr);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) client->server->Drop(client);
}

void AuthServer::Drop(Client* client) { clients_.erase(client); }

}  // namespace postern
