// lib/smtp/relay_tls.h — how much TLS the SMTP client demands of a next hop
// (config relay_tls), apart from lib/smtp/client_session.h so that the
// configuration can hold it without the client's state machine.
#pragma once

namespace postern {

// none: never STARTTLS. may: STARTTLS when offered, cleartext otherwise.
// encrypt: STARTTLS or no delivery, any certificate. verify: as encrypt,
// and the certificate must verify and name the host. The order is the
// order of relay_tls's words in lib/config/config_keys.cc.
enum class RelayTls { kNone, kMay, kEncrypt, kVerify };

}  // namespace postern
