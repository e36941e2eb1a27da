// tests/lib/tls/tls_test_support.cc — see tests/lib/tls/tls_test_support.h.
#define BOOST_TEST_DYN_LINK
#include "tests/lib/tls/tls_test_support.h"

#include <gnutls/x509.h>
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

namespace postern {
namespace {

constexpr time_t kOneDay = 24 * 60 * 60;
// Bounds the handshake loop so a test that never finishes fails instead.
constexpr int kMaxHandshakeRounds = 20;

struct PrivateKeyFree {
  void operator()(gnutls_x509_privkey_t key) const { gnutls_x509_privkey_deinit(key); }
};
struct CertificateFree {
  void operator()(gnutls_x509_crt_t crt) const { gnutls_x509_crt_deinit(crt); }
};
using PrivateKey = std::unique_ptr<std::remove_pointer_t<gnutls_x509_privkey_t>, PrivateKeyFree>;
using Certificate = std::unique_ptr<std::remove_pointer_t<gnutls_x509_crt_t>, CertificateFree>;

void Check(int rc, const char* what) {
  BOOST_REQUIRE_MESSAGE(rc >= 0, what << ": " << gnutls_strerror(rc));
}

PrivateKey GenerateKey(TestKeyType type = TestKeyType::kEcdsa) {
  gnutls_x509_privkey_t raw = nullptr;
  Check(gnutls_x509_privkey_init(&raw), "gnutls_x509_privkey_init");
  PrivateKey key(raw);
  if (type == TestKeyType::kRsa) {
    Check(gnutls_x509_privkey_generate(key.get(), GNUTLS_PK_RSA, 2048, 0),
          "gnutls_x509_privkey_generate");
  } else if (type == TestKeyType::kEd25519) {
    Check(gnutls_x509_privkey_generate(key.get(), GNUTLS_PK_EDDSA_ED25519,
                                       GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED25519), 0),
          "gnutls_x509_privkey_generate");
  } else {
    Check(gnutls_x509_privkey_generate(key.get(), GNUTLS_PK_ECDSA,
                                       GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
          "gnutls_x509_privkey_generate");
  }
  return key;
}

// Who signs a certificate: itself (issuer null) or a CA.
struct Issuer {
  gnutls_x509_crt_t crt = nullptr;
  gnutls_x509_privkey_t key = nullptr;
};

// A certificate valid from yesterday for 30 days: for a host name (as
// common name and DNS name) or, with is_ca, a CA that may sign others.
Certificate MakeCertificate(gnutls_x509_privkey_t key, const std::string& name, bool is_ca,
                            Issuer issuer) {
  gnutls_x509_crt_t raw = nullptr;
  Check(gnutls_x509_crt_init(&raw), "gnutls_x509_crt_init");
  Certificate crt(raw);
  static unsigned char serial = 0;
  const unsigned char serial_bytes[] = {0x01, 0x02, 0x03, ++serial};
  time_t now = time(nullptr);
  Check(gnutls_x509_crt_set_version(crt.get(), 3), "set_version");
  Check(gnutls_x509_crt_set_serial(crt.get(), serial_bytes, sizeof serial_bytes), "set_serial");
  Check(gnutls_x509_crt_set_activation_time(crt.get(), now - kOneDay), "set_activation_time");
  Check(gnutls_x509_crt_set_expiration_time(crt.get(), now + 30 * kOneDay), "set_expiration_time");
  Check(gnutls_x509_crt_set_dn_by_oid(crt.get(), GNUTLS_OID_X520_COMMON_NAME, 0, name.data(),
                                      name.size()),
        "set_dn_by_oid");
  if (!is_ca) {
    Check(gnutls_x509_crt_set_subject_alt_name(crt.get(), GNUTLS_SAN_DNSNAME, name.data(),
                                               name.size(), GNUTLS_FSAN_SET),
          "set_subject_alt_name");
  }
  Check(gnutls_x509_crt_set_basic_constraints(crt.get(), is_ca ? 1 : 0, -1),
        "set_basic_constraints");
  Check(gnutls_x509_crt_set_key_usage(
            crt.get(), is_ca ? GNUTLS_KEY_KEY_CERT_SIGN : GNUTLS_KEY_DIGITAL_SIGNATURE),
        "set_key_usage");
  Check(gnutls_x509_crt_set_key(crt.get(), key), "set_key");
  if (issuer.crt == nullptr) issuer = {crt.get(), key};
  // Ed25519 signs with SHA-512 (RFC 8032), whatever else signs with SHA-256.
  gnutls_digest_algorithm_t digest =
      gnutls_x509_privkey_get_pk_algorithm(issuer.key) == GNUTLS_PK_EDDSA_ED25519
          ? GNUTLS_DIG_SHA512
          : GNUTLS_DIG_SHA256;
  Check(gnutls_x509_crt_sign2(crt.get(), issuer.crt, issuer.key, digest, 0), "sign2");
  return crt;
}

std::string MakeTempDir() {
  char pattern[] = "/tmp/tls_test.XXXXXX";
  BOOST_REQUIRE_MESSAGE(mkdtemp(pattern) != nullptr, "mkdtemp: " << std::strerror(errno));
  return pattern;
}

void WriteDatum(const std::string& path, const gnutls_datum_t& datum) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(datum.data), datum.size);
  out.close();
  BOOST_REQUIRE_MESSAGE(out.good(), "cannot write " << path);
}

