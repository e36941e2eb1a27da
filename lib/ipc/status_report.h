// lib/ipc/status_report.h — what `postern status [--json]` shows, and how it travels.
//
// master answers the control verb "status" with its part of the report
// (EncodeStatusReport: one "word value..." line per fact, not for people);
// qmgr answers "depth" with the queue's (FormatQueueDepth). The CLI decodes
// both and renders the report as text for a terminal or as one JSON object
// (field names documented in postern(1)). Pure: a unit test drives every
// field with hand-made values.
//
// Decisions:
//   - Each process is listed once: master first, then its children in the
//     order master gives (qmgr, authd, metricsd, then the smtpd workers); only smtpd
//     workers have sessions and a draining flag.
//   - Sessions per listener are master's connection counts: connections
//     admitted to the listener and not yet closed, handed off or about to be.
//   - Queue depth counts messages, each in one state: "held"; else "in
//     delivery" while an attempt runs; else "deferred" once an attempt for
//     one of its recipients failed; else "pending". A message qmgr has not
//     committed yet is not counted.
//   - The queue is missing (JSON null) when qmgr did not answer; the rest of
//     the report still stands.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"

namespace postern {

struct QueueDepth {
  uint64_t pending = 0;
  uint64_t deferred = 0;
  uint64_t held = 0;
  uint64_t in_delivery = 0;
  bool operator==(const QueueDepth&) const = default;
};

// The "depth" control reply: "pending N\ndeferred N\nheld N\nin_delivery N\n",
// and back; an error saying what is wrong when the text is not that.
std::string FormatQueueDepth(const QueueDepth& depth);
Result<QueueDepth> ParseQueueDepth(std::string_view text);

struct ProcessStatus {
  std::string name;  // "master", "qmgr", "authd", "smtpd"
  int64_t pid = 0;
  std::optional<uint32_t> sessions;  // smtpd workers only
  bool draining = false;             // an smtpd worker of an older generation
  bool operator==(const ProcessStatus&) const = default;
};

struct ListenerStatus {
  std::string name;
  std::vector<std::string> bind;  // "127.0.0.1:2525", "[::1]:2525"
  uint32_t sessions = 0;
  bool operator==(const ListenerStatus&) const = default;
};

struct StatusReport {
  std::string version;
  uint64_t uptime_seconds = 0;  // since master started
  std::vector<ProcessStatus> processes;
  std::vector<ListenerStatus> listeners;
  uint64_t connections = 0;  // every listener together
  uint64_t messages_last_minute = 0;
  uint64_t rejections_last_minute = 0;
  std::string log;                  // where the daemons log (lib/base/log.h LogDestination)
  std::optional<QueueDepth> queue;  // not sent by master; filled from qmgr
  bool operator==(const StatusReport&) const = default;
};

// master's reply to "status" (the queue is left out), and back.
std::string EncodeStatusReport(const StatusReport& report);
Result<StatusReport> DecodeStatusReport(std::string_view text);

// "up 3d 4h 5m 6s", leading zero units left out ("up 42s").
std::string FormatUptime(uint64_t seconds);

// For a terminal; queue_problem says why the queue is missing.
std::string RenderStatusText(const StatusReport& report, const std::string& queue_problem);
// One JSON object and a newline.
std::string RenderStatusJson(const StatusReport& report);

}  // namespace postern
