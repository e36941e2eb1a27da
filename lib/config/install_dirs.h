// lib/config/install_dirs.h — the directories configure chose for this build,
// and where the daemons are found.
//
// Makefile.am passes configure's directories as -D flags: sysconfdir/postern
// (the configuration directory), localstatedir/lib/postern (state_directory's
// default), runstatedir/postern (run_directory's) and libexecdir/postern
// (daemon_directory's). With the Debian package they are /etc/postern,
// /var/lib/postern, /run/postern and /usr/libexec/postern. The fallbacks
// below are those same values, for builds outside automake
// (tests/fuzz/run-fuzz), which never install anything.
#pragma once

#include <string>

#include "lib/config/config.h"

#ifndef POSTERN_CONFIG_DIR
#define POSTERN_CONFIG_DIR "/etc/postern"
#endif
#ifndef POSTERN_STATE_DIR
#define POSTERN_STATE_DIR "/var/lib/postern"
#endif
#ifndef POSTERN_RUN_DIR
#define POSTERN_RUN_DIR "/run/postern"
#endif
#ifndef POSTERN_DAEMON_DIR
#define POSTERN_DAEMON_DIR "/usr/libexec/postern"
#endif

namespace postern {

// Where master, smtpd, qmgr and authd are: $POSTERN_DAEMON_DIR when it is
// set and not empty (a build tree run without installing it), else
// daemon_directory. The CLI finds master with it and master finds its
// children with it (master inherits the CLI's environment), so one
// variable locates every program.
std::string DaemonDirectory(const Config& config);

}  // namespace postern
