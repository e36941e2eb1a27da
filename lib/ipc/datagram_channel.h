// lib/ipc/datagram_channel.h — a SOCK_SEQPACKET channel on a libevent loop that
// never loses a frame.
//
// master and each smtpd worker talk over one such channel (lib/ipc/frame.h frames,
// one per datagram, descriptors attached with SCM_RIGHTS). A frame that the
// socket cannot take now (EAGAIN: the peer is busy for a moment, or a burst
// filled the socket buffer) waits in order in an outgoing queue, with its own
// duplicate of any descriptor it carries, and goes out when the socket is
// writable again. The queue is bounded: a peer that lets kMaxQueuedBytes pile
// up has stopped reading, and that is a failure of the peer. The channel then
// closes and reports it through Handlers::failed, as it does when the peer
// closes or sends a datagram that is not a frame.
//
// Handlers run from the event loop. They may call Close() but must not
// destroy the channel; the owner destroys it later, outside its callbacks.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include "lib/base/status.h"
#include "lib/ipc/frame.h"
#include "lib/net/event_handles.h"

namespace postern {

class DatagramChannel {
 public:
  // Past this many queued bytes the peer is taken for dead. A hand-off is
  // about 100 bytes, so this is tens of thousands of frames.
  static constexpr size_t kMaxQueuedBytes = 16 << 20;

  struct Handlers {
    // One frame; the handler owns datagram.fd.
    std::function<void(ipc::Datagram& datagram)> frame;
    // The peer closed the channel (peer_closed), or stopped reading, or
    // broke the framing. The channel is closed when this runs; it runs once.
    std::function<void(const std::string& why, bool peer_closed)> failed;
  };

  // Takes ownership of fd (made non-blocking here); peer_name ("smtpd 1234",
  // "master") shapes the failure reasons.
  DatagramChannel(event_base* base, int fd, std::string peer_name, Handlers handlers);
  ~DatagramChannel();
  DatagramChannel(const DatagramChannel&) = delete;
  DatagramChannel& operator=(const DatagramChannel&) = delete;

  // Sends the frame now, or queues it behind the frames already waiting; the
  // caller keeps fd_to_pass either way. An error means this frame was not
  // sent and will not be: the channel is closed or failing, the frame is too
  // large, or the descriptor cannot be passed or duplicated now (no
  // descriptor left). Never blocks and never calls a handler.
  Status Send(ipc::MsgType type, std::string_view payload, int fd_to_pass = -1);
  template <typename Message>
  Status Send(const Message& message, int fd_to_pass = -1) {
    return Send(Message::kType, message.Encode(), fd_to_pass);
  }
  // The owner's verdict that the peer broke the protocol (a frame that does
  // not decode, a type it must not send): no further frame is delivered, and
  // Handlers::failed runs with why from the loop, as for a framing error.
  void Fail(std::string why) { FailLater(std::move(why)); }
  // Stops reading and writing and closes the socket; queued frames are
  // dropped. No handler runs afterwards.
  void Close();
  bool open() const { return fd_ >= 0; }
  // Frames waiting for the socket to take them.
  size_t queued_frames() const { return queue_.size(); }

 private:
  struct Outgoing {
    std::string bytes;
    int fd = -1;  // the channel's own duplicate, closed once sent
  };

  static void OnReadable(evutil_socket_t, short, void* self);
  static void OnWritable(evutil_socket_t, short, void* self);
  static void OnFailure(evutil_socket_t, short, void* self);
  // Writes queued frames until the socket is full; false when it failed.
  bool Flush();
  // Schedules the failed handler from the loop (never from inside Send()).
  void FailLater(std::string why, bool peer_closed = false);
  void DropQueue();

  std::string peer_name_;
  Handlers handlers_;
  int fd_;
  EventPtr read_event_;
  EventPtr write_event_;
  EventPtr failure_event_;
  std::deque<Outgoing> queue_;
  size_t queued_bytes_ = 0;
  std::string failure_;
  bool peer_closed_ = false;
  ipc::DatagramBuffer receive_buffer_;
};

}  // namespace postern