// As unencrypted PKCS #8 ("BEGIN PRIVATE KEY"): GnuTLS 3.7 writes an Ed25519 key in
// its own format as "BEGIN UNKNOWN", which it cannot read back.
void WriteKey(gnutls_x509_privkey_t key, const std::string& path) {
  gnutls_datum_t pem{};
  Check(
      gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, nullptr, GNUTLS_PKCS_PLAIN, &pem),
      "privkey_export2_pkcs8");
  WriteDatum(path, pem);
  gnutls_free(pem.data);
}

void WriteCertificate(gnutls_x509_crt_t crt, const std::string& path) {
  gnutls_datum_t pem{};
  Check(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem), "crt_export2");
  WriteDatum(path, pem);
  gnutls_free(pem.data);
}

}  // namespace

TestCertificate::TestCertificate(const std::string& hostname,
                                 const TestCertificateAuthority* issuer, TestKeyType key_type)
    : dir_(MakeTempDir()), cert_file_(dir_ + "/cert.pem"), key_file_(dir_ + "/key.pem") {
  PrivateKey key = GenerateKey(key_type);
  WriteKey(key.get(), key_file_);
  Issuer signer;
  if (issuer != nullptr) signer = {issuer->crt_, issuer->key_};
  WriteCertificate(MakeCertificate(key.get(), hostname, false, signer).get(), cert_file_);
}

TestCertificate::~TestCertificate() { std::filesystem::remove_all(dir_); }

std::string TestCertificate::WriteUnrelatedKey(const std::string& name) const {
  std::string path = dir_ + "/" + name;
  WriteKey(GenerateKey().get(), path);
  return path;
}

TestCertificateAuthority::TestCertificateAuthority(const std::string& name)
    : dir_(MakeTempDir()), ca_file_(dir_ + "/ca.pem") {
  PrivateKey key = GenerateKey();
  Certificate crt = MakeCertificate(key.get(), name, true, {});
  WriteCertificate(crt.get(), ca_file_);
  key_ = key.release();
  crt_ = crt.release();
}

TestCertificateAuthority::~TestCertificateAuthority() {
  gnutls_x509_crt_deinit(crt_);
  gnutls_x509_privkey_deinit(key_);
  std::filesystem::remove_all(dir_);
}

