// smtpd/service_connection.h — one framed stream connection from a worker to
// a service daemon (qmgr, authd).
//
// Owns the socket's bufferevent and splits what arrives into lib/ipc/frame.h
// frames, so that QueueClient and AuthClient read, frame and notice a broken
// peer the same way. It never interprets a frame (that is its owner's job)
// and never blocks: Send() only queues bytes for the event loop. A peer that
// lets kMaxUnsentBytes pile up has stopped reading: that is its failure, and
// the connection fails as if it had closed.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "lib/ipc/frame.h"
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

  // Takes ownership of fd, replacing any current connection. False (fd
  // closed, error logged) when the event buffer cannot be made.
  bool Open(int fd);
  void Close();
  bool open() const { return bev_ != nullptr; }

  // Queues one frame; only while open(). Past kMaxUnsentBytes the frame is
  // dropped and the connection fails (reported from the loop, never from
  // inside Send()).
  void Send(ipc::MsgType type, std::string_view payload);
  template <typename Message>
  void Send(const Message& message) {
    Send(Message::kType, message.Encode());
  }
  // Bytes queued and not yet written to the socket.
  size_t unsent() const;

 private:
  static void OnRead(bufferevent* bev, void* self);
  static void OnWrite(bufferevent* bev, void* self);
  static void OnEvent(bufferevent* bev, short what, void* self);
  static void OnOverflow(evutil_socket_t, short, void* self);
  void Fail(const std::string& why);

  event_base* base_;
  std::string peer_name_;
  Handlers handlers_;
  BufferEventPtr bev_;
  ipc::FrameDecoder decoder_;
  EventPtr overflow_event_;
};

}  // namespace postern
