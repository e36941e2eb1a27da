// lib/ipc/datagram_channel.cc — see lib/ipc/datagram_channel.h.
#include "lib/ipc/datagram_channel.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace postern {
namespace {

// Room for thousands of small frames in the kernel before the queue is used
// at all. SO_SNDBUFFORCE passes the system's wmem_max but needs root (master,
// or smtpd before it drops privileges); otherwise the plain request is capped.
constexpr int kSendBufferBytes = 4 << 20;

void EnlargeSendBuffer(int fd) {
  int size = kSendBufferBytes;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

enum class SendResult { kSent, kFull, kFailed };

SendResult SendDatagram(int fd, const std::string& bytes, int fd_to_pass, int* error) {
  if (ipc::SendWithDescriptor(fd, bytes, fd_to_pass, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
    return SendResult::kSent;
  *error = errno;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return SendResult::kFull;
  return SendResult::kFailed;
}

}  // namespace

DatagramChannel::DatagramChannel(event_base* base, int fd, std::string peer_name, Handlers handlers)
    : peer_name_(std::move(peer_name)), handlers_(std::move(handlers)), fd_(fd) {
  evutil_make_socket_nonblocking(fd_);
  EnlargeSendBuffer(fd_);
  read_event_.reset(event_new(base, fd_, EV_READ | EV_PERSIST, OnReadable, this));
  write_event_.reset(event_new(base, fd_, EV_WRITE, OnWritable, this));
  failure_event_.reset(event_new(base, -1, 0, OnFailure, this));
  event_add(read_event_.get(), nullptr);
}

DatagramChannel::~DatagramChannel() { Close(); }

void DatagramChannel::Close() {
  if (fd_ < 0) return;
  event_del(read_event_.get());
  event_del(write_event_.get());
  event_del(failure_event_.get());
  close(fd_);
  fd_ = -1;
  DropQueue();
}

void DatagramChannel::DropQueue() {
  for (Outgoing& out : queue_)
    if (out.fd >= 0) close(out.fd);
  queue_.clear();
  queued_bytes_ = 0;
}

Status DatagramChannel::Send(ipc::MsgType type, std::string_view payload, int fd_to_pass) {
  if (fd_ < 0) return Status::Error("the channel to " + peer_name_ + " is closed");
  if (!failure_.empty()) return Status::Error(failure_);
  if (payload.size() > ipc::kMaxPayload)
    return Status::Error("refusing to send a frame of " + std::to_string(payload.size()) +
                         " bytes to " + peer_name_);
  std::string bytes = ipc::EncodeFrame(type, payload);
  if (queue_.empty()) {
    int error = 0;
    switch (SendDatagram(fd_, bytes, fd_to_pass, &error)) {
      case SendResult::kSent:
        return Status::Ok();
      case SendResult::kFull:
        break;
      case SendResult::kFailed:
        // A descriptor that cannot be passed (ETOOMANYREFS) fails this frame;
        // anything else fails the channel.
        if (error == ETOOMANYREFS)
          return Status::Error("cannot pass a descriptor to " + peer_name_ + ": " +
                               strerror(error));
        FailLater("cannot send to " + peer_name_ + ": " + strerror(error));
        return Status::Error(failure_);
    }
  }
  if (queued_bytes_ + bytes.size() > kMaxQueuedBytes) {
    FailLater(peer_name_ + " has stopped reading: " + std::to_string(queue_.size()) +
              " frames wait to be sent");
    return Status::Error(failure_);
  }
  Outgoing out;
  if (fd_to_pass >= 0) {
    out.fd = fcntl(fd_to_pass, F_DUPFD_CLOEXEC, 0);
    if (out.fd < 0)
      return Status::Error("cannot keep a descriptor for " + peer_name_ + ": " + strerror(errno));
  }
  queued_bytes_ += bytes.size();
  out.bytes = std::move(bytes);
  queue_.push_back(std::move(out));
  event_add(write_event_.get(), nullptr);
  return Status::Ok();
}

bool DatagramChannel::Flush() {
  while (!queue_.empty()) {
    Outgoing& out = queue_.front();
    int error = 0;
    SendResult result = SendDatagram(fd_, out.bytes, out.fd, &error);
    if (result == SendResult::kFull) {
      event_add(write_event_.get(), nullptr);
      return true;
    }
    if (result == SendResult::kFailed && error != ETOOMANYREFS) {
      FailLater("cannot send to " + peer_name_ + ": " + strerror(error));
      return false;
    }
    // Sent, or a descriptor the kernel will not pass: the frame is done with.
    if (out.fd >= 0) close(out.fd);
    queued_bytes_ -= out.bytes.size();
    queue_.pop_front();
  }
  return true;
}

void DatagramChannel::FailLater(std::string why, bool peer_closed) {
  if (!failure_.empty()) return;
  failure_ = std::move(why);
  peer_closed_ = peer_closed;
  event_del(read_event_.get());
  event_del(write_event_.get());
  event_active(failure_event_.get(), EV_TIMEOUT, 1);
}

void DatagramChannel::OnFailure(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<DatagramChannel*>(self_ptr);
  std::string why = self->failure_;
  self->Close();
  self->handlers_.failed(why, self->peer_closed_);
}

void DatagramChannel::OnWritable(evutil_socket_t, short, void* self_ptr) {
  static_cast<DatagramChannel*>(self_ptr)->Flush();
}

void DatagramChannel::OnReadable(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<DatagramChannel*>(self_ptr);
  // A bounded batch, so a chatty peer does not starve the rest of the loop.
  for (int i = 0; i < 256 && self->fd_ >= 0 && self->failure_.empty(); ++i) {
    Result<ipc::Datagram> datagram = ipc::ReceiveDatagram(self->fd_, &self->receive_buffer_);
    if (!datagram.ok()) {
      const Status& status = datagram.status();
      if (status.is_would_block()) return;
      if (status.is_end_of_file()) {
        self->FailLater(self->peer_name_ + " closed the channel", true);
      } else {
        self->FailLater("channel to " + self->peer_name_ + ": " + status.message());
      }
      return;
    }
    self->handlers_.frame(*datagram);
  }
}

}  // namespace postern
