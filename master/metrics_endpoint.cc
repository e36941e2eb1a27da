// master/metrics_endpoint.cc — see master/metrics_endpoint.h.
#include "master/metrics_endpoint.h"

#include <unistd.h>

#include "lib/base/log.h"
#include "lib/ipc/messages_control.h"

namespace postern {

MetricsEndpoint::MetricsEndpoint(event_base* base, QueueControlClient* queue,
                                 FamiliesWriter master_families)
    : base_(base), queue_(queue), master_families_(std::move(master_families)) {}

MetricsEndpoint::~MetricsEndpoint() = default;

void MetricsEndpoint::Started(pid_t pid, int channel) {
  ++generation_;
  channel_ = std::make_unique<DatagramChannel>(
      base_, channel, "metricsd " + std::to_string(pid),
      DatagramChannel::Handlers{.frame = [this](ipc::Datagram& datagram) { Serve(datagram); },
                                .failed =
                                    [](const std::string& why, bool peer_closed) {
                                      // A metricsd that exits closes it; the supervisor says so.
                                      if (!peer_closed)
                                        LOG_WARNING("metricsd's channel: %s", why.c_str());
                                    }});
}

void MetricsEndpoint::Serve(ipc::Datagram& datagram) {
  if (datagram.fd >= 0) close(datagram.fd);
  Result<ipc::ControlRequest> request = ipc::DecodeAs<ipc::ControlRequest>(datagram.frame);
  if (!request.ok()) return channel_->Fail(request.status().message());
  if (request->verb != "metrics" || !request->args.empty()) {
    if (Status s =
            channel_->Send(ipc::ControlReply{false, "metricsd may ask for metrics only", ""});
        !s.ok())
      channel_->Fail(s.message());
    return;
  }
  const uint64_t generation = generation_;
  queue_->AskMetrics(
      [this, generation](Result<std::string> queue_text) { Answer(generation, queue_text); });
}

void MetricsEndpoint::Answer(uint64_t generation, const Result<std::string>& queue_text) {
  if (generation != generation_ || !channel_ || !channel_->open()) return;
  PrometheusText text;
  master_families_(&text);
  text.Family("postern_qmgr_up", PrometheusText::Type::kGauge,
              "1 when qmgr answered for this page (its families follow), else 0.");
  text.Sample("postern_qmgr_up", {}, queue_text.ok() ? 1 : 0);
  if (queue_text.ok()) {
    text.Append(*queue_text);
  } else {
    LOG_INFO("metrics without qmgr's part: %s", queue_text.status().message().c_str());
  }
  if (Status s = channel_->Send(ipc::ControlReply{true, text.text(), ""}); !s.ok())
    channel_->Fail("cannot send the metrics: " + s.message());
}

}  // namespace postern
