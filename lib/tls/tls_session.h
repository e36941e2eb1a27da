// lib/tls/tls_session.h — one server-side TLS connection over memory buffers.
//
// A TlsChannel (lib/tls/tls_channel.h: FeedCiphertext, Advance, Write,
// Close, TakeCiphertext) set up as the server with a listener's
// certificate, and with session tickets when master gave a ticket key.
// smtpd moves the ciphertext through its bufferevent's evbuffers; unit tests
// connect a GnuTLS client the same way, without sockets. Client
// certificates are not asked for.
#pragma once

#include <gnutls/gnutls.h>

#include <memory>
#include <string>
#include <string_view>

#include "lib/base/status.h"
#include "lib/tls/tls_channel.h"
#include "lib/tls/tls_credentials.h"

namespace postern {

class TlsServerSession : public TlsChannel {
 public:
  // credentials must outlive the session. An empty ticket_key disables
  // session tickets (resumption).
  static Result<std::unique_ptr<TlsServerSession>> Create(const TlsServerCredentials& credentials,
                                                          std::string_view ticket_key);
  ~TlsServerSession() override;

 private:
  TlsServerSession() : TlsChannel("client") {}
  Status EnableTickets(std::string_view ticket_key);

  gnutls_datum_t ticket_key_{};
  std::string ticket_key_bytes_;
};

}  // namespace postern
