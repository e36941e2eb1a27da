// lib/policy/traffic_counters.cc — see lib/policy/traffic_counters.h.
#include "lib/policy/traffic_counters.h"

#include <cctype>

#include "lib/base/log.h"

namespace postern {
namespace {

// "421 4.3.2 Service not available" -> 421, "4.3.2"; 0 and "" for what is
// not a reply line.
std::pair<uint16_t, std::string> ReplyHead(std::string_view line) {
  if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])) ||
      !std::isdigit(static_cast<unsigned char>(line[1])) ||
      !std::isdigit(static_cast<unsigned char>(line[2])))
    return {0, ""};
  const uint16_t code =
      static_cast<uint16_t>((line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0'));
  std::string enhanced;
  if (line.size() > 4 && (line[3] == ' ' || line[3] == '-')) {
    std::string_view rest = line.substr(4);
    size_t end = 0;
    while (end < rest.size() && end < 16 &&
           (std::isdigit(static_cast<unsigned char>(rest[end])) || rest[end] == '.'))
      ++end;
    if (end > 0 && end < rest.size() && rest[end] == ' ' && rest[0] == line[0])
      enhanced = std::string(rest.substr(0, end));
  }
  return {code, enhanced};
}

}  // namespace

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
  auto [code, enhanced] = ReplyHead(reply_line);
  Reject({listener, "CONNECT", code, std::move(enhanced)}, 1);
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
