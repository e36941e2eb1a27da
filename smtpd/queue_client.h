// smtpd/queue_client.h — this worker's connection to qmgr.
//
// Multiplexes the message streams of every session in the worker over one
// Unix socket to qmgr (lib/ipc/messages_queue.h) and routes each
// kMessageResult, and each kFirstAttemptEnded a stream asked for, back to
// the session that is waiting for it. When the connection fails, every
// open stream fails with a temporary error (the client sees 451 and
// retries; nothing acknowledged is lost), a stream queued and waiting for
// its first attempt is forgotten (that report will not come; the
// session's acknowledgement_delay ends the wait), and a new connection is
// requested from master. Never blocks.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lib/ipc/messages_queue.h"
#include "lib/net/event_handles.h"
#include "lib/queue/envelope.h"
#include "smtpd/service_connection.h"

namespace postern {

class QueueClient {
 public:
  using ResultCallback = std::function<void(ipc::QueueOutcome, const std::string&)>;
  using AttemptCallback = std::function<void(ipc::AttemptSummary)>;

  // request_connection is called whenever a (new) socket to qmgr is needed;
  // the answer arrives through Attach().
  QueueClient(event_base* base, std::function<void()> request_connection);
  ~QueueClient();

  void Attach(int fd);
  // master could not connect to qmgr; the next Begin() asks again.
  void AttachFailed() { connection_requested_ = false; }
  bool connected() const { return connection_.open(); }

  // Opens a stream; on_result is called exactly once, after End(), unless
  // Forget() is called first.
  uint64_t Begin(const Envelope& envelope, ResultCallback on_result);
  void Data(uint64_t stream, std::string_view bytes);
  // Asks qmgr to commit the stream's message. With on_attempt, qmgr also
  // reports the end of its first delivery attempt: on_attempt is called
  // once, after on_result said kQueued, unless Forget() is called first or
  // the connection fails.
  void End(uint64_t stream, AttemptCallback on_attempt = {});
  // Abandons a stream: an unfinished one is aborted in qmgr, a finished one
  // keeps its outcome but nobody is told.
  void Forget(uint64_t stream);

  // True while too many bytes wait to go to qmgr; sessions stop reading
  // from clients and ask to be woken with WhenUncongested(). A waiter that
  // goes away first calls CancelWait() with the same key.
  bool congested() const;
  void WhenUncongested(const void* key, std::function<void()> wake);
  void CancelWait(const void* key);

 private:
  struct Stream {
    ResultCallback on_result;
    AttemptCallback on_attempt;  // set: the first attempt's report is wanted
    bool ended = false;
    bool failed = false;
    bool queued = false;  // on_result said kQueued; waits for the report
  };

  void Written();
  void HandleFrame(const ipc::Frame& frame);
  void FailAll(const std::string& why);
  void Finish(uint64_t stream, ipc::QueueOutcome outcome, const std::string& text);
  void AttemptEnded(uint64_t stream, ipc::AttemptSummary summary);

  std::function<void()> request_connection_;
  ServiceConnection connection_;
  uint64_t next_stream_ = 1;
  std::unordered_map<uint64_t, Stream> streams_;
  std::vector<std::pair<const void*, std::function<void()>>> waiting_;
  void WakeWaiters();
  bool connection_requested_ = false;
};

}  // namespace postern
