// lib/policy/traffic_counters.cc — see lib/policy/traffic_counters.h.
#include "lib/policy/traffic_counters.h"

#include <utility>

#include "lib/base/log.h"
#include "lib/smtp/reply_parser.h"

namespace postern {

TrafficCounters::PerListener* TrafficCounters::Listener(const std::string& name) {
  auto found = listeners_.find(name);
  if (found != listeners_.end()) return &found->second;
  if (listeners_.size() >= kMaxSeries) {
    Lost("listeners");
    return nullptr;
  }
  return &listeners_[name];
}

void TrafficCounters::Reject(RejectionKey key, uint64_t count) {
  auto found = rejections_.find(key);
  if (found != rejections_.end()) {
    found->second += count;
  } else if (rejections_.size() < kMaxSeries) {
    rejections_.emplace(std::move(key), count);
  } else {
    Lost("kinds of rejection");
  }
}

void TrafficCounters::Lost(const char* what) {
  if (std::exchange(loss_logged_, true)) return;
  LOG_WARNING("metrics: more than %zu %s; the rest are not counted", kMaxSeries, what);
}

void TrafficCounters::Connected(const std::string& listener) {
  if (PerListener* counts = Listener(listener)) ++counts->connections;
}

void TrafficCounters::RefusedAtConnect(const std::string& listener, std::string_view reply_line) {
  // Read as a client reads a reply; what is none counts as code 0.
  ReplyParser parser;
  parser.set_enhanced_status_codes(true);
  if (parser.Next(reply_line).kind != ReplyParser::Kind::kReply)
    return Reject({listener, "CONNECT", 0, ""}, 1);
  const SmtpReply& reply = parser.reply();
  Reject({listener, "CONNECT", static_cast<uint16_t>(reply.code), reply.enhanced}, 1);
}

void TrafficCounters::Add(const ipc::SessionTally& tally) {
  if (PerListener* counts = Listener(tally.listener)) {
    counts->messages += tally.messages;
    counts->bytes += tally.bytes;
  }
  for (const ipc::SessionTally::Refusal& refusal : tally.refused)
    Reject({tally.listener, refusal.command, refusal.code, refusal.enhanced}, refusal.count);
}

void TrafficCounters::Write(PrometheusText* text,
                            const std::map<std::string, uint32_t>& sessions) const {
  using Type = PrometheusText::Type;
  struct Column {
    const char* name;
    const char* help;
    uint64_t PerListener::*member;
  };
  const Column columns[] = {
      {"postern_connections_total", "Client connections master handed to an smtpd worker.",
       &PerListener::connections},
      {"postern_messages_total", "Messages acknowledged with 250 (queued).",
       &PerListener::messages},
      {"postern_message_bytes_total", "Content octets of the messages acknowledged.",
       &PerListener::bytes},
  };
  for (const Column& column : columns) {
    text->Family(column.name, Type::kCounter, column.help);
    for (const auto& [listener, counts] : listeners_)
      text->Sample(column.name, {{"listener", listener}},
                   static_cast<double>(counts.*column.member));
  }
  text->Family("postern_rejections_total", Type::kCounter,
               "Error replies to MAIL, RCPT, DATA and BDAT, and clients refused before the "
               "banner (command CONNECT), by reply.");
  for (const auto& [key, count] : rejections_) {
    const auto& [listener, command, code, enhanced] = key;
    text->Sample("postern_rejections_total",
                 {{"listener", listener},
                  {"command", command},
                  {"code", std::to_string(code)},
                  {"enhanced", enhanced}},
                 static_cast<double>(count));
  }
  text->Family("postern_sessions", Type::kGauge, "Client sessions open now.");
  for (const auto& [listener, open] : sessions)
    text->Sample("postern_sessions", {{"listener", listener}}, open);
}

}  // namespace postern
