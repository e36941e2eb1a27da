// lib/net/unix_socket.h — SOCK_STREAM Unix sockets by path: listen and connect.
//
// The service sockets under run_directory (authd.sock, qmgr.sock,
// qmgr-control.sock, master.sock) are made and reached the same way everywhere: a listener
// replaces a stale socket file but never a live socket or a file that is
// not a socket, and is created with mode 0600 (owner only) so nothing can
// connect before its owner is set. Descriptors are close-on-exec.
#pragma once

#include <string>

#include "lib/base/privileges.h"
#include "lib/base/status.h"

namespace postern {

// A listening socket at path. When running as root and owner is non-null,
// the socket file is chown'ed to owner's uid and gid.
Result<int> ListenUnixStream(const std::string& path, const UserIdentity* owner);

// qmgr's control socket (the queue verbs of `postern queue`, master's
// questions): root's, apart from qmgr.sock, where smtpd streams messages.
inline std::string QueueControlSocket(const std::string& run_directory) {
  return run_directory + "/qmgr-control.sock";
}

enum class SocketMode { kBlocking, kNonBlocking };

// A socket connected to path; daemon_name ("qmgr") shapes the error. A
// non-blocking one never waits, not even for room in a listen queue that
// is full (the connect then fails with EAGAIN).
Result<int> ConnectUnixStream(const std::string& path, const std::string& daemon_name,
                              SocketMode mode = SocketMode::kBlocking);

}  // namespace postern
