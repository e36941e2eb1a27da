// master/queue_space_client.h — asks qmgr how much room the queue really has.
//
// master's early refusal at connect and MAIL (lib/policy/resource_check.h) would
// otherwise see only statvfs and the size of data.mdb, which never shrinks:
// once the queue grew near min_free_disk_space, every connection would be
// refused although LMDB can refill the pages of the messages that left.
// Only qmgr reads the LMDB file, so master asks it: the control verb
// "space" on the queue socket, answered from qmgr's own figures (reusable
// and in-flight bytes, lib/policy/resource_check.h QueueSpace). One connection is
// kept and reopened when qmgr went away. Never blocks: the question is sent
// every kInterval from a timer (an answer read at connect time is never
// more than that old, however long master was idle), and Latest() only
// returns the answer that arrived last, if younger than kFresh.
#pragma once

#include <optional>
#include <string>

#include "lib/base/clock.h"
#include "lib/ipc/messages_control.h"
#include "lib/net/event_handles.h"
#include "lib/policy/resource_check.h"

namespace postern {

class QueueSpaceClient {
 public:
  // An answer older than this is not used: qmgr is down or stuck.
  static constexpr Duration kFresh = std::chrono::seconds(3);
  static constexpr Duration kInterval = std::chrono::seconds(1);

  QueueSpaceClient(event_base* base, std::string socket_path, const Clock* clock);
  QueueSpaceClient(const QueueSpaceClient&) = delete;
  QueueSpaceClient& operator=(const QueueSpaceClient&) = delete;

  // Starts asking (now and every kInterval); false when the timer cannot be made.
  bool Start();
  std::optional<QueueSpace> Latest() const;

 private:
  static void OnTimer(evutil_socket_t, short, void* self);
  static void OnRead(bufferevent* bev, void* self);
  static void OnEvent(bufferevent* bev, short what, void* self);
  void Ask();
  void Drop(const std::string& why);

  event_base* base_;
  std::string socket_path_;
  const Clock* clock_;
  EventPtr timer_;
  BufferEventPtr bev_;
  ipc::FrameDecoder decoder_;
  bool asking_ = false;
  TimePoint asked_at_{};
  std::optional<QueueSpace> answer_;
  TimePoint answered_at_{};
};

}  // namespace postern
