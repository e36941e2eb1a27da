// lib/net/connection_stream.cc — see lib/net/connection_stream.h.
#include "lib/net/connection_stream.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace postern {
namespace {

bool WouldBlock(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

}  // namespace

ConnectionStream::~ConnectionStream() {
  read_event_.reset();
  write_event_.reset();
  if (in_fd_ >= 0) close(in_fd_);
  if (out_fd_ >= 0 && out_fd_ != in_fd_) close(out_fd_);
}

Status ConnectionStream::Open(event_base* base, int in_fd, int out_fd, Owner* owner) {
  owner_ = owner;
  in_fd_ = in_fd;
  out_fd_ = out_fd;
  evutil_make_socket_nonblocking(in_fd);
  if (out_fd != in_fd) evutil_make_socket_nonblocking(out_fd);
  struct stat out {};
  out_is_socket_ = fstat(out_fd, &out) == 0 && S_ISSOCK(out.st_mode);
  read_event_.reset(event_new(base, in_fd, EV_READ | EV_PERSIST, OnReadable, this));
  write_event_.reset(event_new(base, out_fd, EV_WRITE | EV_PERSIST, OnWritable, this));
  if (!read_event_ || !write_event_)
    return Status::Error("cannot allocate the events of a client connection");
  return Status::Ok();
}

void ConnectionStream::SetReading(bool on) {
  if (on == reading_ || (on && (input_ended_ || stopped_))) return;
  if (on) {
    event_add(read_event_.get(), nullptr);
  } else {
    event_del(read_event_.get());
  }
  reading_ = on;
}

void ConnectionStream::Write(std::string_view bytes) {
  if (bytes.empty()) return;
  output_.append(bytes);
  if (writing_ || stopped_) return;
  event_add(write_event_.get(), nullptr);
  writing_ = true;
}

void ConnectionStream::Stop() {
  SetReading(false);
  if (writing_) event_del(write_event_.get());
  writing_ = false;
  stopped_ = true;
}

void ConnectionStream::Fail() {
  Stop();
  owner_->OnEnded(true);
}

void ConnectionStream::OnReadable(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<ConnectionStream*>(self_ptr);
  // One buffer for every stream: nothing read stays here past OnData.
  static char buffer[kReadChunk];
  ssize_t n = read(self->in_fd_, buffer, sizeof buffer);
  if (n > 0) return self->owner_->OnData(std::string_view(buffer, static_cast<size_t>(n)));
  if (n < 0 && WouldBlock(errno)) return;
  if (n < 0) return self->Fail();
  self->SetReading(false);
  self->input_ended_ = true;
  self->owner_->OnEnded(false);
}

void ConnectionStream::OnWritable(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<ConnectionStream*>(self_ptr);
  const char* bytes = self->output_.data() + self->sent_;
  // A peer gone is an error to handle here, never a SIGPIPE.
  ssize_t n = self->out_is_socket_ ? send(self->out_fd_, bytes, self->unsent(), MSG_NOSIGNAL)
                                   : write(self->out_fd_, bytes, self->unsent());
  if (n < 0 && WouldBlock(errno)) return;
  if (n < 0) return self->Fail();
  self->sent_ += static_cast<size_t>(n);
  if (self->unsent() > 0) {
    // A peer that reads slowly while more is written: what it took goes.
    if (self->sent_ > self->output_.size() / 2) {
      self->output_.erase(0, self->sent_);
      self->sent_ = 0;
    }
    return;
  }
  std::string().swap(self->output_);  // an idle connection holds no buffer
  self->sent_ = 0;
  event_del(self->write_event_.get());
  self->writing_ = false;
  self->owner_->OnDrained();
}

}  // namespace postern
