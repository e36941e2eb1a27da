// lib/base/log_format.cc — see lib/base/log_format.h.
#include "lib/base/log_format.h"

#include <cstdio>
#include <cstdlib>

namespace postern {
namespace {

int Severity(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return 7;
    case LogLevel::kInfo:
      return 6;
    case LogLevel::kWarning:
      return 4;
    case LogLevel::kError:
      return 3;
  }
  return 6;
}

std::string Body(LogLevel level, std::string_view tag, int pid, std::string_view text) {
  std::string body(tag);
  body += '[';
  body += std::to_string(pid);
  body += "]: ";
  body += LevelPrefix(level);
  body += text;
  return body;
}

}  // namespace

std::string_view LevelPrefix(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug: ";
    case LogLevel::kInfo:
      return "";
    case LogLevel::kWarning:
      return "warning: ";
    case LogLevel::kError:
      return "error: ";
  }
  return "";
}

int FacilityCode(LogFacility facility) {
  switch (facility) {
    case LogFacility::kMail:
      return 2;
    case LogFacility::kDaemon:
      return 3;
    default:
      return 16 + (static_cast<int>(facility) - static_cast<int>(LogFacility::kLocal0));
  }
}

int SyslogPriority(int facility, LogLevel level) { return facility * 8 + Severity(level); }

std::string SyslogRecord(int facility, LogLevel level, const LogTime& time, std::string_view tag,
                         int pid, std::string_view text) {
  // RFC 3164 4.1.2: the day of the month is padded with a space.
  char stamp[32];
  strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &time.local);
  return "<" + std::to_string(SyslogPriority(facility, level)) + ">" + stamp + " " +
         Body(level, tag, pid, text);
}

std::string FileRecord(LogLevel level, const LogTime& time, std::string_view host,
                       std::string_view tag, int pid, std::string_view text) {
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &time.local);
  const long offset_minutes = std::labs(time.local.tm_gmtoff) / 60;
  char zone[48];
  snprintf(zone, sizeof zone, ".%06d%c%02ld:%02ld", time.microseconds,
           time.local.tm_gmtoff < 0 ? '-' : '+', offset_minutes / 60, offset_minutes % 60);
  return std::string(stamp) + zone + " " + std::string(host) + " " + Body(level, tag, pid, text);
}

}  // namespace postern
