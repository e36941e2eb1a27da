// lib/tls/tls_credentials.h — a listener's TLS certificates, keys and
// priority, the session ticket key that every smtpd worker shares, and the
// trust and priority of the relay client.
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

// A PEM certificate chain (the server's own certificate first) and its
// private key, as two files. Both empty: no such pair.
struct TlsKeyPair {
  std::string cert_file;
  std::string key_file;
};

class TlsServerCredentials {
 public:
  // Reads a listener's certificate pairs into one GnuTLS credential and
  // compiles the GnuTLS priority string. cert (tls_cert_file) may have any
  // key algorithm, usually RSA; eccert (tls_eccert_file) must have an ECDSA
  // or EdDSA key. Either may be empty, not both.
  //
  // Which certificate a handshake gets: GnuTLS walks the pairs in the order
  // they were added (one exception: an RSA-PSS key goes before a plain RSA
  // one) and takes the first whose key can sign with an algorithm the
  // client offers and, before TLS 1.3, suits the cipher suite's key
  // exchange (gnutls lib/auth/cert.c, _gnutls_select_server_cert); a pair
  // whose names match the client's SNI is tried before the rest. eccert is
  // added first, so a client that accepts ECDSA gets it and a client that
  // accepts only RSA signatures gets cert. Over TLS 1.2 the suite is chosen
  // before the certificate: under %SERVER_PRECEDENCE in the priority (the
  // default) GnuTLS's NORMAL order puts ECDHE-ECDSA before ECDHE-RSA, so the
  // EC certificate wins there too; without it the client's order decides.
  //
  // Errors name the file or the priority string and say GnuTLS's reason
  // ("cannot load TLS key /etc/postern/tls/key.pem: ..."); those of eccert
  // say "EC" ("TLS EC key ... does not belong to EC certificate ..."), and
  // an eccert whose key is neither ECDSA nor EdDSA is refused by name.
  static Result<std::unique_ptr<TlsServerCredentials>> Load(const TlsKeyPair& cert,
                                                            const TlsKeyPair& eccert,
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
