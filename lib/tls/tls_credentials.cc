// lib/tls/tls_credentials.cc — see lib/tls/tls_credentials.h.
//
// GnuTLS checks that the key belongs to the certificate while loading, so a
// mismatched pair is refused here, at start-up or reload, rather than at the
// first client's handshake. Key bytes never pass through this file's memory
// except the ticket key, which is wiped before it is freed.
#include "lib/tls/tls_credentials.h"

#include <fcntl.h>
#include <gnutls/x509.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace postern {
namespace {

// How errors name a pair's files: "TLS certificate ..." for tls_cert_file's,
// "TLS EC certificate ..." for tls_eccert_file's.
const char kPlain[] = "";
const char kEc[] = "EC ";

// GnuTLS reports an unreadable file as one code for the pair, without saying
// which file or why; opening each again recovers the file and its errno.
std::string UnreadableFileReason(const TlsKeyPair& pair, const std::string& kind) {
  const std::pair<const char*, const std::string*> files[] = {{"certificate", &pair.cert_file},
                                                              {"key", &pair.key_file}};
  for (const auto& [what, path] : files) {
    int fd = open(path->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "cannot load TLS " + kind + what + " " + *path + ": " + std::strerror(errno);
    close(fd);
  }
  return "cannot load TLS " + kind + "certificate " + pair.cert_file + " and key " + pair.key_file +
         ": " + gnutls_strerror(GNUTLS_E_FILE_ERROR);
}

// Adds the pair to certificate and returns its index there (the
// credentials are set to GNUTLS_CERTIFICATE_API_V2, which returns it).
Result<unsigned> LoadKeyPair(gnutls_certificate_credentials_t certificate, const TlsKeyPair& pair,
                             const std::string& kind) {
  int rc = gnutls_certificate_set_x509_key_file(certificate, pair.cert_file.c_str(),
                                                pair.key_file.c_str(), GNUTLS_X509_FMT_PEM);
  if (rc >= 0) return static_cast<unsigned>(rc);
  if (rc == GNUTLS_E_FILE_ERROR) return Status::Error(UnreadableFileReason(pair, kind));
  if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
    return Status::Error("TLS " + kind + "key " + pair.key_file + " does not belong to " + kind +
                         "certificate " + pair.cert_file + ": " + gnutls_strerror(rc));
  }
  return Status::Error("cannot load TLS " + kind + "certificate " + pair.cert_file + " with key " +
                       pair.key_file + ": " + gnutls_strerror(rc));
}

// tls_eccert_file takes the key algorithms whose signatures are cheap: an
// RSA certificate there would be tried first and served to every client,
// the opposite of what the key is for.
Status CheckEcAlgorithm(gnutls_certificate_credentials_t certificate, unsigned index,
                        const std::string& cert_file) {
  gnutls_x509_crt_t* chain = nullptr;
  unsigned length = 0;
  int rc = gnutls_certificate_get_x509_crt(certificate, index, &chain, &length);
  if (rc < 0) {
    return Status::Error("TLS EC certificate " + cert_file +
                         ": cannot read its key algorithm: " + gnutls_strerror(rc));
  }
  int algorithm = gnutls_x509_crt_get_pk_algorithm(chain[0], nullptr);
  for (unsigned i = 0; i < length; ++i) gnutls_x509_crt_deinit(chain[i]);
  gnutls_free(chain);
  if (algorithm == GNUTLS_PK_ECDSA || algorithm == GNUTLS_PK_EDDSA_ED25519 ||
      algorithm == GNUTLS_PK_EDDSA_ED448)
    return Status::Ok();
  const char* name = gnutls_pk_algorithm_get_name(static_cast<gnutls_pk_algorithm_t>(algorithm));
  return Status::Error("TLS EC certificate " + cert_file + ": its key is " +
                       (name != nullptr ? name : "of an unknown algorithm") +
                       ", not ECDSA or EdDSA (a certificate with another key goes in "
                       "tls_cert_file)");
}

Status CompilePriority(const std::string& priority, gnutls_priority_t* compiled) {
  const char* error_position = nullptr;
  int rc = gnutls_priority_init(compiled, priority.c_str(), &error_position);
  if (rc >= 0) return Status::Ok();
  *compiled = nullptr;
  std::string where = error_position != nullptr
                          ? " at offset " + std::to_string(error_position - priority.c_str()) +
                                " (\"" + error_position + "\")"
                          : "";
  return Status::Error("invalid TLS priority string \"" + priority + "\"" + where + ": " +
                       gnutls_strerror(rc));
}

Status LoadTrust(gnutls_certificate_credentials_t certificate, const std::string& ca_file) {
  if (ca_file.empty()) {
    int rc = gnutls_certificate_set_x509_system_trust(certificate);
    if (rc < 0) {
      return Status::Error(std::string("cannot load the system's trusted CA certificates: ") +
                           gnutls_strerror(rc));
    }
    return Status::Ok();
  }
  int rc =
      gnutls_certificate_set_x509_trust_file(certificate, ca_file.c_str(), GNUTLS_X509_FMT_PEM);
  std::string what = "cannot load trusted CA certificates from " + ca_file + ": ";
  if (rc == GNUTLS_E_FILE_ERROR) {
    int fd = open(ca_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::Error(what + std::strerror(errno));
    close(fd);
  }
  if (rc < 0) return Status::Error(what + gnutls_strerror(rc));
  if (rc == 0) return Status::Error(what + "the file holds no PEM certificate");
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<TlsServerCredentials>> TlsServerCredentials::Load(
    const TlsKeyPair& cert, const TlsKeyPair& eccert, const std::string& priority) {
  if (cert.cert_file.empty() && eccert.cert_file.empty())
    return Status::Error("no TLS certificate to load: neither pair is set");
  std::unique_ptr<TlsServerCredentials> credentials(new TlsServerCredentials());
  int rc = gnutls_certificate_allocate_credentials(&credentials->certificate_);
  if (rc < 0) {
    return Status::Error(std::string("cannot allocate TLS credentials: ") + gnutls_strerror(rc));
  }
  gnutls_certificate_set_flags(credentials->certificate_, GNUTLS_CERTIFICATE_API_V2);
  // The order of loading is the order of preference (see the header).
  if (!eccert.cert_file.empty()) {
    Result<unsigned> index = LoadKeyPair(credentials->certificate_, eccert, kEc);
    if (!index.ok()) return index.status();
    Status ec = CheckEcAlgorithm(credentials->certificate_, *index, eccert.cert_file);
    if (!ec.ok()) return ec;
  }
  if (!cert.cert_file.empty()) {
    Result<unsigned> index = LoadKeyPair(credentials->certificate_, cert, kPlain);
    if (!index.ok()) return index.status();
  }
  if (Status s = CompilePriority(priority, &credentials->priority_); !s.ok()) return s;
  return credentials;
}

TlsServerCredentials::~TlsServerCredentials() {
  if (priority_ != nullptr) gnutls_priority_deinit(priority_);
  if (certificate_ != nullptr) gnutls_certificate_free_credentials(certificate_);
}

Result<std::unique_ptr<TlsClientCredentials>> TlsClientCredentials::Load(
    const std::string& ca_file, const std::string& priority) {
  std::unique_ptr<TlsClientCredentials> credentials(new TlsClientCredentials());
  int rc = gnutls_certificate_allocate_credentials(&credentials->certificate_);
  if (rc < 0) {
    return Status::Error(std::string("cannot allocate TLS credentials: ") + gnutls_strerror(rc));
  }
  if (Status s = LoadTrust(credentials->certificate_, ca_file); !s.ok()) return s;
  if (Status s = CompilePriority(priority, &credentials->priority_); !s.ok()) return s;
  return credentials;
}

TlsClientCredentials::~TlsClientCredentials() {
  if (priority_ != nullptr) gnutls_priority_deinit(priority_);
  if (certificate_ != nullptr) gnutls_certificate_free_credentials(certificate_);
}

Result<std::string> GenerateTlsTicketKey() {
  gnutls_datum_t key{};
  int rc = gnutls_session_ticket_key_generate(&key);
  if (rc < 0) {
    return Status::Error(std::string("cannot generate a TLS session ticket key: ") +
                         gnutls_strerror(rc));
  }
  std::string bytes(reinterpret_cast<const char*>(key.data), key.size);
  gnutls_memset(key.data, 0, key.size);
  gnutls_free(key.data);
  return bytes;
}

}  // namespace postern
