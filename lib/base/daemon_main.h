// lib/base/daemon_main.h — the one shape of every postern daemon's main().
//
// RunDaemon() is main() for master, smtpd, qmgr and authd; each daemon only
// supplies a DaemonProgram. In order:
//
//   1. the command line (lib/base/daemon_options.h): a usage error prints
//      the daemon's usage and exits 2;
//   2. logging to stderr, syslog and verbosity as master decided them for a
//      daemon it started (lib/base/log.h LogInitFromEnvironment), -v added;
//   3. the configuration (lib/config/config.h LoadConfig);
//   4. Prepare(): what must happen before detaching (look up users, bind or
//      adopt sockets, drop privileges);
//   5. with --daemon, detaching from the terminal;
//   6. unless started by master: logging as the configuration says
//      (log_target; lib/base/log.h), standard error pointed at log_file,
//      or at the fallback file for a detached daemon or one that cannot
//      reach syslog. master's children inherit both;
//   7. the event loop, with SIGTERM and SIGINT (stop) and SIGHUP (reload)
//      watched before Start() runs, and SIGPIPE ignored;
//   8. Start(): the daemon's servers on the loop; then `ok` on --ready-fd.
//
// A failure in any step is one log line "cannot start: <why>" (also on
// --ready-fd as "error: <why>") and exit status 1, never an abort: a bad
// configuration or a socket that cannot be bound is the administrator's to
// fix, not a broken invariant.
//
// SIGTERM or SIGINT: "stopping on signal N", then Stop(); when it returns
// true the loop ends at once (event_base_loopexit), else the program ends it
// itself once it has wound down (master waits for its children). SIGHUP:
// Reload() (only a debug line for a program that Reloads() nothing); a failure is the warning
// "reload failed: <why>; keeping the running configuration", a success "configuration reloaded".
// When the loop ends the program is destroyed, "stopped" is logged and the process exits 0.
#pragma once

#include <event2/event.h>

#include <functional>
#include <memory>

#include "lib/base/daemon_options.h"
#include "lib/base/status.h"
#include "lib/config/config.h"

namespace postern {

class DaemonProgram {
 public:
  virtual ~DaemonProgram() = default;

  // Step 4 above; config is the configuration loaded in step 3.
  virtual Status Prepare(Config config) = 0;
  // The loop to run; the default is event_base_new(). Called after
  // detaching (a fork), so the loop never crosses one.
  virtual event_base* NewEventBase();
  // Step 8: starts serving on base, which outlives the program.
  virtual Status Start(event_base* base) = 0;
  // SIGTERM or SIGINT. True: end the loop now.
  virtual bool Stop() = 0;
  // SIGHUP: re-read the configuration; an error keeps the running one.
  virtual Status Reload() = 0;
  // False for a daemon that reads no file once started (metricsd, in its
  // chroot): SIGHUP is then a debug line, and Reload() is never called.
  virtual bool Reloads() const { return true; }
};

using DaemonFactory = std::function<std::unique_ptr<DaemonProgram>(const DaemonOptions& options)>;

// main() of a daemon: the steps above; returns the exit status.
int RunDaemon(const DaemonSpec& spec, int argc, char** argv, const DaemonFactory& make_program);

}  // namespace postern
