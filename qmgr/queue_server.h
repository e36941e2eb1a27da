// qmgr/queue_server.h — qmgr's sockets: message streams from smtpd, and queue control.
//
// Two listening sockets, each taking any number of connections:
//   - the message socket (run_directory/qmgr.sock), where smtpd's
//     connections carry kMessageBegin/Data/End/Abort streams
//     (lib/ipc/messages_queue.h), many at once and interleaved, answered by
//     kMessageResult after the group commit (qmgr/queue_manager.h);
//   - the control socket (run_directory/qmgr-control.sock, root's alone),
//     where kControlRequest is answered by kControlReply
//     (lib/ipc/messages_control.h, qmgr/queue_control.h).
// Each socket serves its own frames only: a control request on the message
// socket drops that connection, so an smtpd taken over by a parser bug can
// stream messages but cannot list, read or delete the queue.
// Content goes into the open batch as it arrives; no message is held whole
// in memory.
//
// A kMessageEnd with report_first_attempt (a listener with an
// acknowledgement_delay) leaves a waiter: once the message is queued and
// the manager announces the end of its first delivery attempt, the stream
// gets one kFirstAttemptEnded and the waiter is forgotten. At most one
// waiter per message, kept only while its connection lasts: a failed
// commit, a closed connection, or one dropped for leaving its output
// unread, forgets them, so nothing grows for an smtpd that never reads.
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
// The connections are a lib/ipc/framed_server: it never blocks, drops a
// peer that leaves too many replies unread, and pauses accepting when qmgr
// runs out of descriptors.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lib/ipc/framed_server.h"
#include "lib/ipc/messages_control.h"
#include "lib/ipc/messages_queue.h"
#include "lib/net/event_handles.h"
#include "lib/queue/envelope.h"
#include "lib/queue/queue_store.h"
#include "qmgr/queue_manager.h"

namespace postern {

class QueueServer {
 public:
  // message_fd and control_fd are listening SOCK_STREAM Unix sockets; the
  // server owns them.
  QueueServer(event_base* base, int message_fd, int control_fd, QueueManager* manager);
  ~QueueServer();
  QueueServer(const QueueServer&) = delete;
  QueueServer& operator=(const QueueServer&) = delete;

  Status Start();
  // Takes no new connections (shutdown).
  void StopAccepting();
  // Closes every connection, aborting unfinished streams (their committed
  // chunks stay for Recover() at the next start).
  void CloseAll();

 private:
  using PeerId = FramedServer::PeerId;
  struct Stream {
    Envelope envelope;
    ContentChunker chunker;
    bool reserved = false;    // holds its queue id in the manager
    uint64_t generation = 0;  // batch holding its latest chunks; 0: none written yet
    Status failure;           // set once the message cannot be queued
  };
  using StreamKey = std::pair<PeerId, uint64_t>;  // connection, stream id

  static void OnHousekeeping(evutil_socket_t, short, void* self);
  void DiscardLater(const std::string& queue_id);
  void Housekeeping();
  // A connection went away: its unfinished streams are aborted.
  void Closed(PeerId peer);

  Status HandleFrame(PeerId peer, const ipc::Frame& frame);
  Status HandleControlFrame(PeerId peer, const ipc::Frame& frame);
  Status Begin(PeerId peer, const ipc::MessageBegin& begin);
  Status Data(PeerId peer, const ipc::MessageData& data);
  Status End(PeerId peer, const ipc::MessageEnd& end);
  void Abort(PeerId peer, const ipc::MessageAbort& abort);

  Status RefusalOf(const Envelope& envelope);
  void FinishFailed(const StreamKey& key, Stream* stream);
  void DropStream(const StreamKey& key);
  void Answer(PeerId peer, uint64_t stream_id, const Status& outcome, const std::string& queue_id);
  void OnBatchFailed(uint64_t generation, const Status& failure);
  void OnStreamGivenUp(const std::string& queue_id, const Status& why);
  void OnAttemptEnded(const std::string& queue_id, ipc::AttemptSummary summary);

  event_base* base_;
  QueueManager* manager_;
  // Discarding content waits for this event, so no callback ever opens a
  // batch that its caller is using.
  EventPtr housekeeping_event_;
  std::vector<std::string> to_discard_;
  std::map<StreamKey, Stream> streams_;
  // Messages whose first attempt a stream waits to hear of, by queue id.
  std::map<std::string, StreamKey> attempt_waiters_;
  FramedServer server_;   // the message socket
  FramedServer control_;  // the control socket
};

}  // namespace postern
