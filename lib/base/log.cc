// lib/base/log.cc — the syslog and standard-error sinks of lib/base/log.h.
#include "lib/base/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>

#include "lib/base/process_id.h"
#include "lib/base/syslog_socket.h"

namespace postern {
namespace {

constexpr auto kAskInterval = std::chrono::seconds(1);

std::string g_tag = "postern/postern";
std::string g_host = "localhost";
LogSettings g_settings;
bool g_verbose = false;
std::string g_destination = "standard error";
std::unique_ptr<SyslogSocket> g_syslog;
bool g_syslog_ok = false;
std::string g_syslog_trouble;
std::function<void()> g_ask_for_socket;
bool g_asking = false;
std::chrono::steady_clock::time_point g_next_ask{};

LogTime Now() {
  timeval now;
  gettimeofday(&now, nullptr);
  LogTime time;
  time_t seconds = now.tv_sec;
  localtime_r(&seconds, &time.local);
  time.microseconds = static_cast<int>(now.tv_usec);
  return time;
}

void WriteStderr(const std::string& line) {
  // One write per line keeps lines from different processes whole.
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

void WriteFileRecord(LogLevel level, const LogTime& time, const std::string& text) {
  WriteStderr(FileRecord(level, time, g_host, g_tag, ProcessId(), text) + "\n");
}

// A chrooted process asks for a new socket; the answer comes later.
void AskForSocket() {
  if (!g_ask_for_socket || g_asking) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < g_next_ask) return;
  g_next_ask = now + kAskInterval;
  g_asking = true;
  g_ask_for_socket();
  g_asking = false;
}

// True when syslog took the record.
bool SendToSyslog(LogLevel level, const LogTime& time, const std::string& text) {
  Status sent = g_syslog->Send(
      SyslogRecord(FacilityCode(g_settings.facility), level, time, g_tag, ProcessId(), text));
  if (sent.ok()) {
    g_syslog_ok = true;
    return true;
  }
  if (g_syslog_ok) {
    // Said when syslog is lost, on standard error with the lines that follow.
    WriteFileRecord(LogLevel::kWarning, time,
                    sent.message() + "; log lines go to standard error until syslog takes them");
  }
  g_syslog_ok = false;
  g_syslog_trouble = sent.message();
  if (!sent.is_would_block()) AskForSocket();
  return false;
}

void Emit(LogLevel level, const char* format, va_list args) {
  char buffer[2048];
  vsnprintf(buffer, sizeof buffer, format, args);
  // Outside text is shown through Printable() by its caller; this is the
  // last guard that keeps one call to one line whatever slipped through.
  for (char* c = buffer; *c != '\0'; ++c) {
    if (static_cast<unsigned char>(*c) < 0x20 || *c == 0x7f) *c = '?';
  }
  const std::string text = buffer;
  const LogTime time = Now();
  if (g_syslog && SendToSyslog(level, time, text)) return;
  WriteFileRecord(level, time, text);
}

}  // namespace

std::string FallbackLogFile(const std::string& state_directory) {
  return state_directory + "/log/postern.log";
}

void LogInit(const std::string& program_name, const LogSettings& settings) {
  g_tag = "postern/" + program_name;
  g_settings = settings;
  char host[256];
  if (gethostname(host, sizeof host) == 0) {
    host[sizeof host - 1] = '\0';
    g_host = host;
  }
  g_syslog.reset();
  g_syslog_ok = false;
  g_syslog_trouble.clear();
  if (settings.target != LogTarget::kSyslog) return;
  g_syslog = std::make_unique<SyslogSocket>(settings.syslog_socket);
  Status connected = g_syslog->Connect();
  g_syslog_ok = connected.ok();
  g_syslog_trouble = connected.message();
}

const LogSettings& LogCurrentSettings() { return g_settings; }

bool LogSyslogReachable(std::string* why) {
  if (why != nullptr) *why = g_syslog_trouble;
  return g_syslog && g_syslog_ok;
}

void LogSetVerbose(bool verbose) { g_verbose = verbose; }

void LogSetDestination(std::string destination) { g_destination = std::move(destination); }

const std::string& LogDestination() { return g_destination; }

void LogExportToChildren(const LogSettings& settings) {
  setenv("POSTERN_LOG_TARGET", std::to_string(static_cast<int>(settings.target)).c_str(), 1);
  setenv("POSTERN_LOG_FACILITY", std::to_string(static_cast<int>(settings.facility)).c_str(), 1);
  setenv("POSTERN_SYSLOG_SOCKET", settings.syslog_socket.c_str(), 1);
}

void LogInitFromEnvironment(const std::string& program_name) {
  LogSettings settings;
  const char* target = getenv("POSTERN_LOG_TARGET");
  const char* facility = getenv("POSTERN_LOG_FACILITY");
  const char* socket = getenv("POSTERN_SYSLOG_SOCKET");
  const char* verbose = getenv("POSTERN_VERBOSE");
  // Only master writes these; a value out of range leaves the default.
  if (target != nullptr) {
    const int value = atoi(target);
    if (value >= 0 && value <= static_cast<int>(LogTarget::kFile))
      settings.target = static_cast<LogTarget>(value);
  }
  if (facility != nullptr) {
    const int code = atoi(facility);
    if (code >= 0 && code <= static_cast<int>(LogFacility::kLocal7))
      settings.facility = static_cast<LogFacility>(code);
  }
  if (socket != nullptr && *socket != '\0') settings.syslog_socket = socket;
  LogInit(program_name, settings);
  LogSetVerbose(verbose != nullptr && std::string(verbose) == "1");
}

void LogOnSyslogLost(std::function<void()> ask_for_socket) {
  g_ask_for_socket = std::move(ask_for_socket);
}

void LogAdoptSyslogSocket(int fd) {
  if (!g_syslog) {
    close(fd);
    return;
  }
  g_syslog->Adopt(fd);
}

void Log(LogLevel level, const char* format, ...) {
  if (level == LogLevel::kDebug && !g_verbose) return;
  va_list args;
  va_start(args, format);
  Emit(level, format, args);
  va_end(args);
}

void Panic(const char* function, const char* format, ...) {
  char text[1024];
  va_list args;
  va_start(args, format);
  vsnprintf(text, sizeof text, format, args);
  va_end(args);
  Log(LogLevel::kError, "panic in %s: %s", function, text);
  abort();
}

}  // namespace postern
