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

  const char* error_position = nullptr;
  rc = gnutls_priority_init(&credentials->priority_, priority.c_str(), &error_position);
  if (rc < 0) {
    credentials->priority_ = nullptr;
    std::string where = error_position != nullptr
                            ? " at offset " + std::to_string(error_position - priority.c_str()) +
                                  " (\"" + error_position + "\")"
                            : "";
    return Status::Error("invalid TLS priority string \"" + priority + "\"" + where + ": " +
                         gnutls_strerror(rc));
  }
  return credentials;
}

TlsServerCredentials::~TlsServerCredentials() {
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
