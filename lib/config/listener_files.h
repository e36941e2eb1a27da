// lib/config/listener_files.h — the files a listener's sessions need, read before
// privileges are dropped: TLS certificates and keys, and sender_login_map.
//
// smtpd loads them as root, before it chroots, and keeps them for its life;
// master loads them too at start and on reload, only to refuse a
// configuration whose files are missing or broken with a clear message,
// before any worker is started with it (a worker that cannot load them
// would only crash-loop).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "lib/base/status.h"
#include "lib/config/config.h"
#include "lib/smtp/sender_login.h"
#include "lib/tls/tls_credentials.h"

namespace postern {

struct ListenerFiles {
  std::unique_ptr<TlsServerCredentials> tls;  // nullptr: the listener has no TLS
  SenderLoginMap sender_logins;               // empty without sender_login_map
};

// By listener name, every listener of config. Errors name the listener and
// the file.
Result<std::map<std::string, ListenerFiles>> LoadListenerFiles(const Config& config);

}  // namespace postern
