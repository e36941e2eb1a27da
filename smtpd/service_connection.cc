// smtpd/service_connection.cc — see smtpd/service_connection.h.
#include "smtpd/service_connection.h"

#include <unistd.h>

#include "lib/base/log.h"

namespace postern {

ServiceConnection::ServiceConnection(event_base* base, std::string peer_name, Handlers handlers)
    : base_(base), peer_name_(std::move(peer_name)), handlers_(std::move(handlers)) {
  overflow_event_.reset(event_new(base_, -1, 0, OnOverflow, this));
}

ServiceConnection::~ServiceConnection() = default;

bool ServiceConnection::Open(int fd) {
  // master connects with a blocking socket and the flag travels with the
  // descriptor; a full socket buffer must not stop the worker's loop.
  evutil_make_socket_nonblocking(fd);
  decoder_ = ipc::FrameDecoder();
  bev_.reset(bufferevent_socket_new(base_, fd, BEV_OPT_CLOSE_ON_FREE));
  if (!bev_) {
    close(fd);
    LOG_ERROR("cannot create an event buffer for the connection to %s", peer_name_.c_str());
    return false;
  }
  bufferevent_setcb(bev_.get(), OnRead, OnWrite, OnEvent, this);
  bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
  return true;
}

void ServiceConnection::Close() {
  bev_.reset();
  event_del(overflow_event_.get());
}

void ServiceConnection::Send(ipc::MsgType type, std::string_view payload) {
  if (unsent() + ipc::kHeaderSize + payload.size() > kMaxUnsentBytes) {
    event_active(overflow_event_.get(), EV_TIMEOUT, 1);
    return;
  }
  std::string frame = ipc::EncodeFrame(type, payload);
  bufferevent_write(bev_.get(), frame.data(), frame.size());
}

void ServiceConnection::OnOverflow(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<ServiceConnection*>(self_ptr);
  if (!self->bev_) return;
  self->Fail(self->peer_name_ + " has stopped reading: " + std::to_string(self->unsent()) +
             " bytes wait to be sent");
}

size_t ServiceConnection::unsent() const {
  return bev_ ? evbuffer_get_length(bufferevent_get_output(bev_.get())) : 0;
}

void ServiceConnection::Fail(const std::string& why) {
  Close();
  handlers_.failed(why);
}

void ServiceConnection::OnRead(bufferevent* bev, void* self_ptr) {
  auto* self = static_cast<ServiceConnection*>(self_ptr);
  evbuffer* input = bufferevent_get_input(bev);
  size_t length = evbuffer_get_length(input);
  std::string bytes(length, '\0');
  evbuffer_remove(input, bytes.data(), length);
  self->decoder_.Feed(bytes);
  // A handler that closed the connection ends the loop; one that also opened
  // a new one left an empty decoder behind.
  while (self->bev_) {
    Result<std::optional<ipc::Frame>> next = self->decoder_.Next();
    if (!next.ok()) {
      self->Fail("connection to " + self->peer_name_ + ": " + next.status().message());
      return;
    }
    if (!next->has_value()) return;
    self->handlers_.frame(**next);
  }
}

void ServiceConnection::OnWrite(bufferevent*, void* self_ptr) {
  auto* self = static_cast<ServiceConnection*>(self_ptr);
  if (self->handlers_.written) self->handlers_.written();
}

void ServiceConnection::OnEvent(bufferevent*, short what, void* self_ptr) {
  auto* self = static_cast<ServiceConnection*>(self_ptr);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
    self->Fail(self->peer_name_ + " closed the connection");
}

}  // namespace postern
