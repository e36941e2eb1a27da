// lib/policy/traffic_counters.h — master's running totals of its clients, for metrics_listen.
//
// master counts the connections it hands to workers and the clients it
// refuses before any banner; the workers' SessionTally frames add the
// messages their sessions queued, the octets of those messages, and every
// refusal by command and reply (lib/ipc/messages_worker.h). Written as
// Prometheus families (lib/base/prometheus_text.h):
//   postern_connections_total{listener}            connections handed to a worker
//   postern_messages_total{listener}               messages acknowledged with 250
//   postern_message_bytes_total{listener}          their content octets
//   postern_rejections_total{listener,command,code,enhanced}
//       4xx/5xx replies to MAIL, RCPT, DATA and BDAT, and refusals before
//       the banner (command "CONNECT": master's admission, IP blocks,
//       resources, a worker's DNSBL)
//   postern_sessions{listener}                     sessions open now
// Counters only grow (master's lifetime; a restart starts at 0, which
// Prometheus's rate() expects). Bounded: at most kMaxSeries listeners and
// kMaxSeries kinds of rejection; what a worker sends beyond that (it never
// should: names come from postern.conf and the reply catalogue) is not
// counted, and the first such loss is logged. Pure; no clock.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>

#include "lib/base/prometheus_text.h"
#include "lib/ipc/messages_worker.h"

namespace postern {

class TrafficCounters {
 public:
  static constexpr size_t kMaxSeries = 1000;

  void Connected(const std::string& listener);
  // reply_line: what the client was sent instead of the banner
  // ("421 4.3.2 ...\r\n"); its code and enhanced code name the rejection.
  void RefusedAtConnect(const std::string& listener, std::string_view reply_line);
  void Add(const ipc::SessionTally& tally);

  // Every family above; sessions: the open sessions of each listener.
  void Write(PrometheusText* text, const std::map<std::string, uint32_t>& sessions) const;

 private:
  struct PerListener {
    uint64_t connections = 0;
    uint64_t messages = 0;
    uint64_t bytes = 0;
  };
  // listener, command, code, enhanced
  using RejectionKey = std::tuple<std::string, std::string, uint16_t, std::string>;

  PerListener* Listener(const std::string& name);
  void Reject(RejectionKey key, uint64_t count);
  void Lost(const char* what);

  std::map<std::string, PerListener> listeners_;
  std::map<RejectionKey, uint64_t> rejections_;
  bool loss_logged_ = false;
};

}  // namespace postern
