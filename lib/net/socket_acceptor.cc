// lib/net/socket_acceptor.cc — see lib/net/socket_acceptor.h.
#include "lib/net/socket_acceptor.h"

#include <errno.h>
#include <fcntl.h>

#include <cstring>

#include "lib/base/log.h"

namespace postern {
namespace {

bool IsResourceShortage(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

}  // namespace

SocketAcceptor::SocketAcceptor(event_base* base, std::string name, int listen_fd,
                               std::chrono::milliseconds pause, Accepted accepted, Wanted wanted)
    : base_(base),
      name_(std::move(name)),
      listen_fd_(listen_fd),
      pause_(pause),
      accepted_(std::move(accepted)),
      wanted_(std::move(wanted)) {}

Status SocketAcceptor::Start() {
  int flags = fcntl(listen_fd_, F_GETFL);
  if (flags < 0 || fcntl(listen_fd_, F_SETFL, flags | O_NONBLOCK) != 0)
    return Status::FromErrno("cannot make the " + name_ + " non-blocking", errno);
  accept_event_.reset(event_new(base_, listen_fd_, EV_READ | EV_PERSIST, OnAcceptable, this));
  pause_event_.reset(evtimer_new(base_, OnPauseOver, this));
  if (!accept_event_ || !pause_event_)
    return Status::Error("cannot watch the " + name_ + " with libevent");
  Update();
  if (!armed_ && wanted_()) return Status::Error("cannot watch the " + name_ + " with libevent");
  return Status::Ok();
}

void SocketAcceptor::Update() {
  if (!accept_event_) return;
  const bool want = !short_of_descriptors_ && wanted_();
  if (want == armed_) return;
  if (want) {
    armed_ = event_add(accept_event_.get(), nullptr) == 0;
  } else {
    event_del(accept_event_.get());
    armed_ = false;
  }
}

void SocketAcceptor::DescriptorFreed() {
  if (short_of_descriptors_) {
    evtimer_del(pause_event_.get());
    short_of_descriptors_ = false;
  }
  Update();
}

void SocketAcceptor::OnAcceptable(evutil_socket_t, short, void* self) {
  static_cast<SocketAcceptor*>(self)->AcceptAll();
}

void SocketAcceptor::OnPauseOver(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<SocketAcceptor*>(self_ptr);
  self->short_of_descriptors_ = false;
  self->Update();
}

void SocketAcceptor::AcceptAll() {
  while (armed_) {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &length,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      if (!accepted_(fd, peer)) return;
      Update();
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    int error = errno;
    if (!IsResourceShortage(error)) {
      LOG_WARNING("accept on the %s: %s", name_.c_str(), strerror(error));
      return;
    }
    LOG_WARNING("accept on the %s: %s; not accepting for %lld ms or until a connection closes",
                name_.c_str(), strerror(error), static_cast<long long>(pause_.count()));
    short_of_descriptors_ = true;
    Update();
    timeval pause = ToTimeval(pause_);
    evtimer_add(pause_event_.get(), &pause);
    return;
  }
}

}  // namespace postern
