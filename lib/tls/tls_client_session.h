// lib/tls/tls_client_session.h — one client-side TLS connection over memory
// buffers: qmgr's STARTTLS to a next hop.
//
// A TlsChannel (lib/tls/tls_channel.h: FeedCiphertext, Advance, Write,
// Close, TakeCiphertext) set up as the client: the relay driver moves the
// ciphertext to and from its socket and nothing blocks. The driver runs it
// when lib/smtp/client_session asks with StartTls, and answers
// TlsStarted() or TlsFailed() with the Status that Advance() returned.
//
// Per session:
//   - SNI (RFC 6066 3) carries the next hop's host name when it is a name;
//     an IP address is never sent as SNI, as RFC 6066 forbids.
//   - CertificateCheck::kNone (relay_tls may and encrypt): the connection is
//     encrypted whatever certificate the server shows, as Postfix's
//     smtp_tls_security_level may and encrypt: opportunistic TLS protects
//     against eavesdroppers, not against an active attacker.
//   - CertificateCheck::kVerify (relay_tls verify): the chain must verify
//     against the credentials' trust and the certificate must name the host
//     (gnutls_session_set_verify_cert). A failure fails the handshake with a
//     fatal alert, and its Status says why in GnuTLS's words, e.g.
//     "certificate of mx.example.test not trusted: The certificate is NOT
//     trusted. The certificate issuer is unknown."
//   - Resumption: Create() offers the session data of an earlier session
//     with the same next hop (lib/tls/tls_resumption_cache.h), and
//     ResumptionData() gives this session's once the server sent a ticket.
//     A resumed session skips the certificate: it was checked (or not) when
//     the session was made, and the cache keeps verified and unchecked
//     sessions apart.
// No client certificate is presented.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "lib/base/status.h"
#include "lib/tls/tls_channel.h"
#include "lib/tls/tls_credentials.h"

namespace postern {

enum class CertificateCheck { kNone, kVerify };

class TlsClientSession : public TlsChannel {
 public:
  // credentials must outlive the session. host: the next hop as the driver
  // connected to it (a domain name, or an IP address without brackets).
  // resume: an earlier session's ResumptionData() to offer (empty: none);
  // data GnuTLS cannot use (expired, another version) are not offered, and
  // the handshake is a full one.
  static Result<std::unique_ptr<TlsClientSession>> Create(const TlsClientCredentials& credentials,
                                                          const std::string& host,
                                                          CertificateCheck check,
                                                          std::string_view resume = {});
  // The client speaks first: the first Advance(), before any ciphertext
  // arrived, writes the ClientHello for TakeCiphertext().

  // The handshake is done and the server's certificate was checked and
  // passed (never under CertificateCheck::kNone), for the delivery log
  // ("TLS1.3 with cipher TLS_AES_256_GCM_SHA384, verified").
  bool verified() const;

  // What a later connection to the same next hop needs to resume this
  // session: empty until the handshake is done and the server sent a
  // ticket (TLS 1.3 sends it after the handshake, with the first records).
  std::string ResumptionData() const;

 private:
  TlsClientSession(std::string host, CertificateCheck check)
      : TlsChannel("server"), host_(std::move(host)), check_(check) {}
  Status HandshakeFailed(int rc) override;

  std::string host_;
  CertificateCheck check_;
};

}  // namespace postern
