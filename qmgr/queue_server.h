// qmgr/queue_server.h — qmgr's socket: message streams from smtpd, and queue control.
//
// Accepts any number of connections on the queue socket. Each carries
// frames: kMessageBegin/Data/End/Abort streams (lib/ipc/messages_queue.h),
// many at once and interleaved, answered by kMessageResult after the group
// commit (qmgr/queue_manager.h); and kControlRequest, answered by
// kControlReply (lib/ipc/messages_control.h, qmgr/queue_control.h). Content
// goes into the open batch as it arrives; no message is held whole in memory.
//
// A stream is refused (kMessageResult with a failure once it ends) for an
// invalid or duplicate queue id or an envelope without recipients, and
// answered "insufficient resources" when the disk floor gives it up (its
// own piece does not fit, or older streams needed its room: the
// manager's StreamGivenUp callback). A frame
// that does not parse, or a stream id used out of turn, is a protocol error
// that closes that connection only, with a log line saying why. A
// connection that goes away aborts its unfinished streams; messages it had
// already ended are still queued (and delivered) though nobody hears so.
// Never blocks: output that the peer does not take at once waits for a
// write event.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lib/ipc/messages_control.h"
#include "lib/ipc/messages_queue.h"
#include "lib/net/event_handles.h"
#include "lib/queue/envelope.h"
#include "lib/queue/queue_store.h"
#include "qmgr/queue_manager.h"

namespace postern {

class QueueServer {
 public:
  // listen_fd is a listening SOCK_STREAM Unix socket; the server owns it.
  QueueServer(event_base* base, int listen_fd, QueueManager* manager);
  ~QueueServer();
  QueueServer(const QueueServer&) = delete;
  QueueServer& operator=(const QueueServer&) = delete;

  Status Start();
  // Takes no new connections (shutdown).
  void StopAccepting();
  // Closes every connection, aborting unfinished streams.
  void CloseAll();

 private:
  struct Connection {
    QueueServer* server = nullptr;
    uint64_t id = 0;
    int fd = -1;
    EventPtr read_event;
    EventPtr write_event;
    ipc::FrameDecoder decoder;
    std::string output;
    bool closing = false;
    ~Connection();
  };
  struct Stream {
    Envelope envelope;
    ContentChunker chunker;
    bool reserved = false;    // holds its queue id in the manager
    uint64_t generation = 0;  // batch holding its latest chunks; 0: none written yet
    Status failure;           // set once the message cannot be queued
  };
  using StreamKey = std::pair<uint64_t, uint64_t>;  // connection id, stream id

  static void OnAccept(evutil_socket_t fd, short, void* self);
  static void OnReadable(evutil_socket_t fd, short, void* arg);
  static void OnWritable(evutil_socket_t fd, short, void* arg);
  static void OnHousekeeping(evutil_socket_t, short, void* self);

  void Accept();
  void Read(Connection* c);
  void Flush(Connection* c);
  template <typename Message>
  void Send(uint64_t connection_id, const Message& message) {
    SendFrame(connection_id, ipc::EncodeFrame(message));
  }
  void SendFrame(uint64_t connection_id, const std::string& frame);
  void CloseLater(Connection* c, const std::string& why);
  void DiscardLater(const std::string& queue_id);
  void Housekeeping();

  Status HandleFrame(Connection* c, const ipc::Frame& frame);
  Status Begin(Connection* c, const ipc::MessageBegin& begin);
  Status Data(Connection* c, const ipc::MessageData& data);
  Status End(Connection* c, const ipc::MessageEnd& end);
  void Abort(Connection* c, const ipc::MessageAbort& abort);
  void Control(Connection* c, const ipc::ControlRequest& request);

  Status RefusalOf(const Envelope& envelope);
  void FinishFailed(const StreamKey& key, Stream* stream);
  void DropStream(const StreamKey& key);
  void Answer(uint64_t connection_id, uint64_t stream_id, const Status& outcome,
              const std::string& queue_id);
  void OnBatchFailed(uint64_t generation, const Status& failure);
  void OnStreamGivenUp(const std::string& queue_id, const Status& why);

  event_base* base_;
  int listen_fd_;
  QueueManager* manager_;
  EventPtr accept_event_;
  // Closing connections and discarding content wait for this event, so no
  // callback ever frees a connection or opens a batch that its caller is using.
  EventPtr housekeeping_event_;
  std::vector<std::string> to_discard_;
  std::vector<char> read_buffer_;
  uint64_t next_connection_id_ = 1;
  std::map<uint64_t, std::unique_ptr<Connection>> connections_;
  std::map<StreamKey, Stream> streams_;
};

}  // namespace postern
