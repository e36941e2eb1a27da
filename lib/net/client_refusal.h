// lib/net/client_refusal.h — refusing a client connection before any session.
//
// master refuses at accept (connection limits, blocks, resources) or when
// no worker takes a hand-off in time, and an smtpd worker refuses a client a DNSBL zone lists,
// before the banner: both send one reply line and close. Best effort: the reply is a few bytes on a
// fresh socket; a client that cannot take them now is not waited for.
#pragma once

#include <cstdint>
#include <string_view>

#include "lib/net/network.h"

namespace postern {

// Logs the refusal of peer:port as Postfix's "NOQUEUE: reject: CONNECT from
// unknown[ADDRESS]:PORT: REPLY; proto=SMTP" (lib/smtp/session_log.h), sends reply (CRLF included)
// on fd without blocking, shuts the connection down in both directions and closes fd.
void RefuseClient(int fd, const IpAddress& peer, uint16_t port, std::string_view reply);

}  // namespace postern
