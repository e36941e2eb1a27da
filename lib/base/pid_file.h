// lib/base/pid_file.h — master's pid file, and whether the pid in it still lives.
//
// master writes run_directory/master.pid once it is listening; the CLI and a
// second master read it to tell a running postern from a stale file. A
// zombie counts as exited: after a crash its parent may not have reaped it
// yet, and it must not block a restart.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "lib/base/file_system.h"
#include "lib/base/status.h"

namespace postern {

// run_directory/master.pid
std::string MasterPidFile(const std::string& run_directory);

// True while pid is a live, non-zombie process.
bool ProcessAlive(pid_t pid);

// The pid in run_directory/master.pid if it names a live process; nothing
// when the file is missing, unreadable, stale or garbage.
std::optional<pid_t> LiveMasterPid(const std::string& run_directory);

// Writes pid into run_directory/master.pid through fs (atomically: see
// WriteFileAtomically). An error when the file names another live master
// ("postern is already running"), or when the write fails: then the error
// names the pid file and why it could not be written.
Status WriteMasterPidFile(FileSystem* fs, const std::string& run_directory, pid_t pid);

}  // namespace postern
