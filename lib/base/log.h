// lib/base/log.h — logging for every postern process.
//
// Where the lines go is log_target (postern.conf(5)):
//   - syslog: each line is one RFC 3164 record to the syslog socket
//     (syslog_socket, /dev/log by default; lib/base/syslog_socket.h), with
//     the facility of log_facility. A line that syslog does not take (no
//     syslogd, a full queue, a syslogd restarting) is written to standard
//     error instead, which a detached master points at the fallback file
//     (FallbackLogFile()), so no line is lost without a trace.
//   - stderr, file: standard error; for file, master points it at log_file
//     before it starts any child, and every child inherits it.
// Lines have Postfix's shape (lib/base/log_format.h). master decides and
// its children follow (LogExportToChildren, LogInitFromEnvironment): each
// process opens its own syslog socket before it drops privileges or
// chroots. Never pass secrets here: no passwords, no AUTH blobs.
#pragma once

#include <functional>
#include <string>

#include "lib/base/log_format.h"

namespace postern {

struct LogSettings {
  LogTarget target = LogTarget::kStderr;
  LogFacility facility = LogFacility::kMail;
  std::string syslog_socket = "/dev/log";
};

// state_directory/log/postern.log: where lines go when syslog cannot be reached.
std::string FallbackLogFile(const std::string& state_directory);

// Names this process in every line ("smtpd": tag postern/smtpd) and, for
// the syslog target, connects to syslog; call at start-up, before a chroot.
void LogInit(const std::string& program_name, const LogSettings& settings);
// The settings of the last LogInit(): a reload does not change them.
const LogSettings& LogCurrentSettings();
// With the syslog target: whether the last line (or LogInit's connection)
// reached syslog; the reason when it did not.
bool LogSyslogReachable(std::string* why = nullptr);
void LogSetVerbose(bool verbose);
// Where this process's lines go, in words, for `postern status`; set by
// the daemon skeleton (lib/base/daemon_main.h), "standard error" before.
void LogSetDestination(std::string destination);
const std::string& LogDestination();
// For master's children: settings and verbosity as master decided them
// (environment POSTERN_LOG_TARGET, POSTERN_LOG_FACILITY, POSTERN_SYSLOG_SOCKET,
// POSTERN_VERBOSE=1).
void LogExportToChildren(const LogSettings& settings);
void LogInitFromEnvironment(const std::string& program_name);
// A chrooted process cannot reconnect to syslog by path: when syslog is
// lost, ask_for_socket runs (at most once a second, never inside itself),
// and whoever can reach the path answers with LogAdoptSyslogSocket().
void LogOnSyslogLost(std::function<void()> ask_for_socket);
void LogAdoptSyslogSocket(int fd);

void Log(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

#define LOG_DEBUG(...) ::postern::Log(::postern::LogLevel::kDebug, __VA_ARGS__)
#define LOG_INFO(...) ::postern::Log(::postern::LogLevel::kInfo, __VA_ARGS__)
#define LOG_WARNING(...) ::postern::Log(::postern::LogLevel::kWarning, __VA_ARGS__)
#define LOG_ERROR(...) ::postern::Log(::postern::LogLevel::kError, __VA_ARGS__)

// A broken internal invariant: logs the function and message, then aborts.
[[noreturn]] void Panic(const char* function, const char* format, ...)
    __attribute__((format(printf, 2, 3)));
#define PANIC(...) ::postern::Panic(__func__, __VA_ARGS__)

}  // namespace postern
