// tests/lib/tls/tls_test_support.h — TLS test doubles for unit tests:
// certificates and a CA made at test time and a GnuTLS client over memory
// buffers.
//
// Owns a temporary directory per certificate (removed on destruction) and
// one client session per TlsTestClient. Never touches a socket or a file
// outside its temporary directory, and no key is ever committed: every key
// is generated when the test runs.
#pragma once

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <cstddef>
#include <limits>
#include <ostream>
#include <string>
#include <string_view>

#include "lib/tls/tls_session.h"

namespace postern {

class TestCertificateAuthority;

// The key algorithm of a TestCertificate: ECDSA P-256, RSA 2048 bits or Ed25519.
enum class TestKeyType { kEcdsa, kRsa, kEd25519 };

// A certificate for one host name (common name and DNS subject alternative
// name) and its private key, written as PEM files into a fresh temporary
// directory. Self-signed, or signed by issuer; ECDSA unless key_type says.
class TestCertificate {
 public:
  explicit TestCertificate(const std::string& hostname = "mail.example.test",
                           const TestCertificateAuthority* issuer = nullptr,
                           TestKeyType key_type = TestKeyType::kEcdsa);
  ~TestCertificate();
  TestCertificate(const TestCertificate&) = delete;
  TestCertificate& operator=(const TestCertificate&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& cert_file() const { return cert_file_; }
  const std::string& key_file() const { return key_file_; }
  // Writes a fresh ECDSA private key that belongs to no certificate, as
  // <dir>/<name>, and returns its path.
  std::string WriteUnrelatedKey(const std::string& name) const;

 private:
  std::string dir_;
  std::string cert_file_;
  std::string key_file_;
};

// A certificate authority made when the test runs: an ECDSA P-256 CA
// certificate, written as <dir>/ca.pem (a relay_tls_ca_file), whose key
// signs the TestCertificates given it as issuer. Its key stays in memory.
class TestCertificateAuthority {
 public:
  explicit TestCertificateAuthority(const std::string& name = "postern test CA");
  ~TestCertificateAuthority();
  TestCertificateAuthority(const TestCertificateAuthority&) = delete;
  TestCertificateAuthority& operator=(const TestCertificateAuthority&) = delete;

  const std::string& ca_file() const { return ca_file_; }

 private:
  friend class TestCertificate;
  std::string dir_;
  std::string ca_file_;
  gnutls_x509_privkey_t key_ = nullptr;
  gnutls_x509_crt_t crt_ = nullptr;
};

// A GnuTLS client session whose ciphertext goes through two byte buffers,
// the mirror image of TlsServerSession. It does not verify the server's
// certificate: the tests are about the server's side of the protocol.
class TlsTestClient {
 public:
  // Offers what `priority` allows; with session_data saved from an earlier
  // connection it asks to resume that session. init_flags are added to
  // gnutls_init's (GNUTLS_KEY_SHARE_TOP: one TLS 1.3 key share, for the
  // first group of `priority`, as OpenSSL's clients send).
  explicit TlsTestClient(const std::string& priority = "NORMAL",
                         const std::string& session_data = "", unsigned init_flags = 0);
  ~TlsTestClient();
  TlsTestClient(const TlsTestClient&) = delete;
  TlsTestClient& operator=(const TlsTestClient&) = delete;

  void FeedCiphertext(std::string_view bytes);
  std::string TakeCiphertext();

  // Runs gnutls_handshake as far as the input allows: 0 when done,
  // GNUTLS_E_AGAIN when it needs the server's answer, or a fatal code.
  int Handshake();
  // Encrypts all of plaintext (a test failure if GnuTLS refuses).
  void Send(std::string_view plaintext);
  // Decrypts until the input runs out and returns the code that stopped it:
  // GNUTLS_E_AGAIN, 0 for the server's close_notify, or a fatal code.
  int Receive(std::string* plaintext);
  // The session to resume from on a later connection (TLS 1.3: only after
  // a Receive() has read the server's tickets).
  std::string SessionData() const;

  gnutls_session_t session() const { return session_; }
  std::string version() const;
  std::string cipher() const;
  // The key algorithm of the certificate the server sent, as GnuTLS names it
  // ("EC/ECDSA", "RSA");
  // empty when it sent none (a resumed session).
  std::string server_key_algorithm() const;
  bool resumed() const { return gnutls_session_is_resumed(session_) != 0; }
  // The key exchange group, as GnuTLS names it ("X25519", "SECP256R1").
  std::string group() const;
  // Whether the server answered the first ClientHello with a
  // HelloRetryRequest (TLS 1.3).
  bool hello_retried() const { return hello_retried_; }

 private:
  static ssize_t Push(gnutls_transport_ptr_t self, const void* data, size_t size);
  static ssize_t Pull(gnutls_transport_ptr_t self, void* data, size_t size);
  static int NoteHelloRetry(gnutls_session_t session, unsigned type, unsigned when,
                            unsigned incoming, const gnutls_datum_t* message);
  bool MoreToRead(size_t offset_before) const;

  gnutls_certificate_credentials_t credentials_ = nullptr;
  gnutls_session_t session_ = nullptr;
  std::string input_;
  size_t input_offset_ = 0;
  std::string output_;
  bool hello_retried_ = false;
};

// For Boost.Test's messages: "kOpen", "kFailed"...
std::ostream& operator<<(std::ostream& out, TlsServerSession::State state);

// Runs both handshakes to their end, moving whole flights of ciphertext
// between them. Returns the client's last gnutls_handshake code (0: done).
int Connect(TlsServerSession& server, TlsTestClient& client);

// Moves the client's pending ciphertext to the server `chunk` bytes at a
// time, calling Advance() after each piece; returns the plaintext the server
// decrypted (a test failure if Advance() reports an error).
std::string ClientToServer(TlsTestClient& client, TlsServerSession& server,
                           size_t chunk = std::numeric_limits<size_t>::max());

// The same in the other direction; *code gets the client's last Receive()
// code when it is not null.
std::string ServerToClient(TlsServerSession& server, TlsTestClient& client,
                           size_t chunk = std::numeric_limits<size_t>::max(), int* code = nullptr);

}  // namespace postern
