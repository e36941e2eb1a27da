// lib/queue/queue_metrics.cc — see lib/queue/queue_metrics.h.
#include "lib/queue/queue_metrics.h"

#include "lib/queue/delivery_log.h"

namespace postern {

QueueMetrics::QueueMetrics()
    : batch_messages_({1, 2, 4, 8, 16, 32, 64, 128, 256, 512}),
      commit_seconds_({0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                       0.5, 1, 2.5}) {
  // Every series from the start, so that rate() sees the first event.
  for (const char* transport : {"maildir", "smtp"})
    for (Verdict verdict : {Verdict::kDelivered, Verdict::kDeferred, Verdict::kFailed})
      deliveries_[{transport, std::string(VerdictLogName(verdict))}] = 0;
}

void QueueMetrics::Attempted(bool maildir, Verdict verdict) {
  ++deliveries_[{maildir ? "maildir" : "smtp", std::string(VerdictLogName(verdict))}];
}

void QueueMetrics::Committed(size_t messages, std::chrono::nanoseconds took) {
  if (messages > 0) batch_messages_.Observe(static_cast<double>(messages));
  commit_seconds_.Observe(std::chrono::duration<double>(took).count());
}

void QueueMetrics::Write(PrometheusText* text, const QueueDepth& depth) const {
  using Type = PrometheusText::Type;
  text->Family("postern_deliveries_total", Type::kCounter,
               "Delivery attempts, one per recipient, by transport and outcome (the status= "
               "of the delivery log line).");
  for (const auto& [key, count] : deliveries_)
    text->Sample("postern_deliveries_total", {{"transport", key.first}, {"status", key.second}},
                 static_cast<double>(count));
  text->Family("postern_queue_messages", Type::kGauge, "Messages in the queue, by state.");
  const std::pair<const char*, uint64_t> states[] = {{"pending", depth.pending},
                                                     {"deferred", depth.deferred},
                                                     {"held", depth.held},
                                                     {"in_delivery", depth.in_delivery}};
  for (const auto& [state, count] : states)
    text->Sample("postern_queue_messages", {{"state", state}}, static_cast<double>(count));
  text->HistogramFamily("postern_commit_batch_messages",
                        "Messages acknowledged by one group commit of the queue.", batch_messages_);
  text->HistogramFamily("postern_commit_seconds",
                        "Time of one commit of the queue, its sync included.", commit_seconds_);
}

}  // namespace postern
