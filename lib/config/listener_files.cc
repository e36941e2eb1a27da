// lib/config/listener_files.cc — see lib/config/listener_files.h.
#include "lib/config/listener_files.h"

namespace postern {

Result<std::map<std::string, ListenerFiles>> LoadListenerFiles(const Config& config) {
  std::map<std::string, ListenerFiles> loaded;
  for (const ListenerConfig& listener : config.listeners) {
    ListenerFiles& files = loaded[listener.name];
    // lib/config/config refuses a certificate without its key and the reverse.
    if (listener.has_tls()) {
      Result<std::unique_ptr<TlsServerCredentials>> tls = TlsServerCredentials::Load(
          {listener.tls_cert_file, listener.tls_key_file},
          {listener.tls_eccert_file, listener.tls_eckey_file}, listener.tls_priority);
      if (!tls.ok())
        return Status::Error("listener " + listener.name + ": " + tls.status().message());
      files.tls = std::move(*tls);
    }
    Result<SenderLoginMap> map = SenderLoginMap::Load(listener.sender_login_map);
    if (!map.ok())
      return Status::Error("listener " + listener.name + ": " + map.status().message());
    files.sender_logins = std::move(*map);
  }
  return loaded;
}

}  // namespace postern
