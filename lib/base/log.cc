// lib/base/log.cc — stderr and syslog sinks for lib/base/log.h.
#include "lib/base/log.h"

#include <syslog.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace postern {
namespace {

std::string g_program = "postern";
bool g_syslog = false;
bool g_verbose = false;

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

int SyslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return LOG_DEBUG;
    case LogLevel::kInfo:
      return LOG_INFO;
    case LogLevel::kWarning:
      return LOG_WARNING;
    case LogLevel::kError:
      return LOG_ERR;
  }
  return LOG_INFO;
}

void Emit(LogLevel level, const char* format, va_list args) {
  char text[2048];
  vsnprintf(text, sizeof text, format, args);
  // Outside text is shown through Printable() by its caller; this is the
  // last guard that keeps one call to one line whatever slipped through.
  for (char* c = text; *c != '\0'; ++c) {
    if (static_cast<unsigned char>(*c) < 0x20 || *c == 0x7f) *c = '?';
  }
  char stamp[32];
  time_t now = time(nullptr);
  struct tm tm_now;
  localtime_r(&now, &tm_now);
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm_now);
  // One write per line keeps lines from different processes whole.
  char line[2200];
  int n = snprintf(line, sizeof line, "%s postern/%s[%d]: %s: %s\n", stamp, g_program.c_str(),
                   static_cast<int>(getpid()), LevelName(level), text);
  if (n > 0) {
    size_t len = static_cast<size_t>(n) < sizeof line ? static_cast<size_t>(n) : sizeof line - 1;
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
  }
  if (g_syslog) syslog(SyslogPriority(level), "%s: %s", LevelName(level), text);
}

}  // namespace

void LogInit(const std::string& program_name, bool use_syslog) {
  g_program = program_name;
  g_syslog = use_syslog;
  if (use_syslog) {
    static std::string ident;  // openlog keeps the pointer, so it must outlive the call
    ident = "postern/" + g_program;
    openlog(ident.c_str(), LOG_PID | LOG_NDELAY, LOG_MAIL);
  }
}

void LogSetVerbose(bool verbose) { g_verbose = verbose; }

void LogInitFromEnvironment(const std::string& program_name) {
  const char* syslog_flag = getenv("POSTERN_LOG_SYSLOG");
  const char* verbose_flag = getenv("POSTERN_VERBOSE");
  LogInit(program_name, syslog_flag != nullptr && std::string(syslog_flag) == "1");
  LogSetVerbose(verbose_flag != nullptr && std::string(verbose_flag) == "1");
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
