// lib/ipc/status_report.cc — see lib/ipc/status_report.h.
#include "lib/ipc/status_report.h"

#include <charconv>

#include "lib/config/text_lines.h"
#include "lib/queue/queue_listing.h"

namespace postern {
namespace {

constexpr std::string_view kDepthFields[] = {"pending", "deferred", "held", "in_delivery"};

bool ParseNumber(std::string_view text, uint64_t* value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size() && !text.empty();
}

// The lines of text, each split into its words.
std::vector<std::vector<std::string_view>> WordLines(std::string_view text) {
  std::vector<std::vector<std::string_view>> lines;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    std::vector<std::string_view> words = SplitWords(line);
    if (!words.empty()) lines.push_back(std::move(words));
  }
  return lines;
}

Status Malformed(std::string_view what, std::string_view line) {
  return Status::Error("malformed " + std::string(what) + " line \"" + std::string(line) + "\"");
}

std::string Joined(const std::vector<std::string_view>& words) {
  std::string text;
  for (std::string_view word : words) text += (text.empty() ? "" : " ") + std::string(word);
  return text;
}

Status DecodeProcess(const std::vector<std::string_view>& words, StatusReport* report) {
  uint64_t pid = 0;
  if (words.size() < 3 || words.size() > 5 || !ParseNumber(words[2], &pid))
    return Malformed("status", Joined(words));
  ProcessStatus process{std::string(words[1]), static_cast<int64_t>(pid), std::nullopt, false};
  if (words.size() >= 4) {
    uint64_t sessions = 0;
    if (!ParseNumber(words[3], &sessions)) return Malformed("status", Joined(words));
    process.sessions = static_cast<uint32_t>(sessions);
  }
  if (words.size() == 5) {
    if (words[4] != "draining") return Malformed("status", Joined(words));
    process.draining = true;
  }
  report->processes.push_back(std::move(process));
  return Status::Ok();
}

Status DecodeListener(const std::vector<std::string_view>& words, StatusReport* report) {
  uint64_t sessions = 0;
  if (words.size() < 3 || !ParseNumber(words[2], &sessions))
    return Malformed("status", Joined(words));
  ListenerStatus listener{std::string(words[1]), {}, static_cast<uint32_t>(sessions)};
  for (size_t i = 3; i < words.size(); ++i) listener.bind.emplace_back(words[i]);
  report->listeners.push_back(std::move(listener));
  return Status::Ok();
}

std::string Plural(uint64_t count, std::string_view one) {
  return std::to_string(count) + " " + std::string(one) + (count == 1 ? "" : "s");
}

}  // namespace

std::string FormatQueueDepth(const QueueDepth& depth) {
  const uint64_t values[] = {depth.pending, depth.deferred, depth.held, depth.in_delivery};
  std::string text;
  for (size_t i = 0; i < std::size(values); ++i)
    text += std::string(kDepthFields[i]) + " " + std::to_string(values[i]) + "\n";
  return text;
}

Result<QueueDepth> ParseQueueDepth(std::string_view text) {
  QueueDepth depth;
  uint64_t* values[] = {&depth.pending, &depth.deferred, &depth.held, &depth.in_delivery};
  std::vector<std::vector<std::string_view>> lines = WordLines(text);
  if (lines.size() != std::size(values))
    return Status::Error("malformed queue depth: " + std::to_string(lines.size()) +
                         " lines, expected " + std::to_string(std::size(values)));
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].size() != 2 || lines[i][0] != kDepthFields[i] ||
        !ParseNumber(lines[i][1], values[i]))
      return Malformed("queue depth", Joined(lines[i]));
  }
  return depth;
}

std::string EncodeStatusReport(const StatusReport& report) {
  std::string text = "version " + report.version + "\nuptime " +
                     std::to_string(report.uptime_seconds) + "\nconnections " +
                     std::to_string(report.connections) + "\nmessages " +
                     std::to_string(report.messages_last_minute) + "\nrejections " +
                     std::to_string(report.rejections_last_minute) + "\nlog " + report.log + "\n";
  for (const ProcessStatus& p : report.processes) {
    text += "process " + p.name + " " + std::to_string(p.pid);
    if (p.sessions) text += " " + std::to_string(*p.sessions) + (p.draining ? " draining" : "");
    text += "\n";
  }
  for (const ListenerStatus& l : report.listeners) {
    text += "listener " + l.name + " " + std::to_string(l.sessions);
    for (const std::string& bind : l.bind) text += " " + bind;
    text += "\n";
  }
  return text;
}

