// master/metrics_endpoint.h — master's side of metrics_listen: answers metricsd.
//
// metricsd (the unprivileged process that serves the HTTP endpoint) asks
// over its SOCK_SEQPACKET channel with kControlRequest "metrics"; master
// answers one kControlReply holding the whole page: its own families
// (master_families: the connections, messages and rejections its workers
// reported, lib/policy/traffic_counters.h), postern_qmgr_up, and qmgr's
// families (lib/queue/queue_metrics.h), asked over qmgr-control.sock for
// each question. When qmgr does not answer, the page still comes, with
// postern_qmgr_up 0 and without qmgr's families. metricsd may ask for
// nothing else: another verb is refused, another frame type closes its
// channel (the supervisor restarts it). One metricsd at a time: a new one
// replaces the channel, and answers due to an older one are dropped.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "lib/base/prometheus_text.h"
#include "lib/ipc/datagram_channel.h"
#include "master/queue_control_client.h"

namespace postern {

class MetricsEndpoint {
 public:
  using FamiliesWriter = std::function<void(PrometheusText* text)>;

  // queue and base outlive the endpoint.
  MetricsEndpoint(event_base* base, QueueControlClient* queue, FamiliesWriter master_families);
  ~MetricsEndpoint();

  // A new metricsd (pid) runs; channel is master's end of its pair.
  void Started(pid_t pid, int channel);

 private:
  void Serve(ipc::Datagram& datagram);
  void Answer(uint64_t generation, const Result<std::string>& queue_text);

  event_base* base_;
  QueueControlClient* queue_;
  FamiliesWriter master_families_;
  std::unique_ptr<DatagramChannel> channel_;
  uint64_t generation_ = 0;  // of channel_; an answer for another is dropped
};

}  // namespace postern
