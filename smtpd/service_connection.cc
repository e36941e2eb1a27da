// smtpd/service_connection.cc — see smtpd/service_connection.h.
#include "smtpd/service_connection.h"

#include "lib/base/log.h"

namespace postern {

ServiceConnection::ServiceConnection(event_base* base, std::string peer_name, Handlers handlers)
    : base_(base), peer_name_(std::move(peer_name)), handlers_(std::move(handlers)) {
  flush_event_.reset(event_new(base_, -1, 0, OnFlush, this));
  overflow_event_.reset(event_new(base_, -1, 0, OnOverflow, this));
  if (!flush_event_ || !overflow_event_) PANIC("cannot create the events of a service connection");
}

ServiceConnection::~ServiceConnection() = default;

void ServiceConnection::Open(int fd) {
  Close();
  decoder_ = ipc::FrameDecoder();
  // ClientStream makes the socket non-blocking: master connects with a
  // blocking one, and a full socket buffer must not stop the worker's loop.
  stream_ = std::make_unique<ClientStream>(
      base_, fd, fd,
      ClientStream::Callbacks{
          .on_input = [this](std::string_view bytes) { OnInput(bytes); },
          .on_drained =
              [this] {
                if (handlers_.written) handlers_.written();
              },
          .on_end_of_input = [this] { Fail(peer_name_ + " closed the connection"); },
          .on_error = [this] { Fail(peer_name_ + " closed the connection"); },
      });
  stream_->SetReading(true);
}

void ServiceConnection::Close() {
  event_del(overflow_event_.get());
  if (!stream_) return;
  // Perhaps from inside one of the stream's callbacks: freed from the loop.
  stream_->Stop();
  retired_.push_back(std::move(stream_));
  event_active(flush_event_.get(), EV_TIMEOUT, 0);
}

void ServiceConnection::Send(ipc::MsgType type, std::string_view payload) {
  Send(type, payload, {});
}

void ServiceConnection::Send(ipc::MsgType type, std::string_view head, std::string_view tail) {
  const size_t payload_size = head.size() + tail.size();
  if (unsent() + ipc::kHeaderSize + payload_size > kMaxUnsentBytes) {
    event_active(overflow_event_.get(), EV_TIMEOUT, 1);
    return;
  }
  stream_->Send(ipc::EncodeFrameHeader(type, payload_size));
  stream_->Send(head);
  stream_->Send(tail);
  // The frames of this turn of the loop go out together, at its end.
  event_active(flush_event_.get(), EV_TIMEOUT, 0);
}

void ServiceConnection::OnFlush(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<ServiceConnection*>(self_ptr);
  self->retired_.clear();
  if (!self->stream_ || self->stream_->unsent() == 0) return;
  self->stream_->Flush();
  // Written at once: the stream announces only a drain it had to wait for.
  if (self->stream_ && self->stream_->unsent() == 0 && self->handlers_.written)
    self->handlers_.written();
}

void ServiceConnection::OnOverflow(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<ServiceConnection*>(self_ptr);
  if (!self->stream_) return;
  self->Fail(self->peer_name_ + " has stopped reading: " + std::to_string(self->unsent()) +
             " bytes wait to be sent");
}

size_t ServiceConnection::unsent() const { return stream_ ? stream_->unsent() : 0; }

void ServiceConnection::Fail(const std::string& why) {
  Close();
  handlers_.failed(why);
}

void ServiceConnection::OnInput(std::string_view bytes) {
  decoder_.Feed(bytes);
  // A handler that closed the connection ends the loop; one that also opened
  // a new one left an empty decoder behind.
  ClientStream* reading = stream_.get();
  while (stream_.get() == reading) {
    Result<std::optional<ipc::Frame>> next = decoder_.Next();
    if (!next.ok()) {
      Fail("connection to " + peer_name_ + ": " + next.status().message());
      return;
    }
    if (!next->has_value()) return;
    handlers_.frame(**next);
  }
}

}  // namespace postern
