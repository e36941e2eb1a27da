// lib/base/daemon_support.h — the start-up chores every postern daemon shares.
//
// Parsing a descriptor number from the command line, adopting a listening
// socket inherited from master, and detaching from the terminal. One copy
// here, so master, qmgr, authd and smtpd agree on them.
#pragma once

#include <optional>

#include "lib/base/status.h"

namespace postern {

// "3" -> 3; anything but a plain decimal in 0..65535 -> nothing.
std::optional<int> ParseDescriptor(const char* text);

// Checks that fd is a listening socket; makes it non-blocking and
// close-on-exec.
Status AdoptListeningSocket(int fd);

// Forks (the parent exits 0), starts a new session, changes to / and points
// stdin and stdout at /dev/null. stderr is left to the caller's logging.
Status Daemonize();

}  // namespace postern
