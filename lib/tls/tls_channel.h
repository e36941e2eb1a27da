// lib/tls/tls_channel.h — one TLS connection over memory buffers, either end.
//
// GnuTLS reads and writes through push/pull functions bound to two byte
// buffers owned here, so the caller moves ciphertext to and from its socket
// (an evbuffer) and nothing ever blocks. TlsServerSession (smtpd) and
// TlsClientSession (qmgr's relay) set the session up for their end and
// share everything after: the handshake loop, records in and out, closing.
//
// Use: FeedCiphertext() what arrived from the peer, call Advance() (which
// runs the handshake and then decrypts records into plaintext), send what
// TakeCiphertext() returns. Write() encrypts once the handshake is done.
// TLS 1.2 renegotiation asked by the peer is refused and ends the
// connection: it buys a mail session nothing and costs a full handshake
// each time (Postfix refuses it too).
#pragma once

#include <gnutls/gnutls.h>

#include <string>
#include <string_view>

#include "lib/base/status.h"

namespace postern {

class TlsChannel {
 public:
  enum class State {
    kHandshaking,  // more ciphertext from the peer is needed
    kOpen,         // handshake done: plaintext flows both ways
    kClosed,       // the peer sent close_notify; writing may go on
                   // (RFC 8446 6.1: closing is per direction)
    kFailed,       // a fatal alert or error; close the connection
  };

  virtual ~TlsChannel();
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  // Ciphertext read from the peer, any amount, any split.
  void FeedCiphertext(std::string_view bytes);
  // Runs the handshake as far as the input allows, then decrypts every
  // complete record, appending plaintext to *plaintext. An error (also
  // reflected in state() == kFailed) says what GnuTLS reported.
  Status Advance(std::string* plaintext);
  // Encrypts plaintext for the peer; in kOpen, and in kClosed for what
  // still has to go out after the peer's close_notify.
  Status Write(std::string_view plaintext);
  // Queues a close_notify alert (once the handshake is done; before, there
  // is nothing to close politely).
  void Close();
  // Ciphertext to send to the peer, handed over and forgotten.
  std::string TakeCiphertext();

  State state() const { return state_; }
  // After the handshake: "TLS1.3", "TLS1.2".
  std::string version() const;
  // After the handshake: the IANA suite name, e.g.
  // "TLS_AES_256_GCM_SHA384" or "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".
  std::string cipher() const;
  // After the handshake: the peer and this end resumed an earlier session
  // (a ticket) instead of a full handshake.
  bool resumed() const;

 protected:
  // peer: "client" or "server", the other end, for error messages.
  explicit TlsChannel(const char* peer) : peer_(peer) {}
  // gnutls_init with flags (GNUTLS_SERVER or GNUTLS_CLIENT; non-blocking is
  // added) and the memory transport.
  Status Init(unsigned flags);
  gnutls_session_t session() const { return session_; }
  // Turns a fatal handshake code into the error to report; the state is
  // already kFailed. The default names GnuTLS's reason and the peer's alert.
  virtual Status HandshakeFailed(int rc);

 private:
  static ssize_t Push(gnutls_transport_ptr_t self, const void* data, size_t size);
  static ssize_t Pull(gnutls_transport_ptr_t self, void* data, size_t size);
  static int PullTimeout(gnutls_transport_ptr_t self, unsigned int ms);
  Status Handshake();
  Status Receive(std::string* plaintext);
  bool MoreToRead(size_t offset_before) const;
  Status Fail(int rc, const char* what);
  // The error text for a fatal code rc during what.
  std::string Describe(int rc, const char* what) const;
  void CompactInput();

  const char* peer_;
  gnutls_session_t session_ = nullptr;
  std::string input_;
  size_t input_offset_ = 0;
  std::string output_;
  State state_ = State::kHandshaking;
};

}  // namespace postern
