// lib/tls/tls_credentials.cc — see lib/tls/tls_credentials.h.
//
// GnuTLS checks that the key belongs to the certificate while loading, so a
// mismatched pair is refused here, at start-up or reload, rather than at the
// first client's handshake. Key bytes never pass through this file's memory
// except the ticket key, which is wiped before it is freed.
#include "lib/tls/tls_credentials.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace postern {
namespace {

// GnuTLS reports an unreadable file as one code for the pair, without saying
// which file or why; opening each again recovers the file and its errno.
std::string UnreadableFileReason(const std::string& cert_file, const std::string& key_file) {
  const std::pair<const char*, const std::string*> files[] = {{"certificate", &cert_file},
                                                              {"key", &key_file}};
  for (const auto& [what, path] : files) {
    int fd = open(path->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return "cannot load TLS " + std::string(what) + " " + *path + ": " + std::strerror(errno);
    }
    close(fd);
  }
  return "cannot load TLS certificate " + cert_file + " and key " + key_file + ": " +
         gnutls_strerror(GNUTLS_E_FILE_ERROR);
}

Status LoadKeyPair(gnutls_certificate_credentials_t certificate, const std::string& cert_file,
                   const std::string& key_file) {
  int rc = gnutls_certificate_set_x509_key_file(certificate, cert_file.c_str(), key_file.c_str(),
                                                GNUTLS_X509_FMT_PEM);
  if (rc >= 0) return Status::Ok();
  if (rc == GNUTLS_E_FILE_ERROR) return Status::Error(UnreadableFileReason(cert_file, key_file));
  if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
    return Status::Error("TLS key " + key_file + " does not belong to certificate " + cert_file +
                         ": " + gnutls_strerror(rc));
  }
  return Status::Error("cannot load TLS certificate " + cert_file + " with key " + key_file + ": " +
                       gnutls_strerror(rc));
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
    const std::string& cert_file, const std::string& key_file, const std::string& priority) {
  std::unique_ptr<TlsServerCredentials> credentials(new TlsServerCredentials());
  int rc = gnutls_certificate_allocate_credentials(&credentials->certificate_);
  if (rc < 0) {
    return Status::Error(std::string("cannot allocate TLS credentials: ") + gnutls_strerror(rc));
  }
  Status loaded = LoadKeyPair(credentials->certificate_, cert_file, key_file);
  if (!loaded.ok()) return loaded;

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