TlsTestClient::TlsTestClient(const std::string& priority, const std::string& session_data,
                             unsigned init_flags) {
  Check(gnutls_certificate_allocate_credentials(&credentials_), "client credentials");
  Check(gnutls_init(&session_, GNUTLS_CLIENT | GNUTLS_NONBLOCK | init_flags), "client gnutls_init");
  const char* error_position = nullptr;
  int rc = gnutls_priority_set_direct(session_, priority.c_str(), &error_position);
  BOOST_REQUIRE_MESSAGE(rc >= 0, "client priority " << priority << " at "
                                                    << (error_position ? error_position : "?")
                                                    << ": " << gnutls_strerror(rc));
  Check(gnutls_credentials_set(session_, GNUTLS_CRD_CERTIFICATE, credentials_),
        "client credentials_set");
  if (!session_data.empty()) {
    Check(gnutls_session_set_data(session_, session_data.data(), session_data.size()),
          "gnutls_session_set_data");
  }
  gnutls_transport_set_ptr(session_, this);
  gnutls_transport_set_push_function(session_, &TlsTestClient::Push);
  gnutls_transport_set_pull_function(session_, &TlsTestClient::Pull);
  gnutls_session_set_ptr(session_, this);
  gnutls_handshake_set_hook_function(session_, GNUTLS_HANDSHAKE_HELLO_RETRY_REQUEST,
                                     GNUTLS_HOOK_POST, &TlsTestClient::NoteHelloRetry);
}

int TlsTestClient::NoteHelloRetry(gnutls_session_t session, unsigned /*type*/, unsigned /*when*/,
                                  unsigned incoming, const gnutls_datum_t* /*message*/) {
  if (incoming) static_cast<TlsTestClient*>(gnutls_session_get_ptr(session))->hello_retried_ = true;
  return 0;
}

TlsTestClient::~TlsTestClient() {
  if (session_ != nullptr) gnutls_deinit(session_);
  if (credentials_ != nullptr) gnutls_certificate_free_credentials(credentials_);
}

ssize_t TlsTestClient::Push(gnutls_transport_ptr_t self, const void* data, size_t size) {
  static_cast<TlsTestClient*>(self)->output_.append(static_cast<const char*>(data), size);
  return static_cast<ssize_t>(size);
}

ssize_t TlsTestClient::Pull(gnutls_transport_ptr_t self, void* data, size_t size) {
  auto* client = static_cast<TlsTestClient*>(self);
  size_t n = std::min(size, client->input_.size() - client->input_offset_);
  if (n == 0) {
    gnutls_transport_set_errno(client->session_, EAGAIN);
    return -1;
  }
  std::memcpy(data, client->input_.data() + client->input_offset_, n);
  client->input_offset_ += n;
  return static_cast<ssize_t>(n);
}

void TlsTestClient::FeedCiphertext(std::string_view bytes) { input_.append(bytes); }

std::string TlsTestClient::TakeCiphertext() {
  std::string out;
  out.swap(output_);
  return out;
}

int TlsTestClient::Handshake() {
  int rc;
  size_t offset_before;
  do {
    offset_before = input_offset_;
    rc = gnutls_handshake(session_);
  } while (rc < 0 && !gnutls_error_is_fatal(rc) && MoreToRead(offset_before));
  return rc;
}

void TlsTestClient::Send(std::string_view plaintext) {
  while (!plaintext.empty()) {
    ssize_t rc = gnutls_record_send(session_, plaintext.data(), plaintext.size());
    BOOST_REQUIRE_MESSAGE(rc > 0, "client send: " << gnutls_strerror(static_cast<int>(rc)));
    plaintext.remove_prefix(static_cast<size_t>(rc));
  }
}

int TlsTestClient::Receive(std::string* plaintext) {
  char buffer[16384];
  for (;;) {
    size_t offset_before = input_offset_;
    ssize_t rc = gnutls_record_recv(session_, buffer, sizeof buffer);
    if (rc > 0) {
      plaintext->append(buffer, static_cast<size_t>(rc));
    } else if (rc == 0 || gnutls_error_is_fatal(static_cast<int>(rc)) ||
               !MoreToRead(offset_before)) {
      return static_cast<int>(rc);
    }
  }
}

// As in TlsServerSession: GNUTLS_E_AGAIN also follows a ticket or a key
// update that GnuTLS handled by itself.
bool TlsTestClient::MoreToRead(size_t offset_before) const {
  if (gnutls_record_check_pending(session_) > 0) return true;
  return input_offset_ != offset_before && input_offset_ < input_.size();
}

