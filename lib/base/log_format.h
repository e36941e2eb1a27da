// lib/base/log_format.h — the bytes of one log line, for each place a line goes.
//
// Postfix's shape, so that log readers written for Postfix (pflogsumm,
// grep habits, fail2ban filters) read postern's logs: the tag
// "postern/PROGRAM[PID]: ", then the text; an info line has no prefix,
// the other levels start with "warning: ", "error: " or "debug: ", as
// Postfix's msg_warn() and msg_error() write them.
//   - to syslog (RFC 3164, as glibc's syslog(3) sends it to /dev/log):
//     "<PRI>Mmm dd hh:mm:ss postern/smtpd[123]: text"; the local syslogd
//     adds the host name;
//   - to a file or standard error:
//     "2026-12-07T02:06:06.123456+00:00 HOST postern/smtpd[123]: text",
//     the RFC 3339 form rsyslog writes to /var/log/mail.log on Debian 12,
//     which pflogsumm reads too.
// Pure functions: the time and the host come in as arguments.
#pragma once

#include <time.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace postern {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// log_target: where a process's lines go (lib/base/log.h). The order is
// the order of the key's words in lib/config/config_keys.cc.
enum class LogTarget : uint8_t { kSyslog, kStderr, kFile };

// log_facility, in the order of the key's words.
enum class LogFacility : uint8_t {
  kMail,
  kDaemon,
  kLocal0,
  kLocal1,
  kLocal2,
  kLocal3,
  kLocal4,
  kLocal5,
  kLocal6,
  kLocal7
};

// A wall-clock time as the line shows it: local time with its UTC offset.
struct LogTime {
  struct tm local = {};  // tm_gmtoff is the offset
  int microseconds = 0;
};

// "", "warning: ", "error: " or "debug: ".
std::string_view LevelPrefix(LogLevel level);

// The facility's code: mail 2, daemon 3, local0..local7 16..23 (RFC 3164 4.1.1).
int FacilityCode(LogFacility facility);

// RFC 3164 PRI: facility * 8 + severity (debug 7, info 6, warning 4, error 3).
int SyslogPriority(int facility, LogLevel level);

// tag is "postern/smtpd"; text is one line without its prefix.
std::string SyslogRecord(int facility, LogLevel level, const LogTime& time, std::string_view tag,
                         int pid, std::string_view text);
std::string FileRecord(LogLevel level, const LogTime& time, std::string_view host,
                       std::string_view tag, int pid, std::string_view text);

}  // namespace postern
