// master/listener_sockets.cc — see master/listener_sockets.h.
#include "master/listener_sockets.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "lib/base/log.h"
#include "lib/net/tcp_listener.h"

namespace postern {
namespace {

// How long accepting pauses when master has no descriptor left.
constexpr Duration kAcceptPause = std::chrono::milliseconds(100);

}  // namespace

ListenerSockets::ListenerSockets(event_base* base, AcceptCallback on_accept)
    : base_(base), on_accept_(std::move(on_accept)) {}

ListenerSockets::~ListenerSockets() { CloseAll(); }

Status ListenerSockets::Apply(const Config& config) {
  std::map<std::string, std::vector<const ListenerConfig*>> wanted;
  std::map<std::string, BindAddress> addresses;
  for (const ListenerConfig& listener : config.listeners) {
    for (const BindAddress& bind : listener.bind) {
      wanted[bind.ToString()].push_back(&listener);
      addresses.emplace(bind.ToString(), bind);
    }
  }
  // Bind every new address first, so a failure leaves the old set intact.
  std::map<std::string, int> fresh;
  for (const auto& [key, listeners] : wanted) {
    if (sockets_.count(key)) continue;
    Result<int> fd = BindTcpListener(addresses.at(key), "listener " + listeners.front()->name);
    if (!fd.ok()) {
      for (auto& [k, f] : fresh) close(f);
      return fd.status();
    }
    fresh[key] = *fd;
  }
  for (auto it = sockets_.begin(); it != sockets_.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    Close(&it->second);
    it = sockets_.erase(it);
  }
  for (const auto& [key, listeners] : wanted) {
    Socket& socket = sockets_[key];
    socket.address = addresses.at(key);
    socket.listeners = listeners;
    if (fresh.count(key)) {
      socket.fd = fresh[key];
      socket.context.reset(new AcceptContext{this, key});
      socket.event.reset(
          event_new(base_, socket.fd, EV_READ | EV_PERSIST, OnAcceptable, socket.context.get()));
      event_add(socket.event.get(), nullptr);
      LOG_INFO("listening on %s for %s", key.c_str(), listeners.front()->name.c_str());
    }
  }
  return Status::Ok();
}

void ListenerSockets::Close(Socket* socket) {
  socket->event.reset();
  socket->context.reset();
  if (socket->fd >= 0) close(socket->fd);
  socket->fd = -1;
}

void ListenerSockets::CloseAll() {
  for (auto& [key, socket] : sockets_) Close(&socket);
  sockets_.clear();
}

void ListenerSockets::OnAcceptable(evutil_socket_t fd, short, void* context_ptr) {
  auto* context = static_cast<AcceptContext*>(context_ptr);
  ListenerSockets* self = context->owner;
  // Accept a bounded batch, so one busy socket does not starve the loop.
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage peer{};
    socklen_t peer_length = sizeof peer;
    // Non-blocking here, so that the worker that receives it need not ask.
    int client =
        accept4(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        return self->PauseAccepting(context->key, errno);
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        LOG_WARNING("accept on %s: %s", context->key.c_str(), strerror(errno));
      return;
    }
    auto it = self->sockets_.find(context->key);
    if (it == self->sockets_.end()) {
      close(client);
      return;
    }
    self->on_accept_(client, peer, it->second.address, it->second.listeners);
  }
}

void ListenerSockets::PauseAccepting(const std::string& key, int error) {
  if (paused_) return;
  paused_ = true;
  LOG_WARNING("accept on %s: %s; not accepting for %lld ms", key.c_str(), strerror(error),
              static_cast<long long>(kAcceptPause.count()));
  for (auto& [k, socket] : sockets_) event_del(socket.event.get());
  if (!resume_timer_) resume_timer_.reset(evtimer_new(base_, OnResume, this));
  timeval tv = ToTimeval(kAcceptPause);
  evtimer_add(resume_timer_.get(), &tv);
}

void ListenerSockets::OnResume(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<ListenerSockets*>(self_ptr);
  self->paused_ = false;
  for (auto& [key, socket] : self->sockets_)
    if (socket.event) event_add(socket.event.get(), nullptr);
}

}  // namespace postern