std::string TlsTestClient::SessionData() const {
  gnutls_datum_t data{};
  Check(gnutls_session_get_data2(session_, &data), "gnutls_session_get_data2");
  std::string bytes(reinterpret_cast<const char*>(data.data), data.size);
  gnutls_free(data.data);
  return bytes;
}

std::string TlsTestClient::version() const {
  const char* name = gnutls_protocol_get_name(gnutls_protocol_get_version(session_));
  return name != nullptr ? name : "";
}

std::string TlsTestClient::cipher() const {
  const char* name = gnutls_ciphersuite_get(session_);
  return name != nullptr ? name : "";
}

std::string TlsTestClient::group() const {
  const char* name = gnutls_group_get_name(gnutls_group_get(session_));
  return name != nullptr ? name : "";
}

std::string TlsTestClient::server_key_algorithm() const {
  unsigned count = 0;
  const gnutls_datum_t* chain = gnutls_certificate_get_peers(session_, &count);
  if (chain == nullptr || count == 0) return "";
  gnutls_x509_crt_t raw = nullptr;
  Check(gnutls_x509_crt_init(&raw), "gnutls_x509_crt_init");
  Certificate crt(raw);
  Check(gnutls_x509_crt_import(crt.get(), &chain[0], GNUTLS_X509_FMT_DER),
        "gnutls_x509_crt_import");
  int algorithm = gnutls_x509_crt_get_pk_algorithm(crt.get(), nullptr);
  const char* name = gnutls_pk_get_name(static_cast<gnutls_pk_algorithm_t>(algorithm));
  return name != nullptr ? name : "unknown";
}

std::ostream& operator<<(std::ostream& out, TlsServerSession::State state) {
  switch (state) {
    case TlsServerSession::State::kHandshaking:
      return out << "kHandshaking";
    case TlsServerSession::State::kOpen:
      return out << "kOpen";
    case TlsServerSession::State::kClosed:
      return out << "kClosed";
    case TlsServerSession::State::kFailed:
      return out << "kFailed";
  }
  return out << "State(" << static_cast<int>(state) << ")";
}

int Connect(TlsServerSession& server, TlsTestClient& client) {
  int rc = GNUTLS_E_AGAIN;
  for (int round = 0; round < kMaxHandshakeRounds; ++round) {
    if (rc != 0) rc = client.Handshake();
    server.FeedCiphertext(client.TakeCiphertext());
    std::string ignored;
    server.Advance(&ignored);  // a failure shows in server.state()
    client.FeedCiphertext(server.TakeCiphertext());
    if (gnutls_error_is_fatal(rc)) break;
    if (rc == 0 && server.state() != TlsServerSession::State::kHandshaking) break;
    if (server.state() == TlsServerSession::State::kFailed) {
      rc = client.Handshake();  // reads the server's alert
      break;
    }
  }
  return rc;
}

std::string ClientToServer(TlsTestClient& client, TlsServerSession& server, size_t chunk) {
  std::string ciphertext = client.TakeCiphertext();
  std::string plaintext;
  for (size_t at = 0; at < ciphertext.size(); at += chunk) {
    server.FeedCiphertext(std::string_view(ciphertext).substr(at, chunk));
    Status advanced = server.Advance(&plaintext);
    BOOST_REQUIRE_MESSAGE(advanced.ok(), advanced.message());
  }
  return plaintext;
}

std::string ServerToClient(TlsServerSession& server, TlsTestClient& client, size_t chunk,
                           int* code) {
  std::string ciphertext = server.TakeCiphertext();
  std::string plaintext;
  int rc = GNUTLS_E_AGAIN;
  for (size_t at = 0; at < ciphertext.size(); at += chunk) {
    client.FeedCiphertext(std::string_view(ciphertext).substr(at, chunk));
    rc = client.Receive(&plaintext);
  }
  if (code != nullptr) *code = rc;
  return plaintext;
}

}  // namespace postern
