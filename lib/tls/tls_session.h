// lib/tls/tls_session.h — one server-side TLS connection over memory buffers.
//
// GnuTLS reads and writes through push/pull functions bound to two byte
// buffers owned here, so the caller moves ciphertext to and from its socket
// (smtpd: the bufferevent's evbuffers) and nothing ever blocks. Unit tests
// connect a GnuTLS client the same way, without sockets.
//
// Use: FeedCiphertext() what arrived from the client, call Advance() (which
// runs the handshake and then decrypts records into plaintext), send what
// TakeCiphertext() returns. Write() encrypts replies once the handshake is
// done.
#pragma once

#include <gnutls/gnutls.h>

#include <memory>
#include <string>
#include <string_view>

#include "lib/base/status.h"
#include "lib/tls/tls_credentials.h"

namespace postern {

class TlsServerSession {
 public:
  enum class State {
    kHandshaking,  // more ciphertext from the client is needed
    kOpen,         // handshake done: plaintext flows both ways
    kClosed,       // the client sent close_notify; replies may still go out
                   // (RFC 8446 6.1: closing is per direction)
    kFailed,       // a fatal alert or error; close the connection
  };

  // credentials must outlive the session. An empty ticket_key disables
  // session tickets (resumption).
  static Result<std::unique_ptr<TlsServerSession>> Create(const TlsServerCredentials& credentials,
                                                          std::string_view ticket_key);
  ~TlsServerSession();
  TlsServerSession(const TlsServerSession&) = delete;
  TlsServerSession& operator=(const TlsServerSession&) = delete;

  // Ciphertext read from the client, any amount, any split.
  void FeedCiphertext(std::string_view bytes);
  // Runs the handshake as far as the input allows, then decrypts every
  // complete record, appending plaintext to *plaintext. An error (also
  // reflected in state() == kFailed) says what GnuTLS reported.
  Status Advance(std::string* plaintext);
  // Encrypts plaintext for the client; in kOpen, and in kClosed for the
  // replies to what the client sent before its close_notify.
  Status Write(std::string_view plaintext);
  // Queues a close_notify alert (once the handshake is done; before, there
  // is nothing to close politely).
  void Close();
  // Ciphertext to send to the client, handed over and forgotten.
  std::string TakeCiphertext();

  State state() const { return state_; }
  // After the handshake: "TLS1.3", "TLS1.2".
  std::string version() const;
  // After the handshake: the IANA suite name, e.g.
  // "TLS_AES_256_GCM_SHA384" or "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".
  std::string cipher() const;
  // True when the client resumed an earlier session from a ticket.
  bool resumed() const;

 private:
  TlsServerSession() = default;
  static ssize_t Push(gnutls_transport_ptr_t self, const void* data, size_t size);
  static ssize_t Pull(gnutls_transport_ptr_t self, void* data, size_t size);
  static int PullTimeout(gnutls_transport_ptr_t self, unsigned int ms);
  Status EnableTickets(std::string_view ticket_key);
  Status Handshake();
  Status Receive(std::string* plaintext);
  bool MoreToRead(size_t offset_before) const;
  Status Fail(int rc, const char* what);
  void CompactInput();

  gnutls_session_t session_ = nullptr;
  gnutls_datum_t ticket_key_{};
  std::string ticket_key_bytes_;
  std::string input_;
  size_t input_offset_ = 0;
  std::string output_;
  State state_ = State::kHandshaking;
};

}  // namespace postern
