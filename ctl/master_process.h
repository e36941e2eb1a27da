// ctl/master_process.h — finding, starting and waiting for the master process.
//
// Owns the CLI's side of master's life: the pid file check (is a master
// alive?), the fork + exec of `master --daemon --ready-fd N` and the reading
// of its one readiness line, and waiting for master to exit after `stop`.
// Never signals master: stop goes through the control socket.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "lib/base/pid_file.h"
#include "lib/base/status.h"

namespace postern::cli {

// The message for every verb that needs a running master.
Status MasterNotRunning(const std::string& run_directory);

// Polls until pid has exited or timeout passes; true when it exited.
bool WaitForExit(pid_t pid, std::chrono::milliseconds timeout);

// Forks and exec's `master_path -c config_dir --daemon --ready-fd N`, then
// waits for master's readiness line on the pipe: "ok" is success; "error:
// TEXT" fails with TEXT; a pipe closed with nothing written fails saying
// master exited during start-up (with its exit status when it can be reaped).
Status StartMasterDaemon(const std::string& master_path, const std::string& config_dir);

// Replaces this process by `master_path -c config_dir`; returns only on failure.
Status ExecMasterForeground(const std::string& master_path, const std::string& config_dir);

}  // namespace postern::cli
