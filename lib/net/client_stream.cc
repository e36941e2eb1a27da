// lib/net/client_stream.cc — see lib/net/client_stream.h.
//
// Level-triggered libevent events: the read event stays added while input is
// wanted (and, lazily, until it fires once while paused); the write event is
// added only while output waits for the descriptor. A socket is written with
// send(MSG_NOSIGNAL), so a closed peer is an EPIPE error reported through
// on_error, never a SIGPIPE.
#include "lib/net/client_stream.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "lib/base/log.h"

namespace postern {
namespace {

void MakeNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  // master accepts with SOCK_NONBLOCK, and the flag travels with the
  // descriptor: a session from master costs no second fcntl.
  if (flags >= 0 && (flags & O_NONBLOCK) == 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

bool WouldBlock(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

}  // namespace

ClientStream::ClientStream(event_base* base, int in_fd, int out_fd, Callbacks callbacks)
    : in_fd_(in_fd), out_fd_(out_fd), callbacks_(std::move(callbacks)) {
  MakeNonBlocking(in_fd_);
  if (out_fd_ != in_fd_) MakeNonBlocking(out_fd_);
  read_event_.reset(event_new(base, in_fd_, EV_READ | EV_PERSIST, OnReadable, this));
  write_event_.reset(event_new(base, out_fd_, EV_WRITE | EV_PERSIST, OnWritable, this));
  if (!read_event_ || !write_event_) PANIC("cannot allocate a client connection's events");
}

ClientStream::~ClientStream() {
  read_event_.reset();
  write_event_.reset();
  close(in_fd_);
  if (out_fd_ != in_fd_) close(out_fd_);
}

void ClientStream::Send(std::string_view bytes) {
  if (stopped_ || write_failed_) return;
  output_.append(bytes);
}

void ClientStream::Flush() {
  // A flush already waiting for the descriptor writes the new bytes too.
  if (stopped_ || write_failed_ || write_event_added_ || unsent() == 0) return;
  if (!WriteQueued()) {
    // Reported from the loop, never from inside the caller's Flush().
    write_failed_ = true;
    event_active(write_event_.get(), EV_WRITE, 0);
    return;
  }
  if (unsent() != 0) {
    event_add(write_event_.get(), nullptr);
    write_event_added_ = true;
  }
}

bool ClientStream::WriteQueued() {
  while (unsent() != 0) {
    ssize_t n = out_is_socket_
                    ? send(out_fd_, output_.data() + output_sent_, unsent(), MSG_NOSIGNAL)
                    : write(out_fd_, output_.data() + output_sent_, unsent());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOTSOCK && out_is_socket_) {
        out_is_socket_ = false;  // smtpd -S writes to its standard output
        continue;
      }
      return WouldBlock(errno);
    }
    output_sent_ += static_cast<size_t>(n);
    // A short write means the socket buffer is full: the next write would
    // only say EAGAIN.
    if (unsent() != 0) return true;
  }
  // Drained: an idle session holds no output buffer at all (20,000 idle
  // sessions are a worker's business, tests/bench/run-scale-bench).
  std::string().swap(output_);
  output_sent_ = 0;
  return true;
}

void ClientStream::SetReading(bool reading) {
  want_reading_ = reading;
  // Pausing is lazy: OnReadable drops the event if it fires while paused.
  if (reading) AddReadEvent();
}

void ClientStream::AddReadEvent() {
  if (read_event_added_ || input_ended_ || stopped_) return;
  event_add(read_event_.get(), nullptr);
  read_event_added_ = true;
}

void ClientStream::DropReadEvent() {
  if (!read_event_added_) return;
  event_del(read_event_.get());
  read_event_added_ = false;
}

void ClientStream::AcknowledgeNow() {
  // Not kept by the kernel: it applies to what has been read so far.
  const int one = 1;
  setsockopt(in_fd_, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

void ClientStream::Stop() {
  stopped_ = true;
  DropReadEvent();
  event_del(write_event_.get());
  write_event_added_ = false;
  std::string().swap(output_);
  output_sent_ = 0;
}

void ClientStream::OnReadable(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<ClientStream*>(self_ptr);
  if (self->stopped_) return;
  if (!self->want_reading_) return self->DropReadEvent();
  // One buffer for every stream of the thread: a session holds input only
  // while its callback runs.
  static thread_local char buffer[kReadLimit];
  ssize_t n = read(self->in_fd_, buffer, sizeof buffer);
  if (n > 0) return self->callbacks_.on_input(std::string_view(buffer, static_cast<size_t>(n)));
  if (n < 0 && WouldBlock(errno)) return;
  self->DropReadEvent();
  if (n == 0) {
    self->input_ended_ = true;
    return self->callbacks_.on_end_of_input();
  }
  self->Stop();
  self->callbacks_.on_error();
}

void ClientStream::OnWritable(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<ClientStream*>(self_ptr);
  if (self->stopped_) return;
  if (!self->write_failed_ && !self->WriteQueued()) self->write_failed_ = true;
  if (self->write_failed_) {
    self->Stop();
    return self->callbacks_.on_error();
  }
  if (self->unsent() != 0) return;
  event_del(self->write_event_.get());
  self->write_event_added_ = false;
  self->callbacks_.on_drained();
}

}  // namespace postern
