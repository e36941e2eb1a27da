// lib/base/log.h — logging for every postern process.
//
// Lines go to stderr (which master points at the log file or the terminal)
// with the process name and pid, and to syslog's mail facility when enabled.
// Never pass secrets here: no passwords, no AUTH blobs.
#pragma once

#include <string>

namespace postern {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Names this process in every line; call once at start-up.
void LogInit(const std::string& program_name, bool use_syslog);
void LogSetVerbose(bool verbose);
// For master's children: syslog and verbosity as master decided them
// (environment POSTERN_LOG_SYSLOG=1 and POSTERN_VERBOSE=1).
void LogInitFromEnvironment(const std::string& program_name);

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
