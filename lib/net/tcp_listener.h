// lib/net/tcp_listener.h — a listening TCP socket for master's listeners and
// its metrics endpoint.
//
// The socket has Nagle's algorithm off (TCP_NODELAY), and Linux gives every
// connection accepted from it the same setting, at no cost per connection.
// smtpd writes each batch of replies in one write, so Nagle has nothing to
// merge; what it did was hold a small write back while an earlier one waited
// for the client's delayed acknowledgement: after a TLS 1.3 handshake the
// session tickets go out on their own and the EHLO reply follows without a
// client write in between, and held back it reached the client 40 ms late
// (a resumed session then took longer than a full one).
#pragma once

#include <string>

#include "lib/base/status.h"
#include "lib/net/network.h"

namespace postern {

// A listening TCP socket, non-blocking and close-on-exec, with TCP_NODELAY,
// bound to address; owner ("listener smtp", "metrics_listen") names it in
// the error.
Result<int> BindTcpListener(const BindAddress& address, const std::string& owner);

}  // namespace postern
