// lib/tls/tls_credentials.h — a listener's TLS certificate, key and priority,
// the session ticket key that every smtpd worker shares, and the trust and
// priority of the relay client.
//
// Server credentials are loaded by smtpd as root before it drops privileges
// (the key file may be readable by root alone) and again by the new workers
// on postern reload; a live session keeps the credentials it started with.
// Client credentials are loaded by qmgr at start. Never logs key material.
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

// What the relay client trusts and offers: the certificate authorities that
// verify a next hop (relay_tls = verify) and the GnuTLS priority string. It
// presents no certificate of its own.
class TlsClientCredentials {
 public:
  // ca_file: a PEM file of trusted CA certificates (relay_tls_ca_file);
  // empty: the system trust store (gnutls_certificate_set_x509_system_trust).
  // Errors name the file or the priority string and say why ("cannot load
  // trusted CA certificates from /etc/postern/ca.pem: No such file or
  // directory"; a file without a certificate is an error too).
  static Result<std::unique_ptr<TlsClientCredentials>> Load(const std::string& ca_file,
                                                            const std::string& priority);
  ~TlsClientCredentials();
  TlsClientCredentials(const TlsClientCredentials&) = delete;
  TlsClientCredentials& operator=(const TlsClientCredentials&) = delete;

  gnutls_certificate_credentials_t certificate() const { return certificate_; }
  gnutls_priority_t priority() const { return priority_; }

 private:
  TlsClientCredentials() = default;
  gnutls_certificate_credentials_t certificate_ = nullptr;
  gnutls_priority_t priority_ = nullptr;
};

// A fresh session ticket encryption key (gnutls_session_ticket_key_generate),
// as raw bytes. master makes one at start and sends it to every worker.
Result<std::string> GenerateTlsTicketKey();

}  // namespace postern
