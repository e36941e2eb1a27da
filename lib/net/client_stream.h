// lib/net/client_stream.h — the bytes of one connection, over a non-blocking
// descriptor, with as few system calls as a session allows: smtpd's client
// connections, and qmgr's connections to next hops once connected.
//
// smtpd's sessions used libevent's bufferevent, which costs a session of one
// message some 70 system calls: every reply is queued and written from the
// next loop turn (an epoll_ctl to add the write event, an epoll_wait, an
// epoll_ctl to drop it), every read asks FIONREAD first, and pausing and
// resuming input is an epoll_ctl each time. A ClientStream instead:
//   - writes at once: Flush() sends what Send() queued with one write(2),
//     and waits for the descriptor to become writable only when the kernel
//     takes less than all of it (EAGAIN or a short write);
//   - reads into one buffer shared by every stream of the thread (an idle
//     session holds no read buffer), at most kReadLimit per readiness, so
//     one fast client cannot starve the others;
//   - pauses reading lazily: SetReading(false) only notes it; the read event
//     is dropped when it next fires while paused, so a client that waits for
//     its answer (nearly every client) costs no epoll_ctl at all.
// Output is unbounded here; the owner bounds it (unsent()).
//
// Callbacks run from the event loop, never from inside Send(), Flush() or
// SetReading(); a write error is reported from the loop too. After on_error,
// or once Stop() is called, no callback runs again. The owner may destroy
// the stream in a callback only by scheduling it (smtpd deletes its drivers
// later).
#pragma once

#include <event2/event.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "lib/net/event_handles.h"

namespace postern {

class ClientStream {
 public:
  struct Callbacks {
    // Bytes arrived; valid only during the call.
    std::function<void(std::string_view bytes)> on_input;
    // Everything queued so far has been written, after Flush() had to wait
    // for the descriptor (a Flush() that writes everything at once says so
    // by unsent() == 0 and does not call this).
    std::function<void()> on_drained;
    // The client closed its side: nothing more is read, but queued and
    // later output is still written (a client that half-closes gets its
    // replies).
    std::function<void()> on_end_of_input;
    // The connection failed (a reset, a write error): nothing is read or
    // written after it.
    std::function<void()> on_error;
  };

  // At most this much is read per readiness of the descriptor.
  static constexpr size_t kReadLimit = 64 * 1024;

  // Owns in_fd and out_fd (the same descriptor for a socket; stdin and
  // stdout in smtpd's stand-alone mode) and makes them non-blocking.
  // Reading starts paused.
  ClientStream(event_base* base, int in_fd, int out_fd, Callbacks callbacks);
  ~ClientStream();
  ClientStream(const ClientStream&) = delete;
  ClientStream& operator=(const ClientStream&) = delete;

  // Queues bytes for Flush().
  void Send(std::string_view bytes);
  // Writes what is queued, as much as the descriptor takes now; the rest
  // when it becomes writable.
  void Flush();
  // Bytes queued and not yet written.
  size_t unsent() const { return output_.size() - output_sent_; }
  // Whether input should be read and delivered to on_input.
  void SetReading(bool reading);
  bool reading() const { return want_reading_; }
  // No callback runs again; queued output is dropped.
  void Stop();
  // Has the kernel acknowledge what was read at once (TCP_QUICKACK), not
  // after its delayed-ACK timer, when there is no reply to carry the
  // acknowledgement; nothing on a descriptor that is not a TCP socket.
  void AcknowledgeNow();

 private:
  static void OnReadable(evutil_socket_t, short, void* self);
  static void OnWritable(evutil_socket_t, short, void* self);
  // Writes from the front of output_ until it is empty or the descriptor
  // takes no more; false on a write error.
  bool WriteQueued();
  void AddReadEvent();
  void DropReadEvent();

  int in_fd_;
  int out_fd_;
  Callbacks callbacks_;
  EventPtr read_event_;
  EventPtr write_event_;
  std::string output_;
  size_t output_sent_ = 0;  // bytes at the front of output_ already written
  bool want_reading_ = false;
  bool read_event_added_ = false;
  bool write_event_added_ = false;
  bool out_is_socket_ = true;  // until send(2) says ENOTSOCK
  bool write_failed_ = false;  // reported from the loop by OnWritable
  bool input_ended_ = false;
  bool stopped_ = false;
};

}  // namespace postern