Result<StatusReport> DecodeStatusReport(std::string_view text) {
  StatusReport report;
  bool has_version = false;
  for (const std::vector<std::string_view>& words : WordLines(text)) {
    const std::string_view word = words.front();
    uint64_t* number = word == "uptime"        ? &report.uptime_seconds
                       : word == "connections" ? &report.connections
                       : word == "messages"    ? &report.messages_last_minute
                       : word == "rejections"  ? &report.rejections_last_minute
                                               : nullptr;
    Status status = Status::Ok();
    if (word == "version" && words.size() == 2) {
      report.version = std::string(words[1]);
      has_version = true;
    } else if (word == "log" && words.size() >= 2) {
      report.log = Joined({words.begin() + 1, words.end()});
    } else if (number != nullptr && words.size() == 2 && ParseNumber(words[1], number)) {
    } else if (word == "process") {
      status = DecodeProcess(words, &report);
    } else if (word == "listener") {
      status = DecodeListener(words, &report);
    } else {
      status = Malformed("status", Joined(words));
    }
    if (!status.ok()) return status;
  }
  if (!has_version) return Status::Error("malformed status: no version line");
  return report;
}

std::string FormatUptime(uint64_t seconds) {
  const std::pair<uint64_t, const char*> units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}};
  std::string text = "up";
  for (const auto& [size, suffix] : units) {
    if (seconds < size && text == "up") continue;
    text += " " + std::to_string(seconds / size) + suffix;
    seconds %= size;
  }
  return text + " " + std::to_string(seconds) + "s";
}

std::string RenderStatusText(const StatusReport& report, const std::string& queue_problem) {
  int64_t master_pid = 0;
  for (const ProcessStatus& p : report.processes)
    if (p.name == "master") master_pid = p.pid;
  std::string text = "postern " + report.version + " is running, master pid " +
                     std::to_string(master_pid) + ", " + FormatUptime(report.uptime_seconds) + "\n";
  for (const ListenerStatus& l : report.listeners) {
    std::string binds;
    for (const std::string& bind : l.bind) binds += (binds.empty() ? "" : " ") + bind;
    text += "listener " + l.name + " on " + binds + ": " + Plural(l.sessions, "session") + "\n";
  }
  text += "connections: " + std::to_string(report.connections) + "\n";
  for (const ProcessStatus& p : report.processes) {
    text += p.name + " pid " + std::to_string(p.pid);
    if (p.sessions) text += ": " + Plural(*p.sessions, "session");
    text += std::string(p.draining ? ", draining" : "") + "\n";
  }
  if (report.queue) {
    const QueueDepth& q = *report.queue;
    text += "queue: " + std::to_string(q.pending) + " pending, " + std::to_string(q.deferred) +
            " deferred, " + std::to_string(q.held) + " held, " + std::to_string(q.in_delivery) +
            " in delivery\n";
  } else {
    text += "queue: unknown (" + queue_problem + ")\n";
  }
  text += "last minute: " + Plural(report.messages_last_minute, "message") + " accepted, " +
          Plural(report.rejections_last_minute, "rejection") + "\n";
  if (!report.log.empty()) text += "log: " + report.log + "\n";
  return text;
}

std::string RenderStatusJson(const StatusReport& report) {
  std::string json = "{\"version\": " + JsonString(report.version) +
                     ", \"uptime_seconds\": " + std::to_string(report.uptime_seconds) +
                     ", \"processes\": [";
  for (size_t i = 0; i < report.processes.size(); ++i) {
    const ProcessStatus& p = report.processes[i];
    json += std::string(i > 0 ? ", " : "") + "{\"name\": " + JsonString(p.name) +
            ", \"pid\": " + std::to_string(p.pid);
    if (p.sessions)
      json += ", \"sessions\": " + std::to_string(*p.sessions) +
              ", \"draining\": " + (p.draining ? "true" : "false");
    json += "}";
  }
  json += "], \"listeners\": [";
  for (size_t i = 0; i < report.listeners.size(); ++i) {
    const ListenerStatus& l = report.listeners[i];
    json += std::string(i > 0 ? ", " : "") + "{\"name\": " + JsonString(l.name) + ", \"bind\": [";
    for (size_t j = 0; j < l.bind.size(); ++j)
      json += std::string(j > 0 ? ", " : "") + JsonString(l.bind[j]);
    json += "], \"sessions\": " + std::to_string(l.sessions) + "}";
  }
  json += "], \"connections\": " + std::to_string(report.connections) + ", \"queue\": ";
  if (report.queue) {
    const QueueDepth& q = *report.queue;
    json += "{\"pending\": " + std::to_string(q.pending) +
            ", \"deferred\": " + std::to_string(q.deferred) +
            ", \"held\": " + std::to_string(q.held) +
            ", \"in_delivery\": " + std::to_string(q.in_delivery) + "}";
  } else {
    json += "null";
  }
  json += ", \"last_minute\": {\"messages\": " + std::to_string(report.messages_last_minute) +
          ", \"rejections\": " + std::to_string(report.rejections_last_minute) +
          "}, \"log\": " + JsonString(report.log) + "}\n";
  return json;
}

}  // namespace postern
