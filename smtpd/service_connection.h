// smtpd/service_connection.h — one framed stream connection from a worker to
// a service daemon (qmgr, authd).
//
// Owns the socket (lib/net/client_stream) and splits what arrives into
// lib/ipc/frame.h frames, so that QueueClient and AuthClient read, frame and
// notice a broken peer the same way. It never interprets a frame (that is its
// owner's job) and never blocks: Send() queues bytes, and the frames queued
// in one turn of the event loop go out together at its end, in one write
// when the socket takes them. A peer that lets kMaxUnsentBytes pile up has
// stopped reading: that is its failure, and the connection fails as if it
// had closed.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lib/ipc/frame.h"
#include "lib/net/client_stream.h"
#include "lib/net/event_handles.h"

namespace postern {

class ServiceConnection {
 public:
  static constexpr size_t kMaxUnsentBytes = 64 << 20;

  struct Handlers {
    // One complete frame, from the event loop. The handler may Close() the
    // connection; no further frame of that connection is delivered then.
    std::function<void(const ipc::Frame&)> frame;
    // The peer closed, the socket failed or the byte stream is not framed
    // correctly. The connection is already closed when this runs (from the
    // event loop), so the handler may Open() a new one.
    std::function<void(const std::string& why)> failed;
    // Everything queued has been written to the socket. Optional.
    std::function<void()> written;
  };

  // peer_name ("qmgr", "authd") shapes the failure reasons.
  ServiceConnection(event_base* base, std::string peer_name, Handlers handlers);
  ~ServiceConnection();
  ServiceConnection(const ServiceConnection&) = delete;
  ServiceConnection& operator=(const ServiceConnection&) = delete;

  // Takes ownership of fd, replacing any current connection.
  void Open(int fd);
  void Close();
  bool open() const { return stream_ != nullptr; }

  // Queues one frame; only while open(). Past kMaxUnsentBytes the frame is
  // dropped and the connection fails (reported from the loop, never from
  // inside Send()).
  void Send(ipc::MsgType type, std::string_view payload);
  template <typename Message>
  void Send(const Message& message) {
    Send(Message::kType, message.Encode());
  }
  // The same for a payload given in two parts, head then tail, each copied
  // once, into the queue.
  void Send(ipc::MsgType type, std::string_view head, std::string_view tail);
  // Bytes queued and not yet written to the socket.
  size_t unsent() const;

 private:
  static void OnFlush(evutil_socket_t, short, void* self);
  static void OnOverflow(evutil_socket_t, short, void* self);
  void OnInput(std::string_view bytes);
  void Fail(const std::string& why);

  event_base* base_;
  std::string peer_name_;
  Handlers handlers_;
  std::unique_ptr<ClientStream> stream_;
  // Closed from inside one of their own callbacks: freed by OnFlush.
  std::vector<std::unique_ptr<ClientStream>> retired_;
  ipc::FrameDecoder decoder_;
  EventPtr flush_event_;
  EventPtr overflow_event_;
};

}  // namespace postern
