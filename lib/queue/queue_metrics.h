// lib/queue/queue_metrics.h — qmgr's part of what metrics_listen serves.
//
// qmgr counts every delivery attempt's outcome per recipient and times
// every group commit; master asks for the text with the control verb
// "metrics" (qmgr-control.sock) and serves it after its own families.
// Written as Prometheus families (lib/base/prometheus_text.h):
//   postern_deliveries_total{transport,status}  one per recipient attempted:
//       transport maildir | smtp, status sent | deferred | bounced (the
//       status= of the delivery log line)
//   postern_queue_messages{state}   the queue now: pending, deferred, held,
//       in_delivery (lib/ipc/status_report.h QueueDepth)
//   postern_commit_batch_messages   histogram: messages acknowledged by one
//       group commit (1 .. 512)
//   postern_commit_seconds          histogram: one commit, the sync included
//       (100 us .. 2.5 s)
// Counters start at 0 when qmgr starts. Pure: callers pass the durations.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "lib/base/clock.h"
#include "lib/base/prometheus_text.h"
#include "lib/ipc/status_report.h"
#include "lib/queue/delivery_schedule.h"

namespace postern {

class QueueMetrics {
 public:
  QueueMetrics();

  // One recipient's attempt; maildir: a local delivery, else SMTP.
  void Attempted(bool maildir, Verdict verdict);
  // A group commit that acknowledged messages (0 for one that only
  // recorded outcomes) and took took, the sync included.
  void Committed(size_t messages, std::chrono::nanoseconds took);

  void Write(PrometheusText* text, const QueueDepth& depth) const;

 private:
  std::map<std::pair<std::string, std::string>, uint64_t> deliveries_;  // transport, status
  Histogram batch_messages_;
  Histogram commit_seconds_;
};

}  // namespace postern
