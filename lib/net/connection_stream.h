// lib/net/connection_stream.h — the bytes of one client connection on an event
// loop: what arrives goes to the owner, what the owner writes leaves when the
// connection can take it.
//
// An smtpd worker holds thousands of sessions, most of them idle, so what a
// connection holds while nothing moves is what counts: a bufferevent holds about
// a kilobyte whether or not anything is buffered (its struct, two evbuffers,
// their callbacks). A ConnectionStream holds two events (reading the input
// descriptor, writing the output one: the same socket, or stdin and stdout for
// smtpd -S) and, only while the peer has not taken everything written, the
// bytes it has not taken.
//
// Decisions:
//   - Reading: while reading is on, each readiness of the input reads once, at
//     most kReadChunk bytes, into a buffer shared by every stream of the
//     process, and hands them to Owner::OnData at once: nothing is kept
//     between callbacks, and one fast client cannot starve the others (the
//     rest is read on the loop's next round).
//   - Writing: Write() only appends; the bytes leave from the loop once the
//     output is writable, as with a bufferevent, so no owner callback runs
//     inside Write(). When everything written has left, Owner::OnDrained runs
//     and the buffer is freed.
//   - The end of input (a read of 0 bytes) stops reading for good and calls
//     Owner::OnEnded(false); what is written still goes out (a client that
//     half-closes gets its replies). An error reading or writing, or Stop(),
//     stops both directions for good; an error then calls
//     Owner::OnEnded(true). Once stopped, Write() keeps the bytes and sends
//     nothing.
//   - The descriptors are the stream's: closed with it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "lib/base/status.h"
#include "lib/net/event_handles.h"

namespace postern {

class ConnectionStream {
 public:
  // What happens on the connection. None of these is called from inside a
  // ConnectionStream method; each may call any of them.
  class Owner {
   public:
    virtual void OnData(std::string_view bytes) = 0;
    virtual void OnDrained() = 0;
    // The input ended (error false) or the connection failed (error true).
    virtual void OnEnded(bool error) = 0;

   protected:
    ~Owner() = default;
  };

  // The most one readiness of the input reads.
  static constexpr size_t kReadChunk = 64 * 1024;

  ConnectionStream() = default;
  ~ConnectionStream();
  ConnectionStream(const ConnectionStream&) = delete;
  ConnectionStream& operator=(const ConnectionStream&) = delete;

  // Takes in_fd and out_fd (the same descriptor for a socket), makes them
  // non-blocking and watches them on base for owner. Reading starts off.
  Status Open(event_base* base, int in_fd, int out_fd, Owner* owner);

  void SetReading(bool on);
  bool reading() const { return reading_; }
  void Write(std::string_view bytes);
  // Bytes written and not yet taken by the peer.
  size_t unsent() const { return output_.size() - sent_; }
  // Stops both directions for good; the descriptors stay open until the
  // stream is destroyed.
  void Stop();

 private:
  static void OnReadable(evutil_socket_t, short, void* self);
  static void OnWritable(evutil_socket_t, short, void* self);
  void Fail();

  Owner* owner_ = nullptr;
  int in_fd_ = -1;
  int out_fd_ = -1;
  bool out_is_socket_ = false;
  EventPtr read_event_;
  EventPtr write_event_;
  std::string output_;
  size_t sent_ = 0;  // bytes of output_ already written
  bool reading_ = false;
  bool writing_ = false;  // write_event_ is pending
  bool input_ended_ = false;
  bool stopped_ = false;
};

}  // namespace postern
