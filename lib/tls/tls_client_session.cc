// lib/tls/tls_client_session.cc — see lib/tls/tls_client_session.h.
//
// GnuTLS checks the chain and the name inside the handshake
// (gnutls_session_set_verify_cert), so an unverified server never sees a
// byte of the SMTP dialogue after STARTTLS, and reads the reason from the
// fatal alert it is sent.
#include "lib/tls/tls_client_session.h"

#include "lib/net/network.h"

namespace postern {
namespace {

// GnuTLS's words for a verification status, e.g. "The certificate is NOT
// trusted. The certificate issuer is unknown."
std::string VerificationStatusText(unsigned status) {
  gnutls_datum_t text{};
  if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) < 0) {
    return "verification status " + std::to_string(status);
  }
  std::string words(reinterpret_cast<const char*>(text.data), text.size);
  gnutls_free(text.data);
  return words;
}

}  // namespace

Result<std::unique_ptr<TlsClientSession>> TlsClientSession::Create(
    const TlsClientCredentials& credentials, const std::string& host, CertificateCheck check,
    std::string_view resume) {
  std::unique_ptr<TlsClientSession> tls(new TlsClientSession(host, check));
  if (Status s = tls->Init(GNUTLS_CLIENT); !s.ok()) return s;
  int rc = gnutls_priority_set(tls->session(), credentials.priority());
  if (rc < 0) {
    return Status::Error(std::string("cannot set the TLS priority: ") + gnutls_strerror(rc));
  }
  rc = gnutls_credentials_set(tls->session(), GNUTLS_CRD_CERTIFICATE, credentials.certificate());
  if (rc < 0) {
    return Status::Error(std::string("cannot set the TLS trust: ") + gnutls_strerror(rc));
  }
  if (!IpAddress::Parse(host).has_value()) {
    rc = gnutls_server_name_set(tls->session(), GNUTLS_NAME_DNS, host.data(), host.size());
    if (rc < 0) {
      return Status::Error("cannot send " + host + " as TLS server name: " + gnutls_strerror(rc));
    }
  }
  // GnuTLS keeps the pointer, so it points into the session's own copy. An IP
  // address is matched against the certificate's IP address entries.
  if (check == CertificateCheck::kVerify) {
    gnutls_session_set_verify_cert(tls->session(), tls->host_.c_str(), 0);
  }
  if (!resume.empty()) {
    // A refusal leaves the session as it was: it makes a full handshake.
    (void)gnutls_session_set_data(tls->session(), resume.data(), resume.size());
  }
  return tls;
}

Status TlsClientSession::HandshakeFailed(int rc) {
  if (rc != GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) return TlsChannel::HandshakeFailed(rc);
  return Status::Error("certificate of " + host_ + " not trusted: " +
                       VerificationStatusText(gnutls_session_get_verify_cert_status(session())));
}

std::string TlsClientSession::ResumptionData() const {
  if (state() != State::kOpen) return {};
  if ((gnutls_session_get_flags(session()) & GNUTLS_SFLAGS_SESSION_TICKET) == 0) return {};
  gnutls_datum_t data{};
  if (gnutls_session_get_data2(session(), &data) < 0) return {};
  std::string copy(reinterpret_cast<const char*>(data.data), data.size);
  gnutls_memset(data.data, 0, data.size);
  gnutls_free(data.data);
  return copy;
}

bool TlsClientSession::verified() const {
  return check_ == CertificateCheck::kVerify &&
         (state() == State::kOpen || state() == State::kClosed);
}

}  // namespace postern
