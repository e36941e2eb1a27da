// master/queue_control_client.h — master's questions to qmgr: the queue's room, its metrics.
//
// master's early refusal at connect and MAIL (lib/policy/resource_check.h)
// would otherwise see only statvfs and the size of data.mdb, which never
// shrinks: once the queue grew near min_free_disk_space, every connection
// would be refused although LMDB can refill the pages of the messages that
// left. Only qmgr reads the LMDB file, so master asks it: the control verb
// "space" on qmgr-control.sock, answered from qmgr's own figures (reusable
// and in-flight bytes, lib/policy/resource_check.h QueueSpace). The
// question is sent every kInterval from a timer (an answer read at connect
// time is never more than that old, however long master was idle), and
// Latest() only returns the answer that arrived last, if younger than
// kFresh.
//
// AskMetrics() puts the verb "metrics" (qmgr's Prometheus families,
// lib/queue/queue_metrics.h) on the same connection; its callback runs once,
// with the text, or with an error when qmgr is not connected, refuses, or
// does not answer within kFresh.
//
// One connection is kept and reopened when qmgr went away; qmgr answers in
// order, so the questions in flight wait in a queue. Never blocks.
#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "lib/base/clock.h"
#include "lib/base/status.h"
#include "lib/ipc/messages_control.h"
#include "lib/net/event_handles.h"
#include "lib/policy/resource_check.h"

namespace postern {

class QueueControlClient {
 public:
  // An answer older than this is not used: qmgr is down or stuck.
  static constexpr Duration kFresh = std::chrono::seconds(3);
  static constexpr Duration kInterval = std::chrono::seconds(1);
  // Metrics questions waiting at once; past it AskMetrics fails at once.
  static constexpr size_t kMaxMetricsQuestions = 16;

  using MetricsCallback = std::function<void(Result<std::string> text)>;

  QueueControlClient(event_base* base, std::string socket_path, const Clock* clock);
  ~QueueControlClient();
  QueueControlClient(const QueueControlClient&) = delete;
  QueueControlClient& operator=(const QueueControlClient&) = delete;

  // Starts asking for the room (now and every kInterval); false when the
  // timer cannot be made.
  bool Start();
  std::optional<QueueSpace> Latest() const;
  // done runs later, from the loop, never from inside this call.
  void AskMetrics(MetricsCallback done);

 private:
  struct Question {
    std::string verb;      // "space" or "metrics"
    MetricsCallback done;  // metrics only
    TimePoint asked_at;
  };
  static void OnTimer(evutil_socket_t, short, void* self);
  static void OnRead(bufferevent* bev, void* self);
  static void OnEvent(bufferevent* bev, short what, void* self);
  static void OnFailLater(evutil_socket_t, short, void* self);
  bool Connected();
  bool Send(const std::string& verb);
  void Answered(const ipc::ControlReply& reply);
  void Drop(const std::string& why);
  // Fails the metrics questions in failed_ (from the loop).
  void FailLater(MetricsCallback done, std::string why);

  event_base* base_;
  std::string socket_path_;
  const Clock* clock_;
  EventPtr timer_;
  EventPtr fail_event_;
  BufferEventPtr bev_;
  ipc::FrameDecoder decoder_;
  std::deque<Question> in_flight_;
  std::deque<std::pair<MetricsCallback, std::string>> failed_;
  std::optional<QueueSpace> answer_;
  TimePoint answered_at_{};
};

}  // namespace postern
