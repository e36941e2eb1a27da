// lib/tls/tls_session.cc — see lib/tls/tls_session.h.
#include "lib/tls/tls_session.h"

namespace postern {

Result<std::unique_ptr<TlsServerSession>> TlsServerSession::Create(
    const TlsServerCredentials& credentials, std::string_view ticket_key) {
  std::unique_ptr<TlsServerSession> tls(new TlsServerSession());
  if (Status s = tls->Init(GNUTLS_SERVER); !s.ok()) return s;
  int rc = gnutls_priority_set(tls->session(), credentials.priority());
  if (rc < 0) {
    return Status::Error(std::string("cannot set the TLS priority: ") + gnutls_strerror(rc));
  }
  rc = gnutls_credentials_set(tls->session(), GNUTLS_CRD_CERTIFICATE, credentials.certificate());
  if (rc < 0) {
    return Status::Error(std::string("cannot set the TLS certificate: ") + gnutls_strerror(rc));
  }
  gnutls_certificate_server_set_request(tls->session(), GNUTLS_CERT_IGNORE);
  if (!ticket_key.empty()) {
    Status enabled = tls->EnableTickets(ticket_key);
    if (!enabled.ok()) return enabled;
  }
  return tls;
}

Status TlsServerSession::EnableTickets(std::string_view ticket_key) {
  // GnuTLS may keep pointing at the key, so it lives as long as the session.
  ticket_key_bytes_.assign(ticket_key);
  ticket_key_.data = reinterpret_cast<unsigned char*>(ticket_key_bytes_.data());
  ticket_key_.size = ticket_key_bytes_.size();
  int rc = gnutls_session_ticket_enable_server(session(), &ticket_key_);
  if (rc < 0) {
    return Status::Error("cannot enable TLS session tickets with a " +
                         std::to_string(ticket_key.size()) + "-byte key: " + gnutls_strerror(rc));
  }
  return Status::Ok();
}

TlsServerSession::~TlsServerSession() {
  gnutls_memset(ticket_key_bytes_.data(), 0, ticket_key_bytes_.size());
}

}  // namespace postern
