// lib/tls/tls_credentials.h — a listener's TLS certificate, key and priority,
// and the session ticket key that every smtpd worker shares.
//
// Loaded by smtpd as root before it drops privileges (the key file may be
// readable by root alone) and again by the new workers on postern reload;
// a live session keeps the credentials it started with. Never logs key
// material.
#pragma once

#include <gnutls/gnutls.h>

#include <memory>
#include <string>

#include "lib/base/status.h"

namespace postern {

class TlsServerCredentials {
 public:
  // Reads the PEM certificate chain and its private key and compiles the
  // GnuTLS priority string. Errors name the file or the priority string and
  // say GnuTLS's reason ("cannot load TLS key /etc/postern/tls/key.pem: ...").
  static Result<std::unique_ptr<TlsServerCredentials>> Load(const std::string& cert_file,
                                                            const std::string& key_file,
                                                            const std::string& priority);
  ~TlsServerCredentials();
  TlsServerCredentials(const TlsServerCredentials&) = delete;
  TlsServerCredentials& operator=(const TlsServerCredentials&) = delete;

  gnutls_certificate_credentials_t certificate() const { return certificate_; }
  gnutls_priority_t priority() const { return priority_; }

 private:
  TlsServerCredentials() = default;
  gnutls_certificate_credentials_t certificate_ = nullptr;
  gnutls_priority_t priority_ = nullptr;
};

// A fresh session ticket encryption key (gnutls_session_ticket_key_generate),
// as raw bytes. master makes one at start and sends it to every worker.
Result<std::string> GenerateTlsTicketKey();

}  // namespace postern
