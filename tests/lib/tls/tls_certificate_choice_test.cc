// tests/lib/tls/tls_certificate_choice_test.cc — which of a listener's two
// certificates (tls_cert_file RSA, tls_eccert_file ECDSA) a client gets, as
// GnuTLS chooses it in TlsServerSession: the ECDSA one for a client that
// accepts ECDSA signatures, the RSA one for a client that accepts only RSA.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <string>

#include "lib/config/config.h"
#include "lib/tls/tls_credentials.h"
#include "lib/tls/tls_session.h"
#include "tests/lib/tls/tls_test_support.h"

namespace postern {
namespace {

using State = TlsServerSession::State;

// TLS 1.3 handshake signatures with an RSA key are RSA-PSS (RFC 8446
// 4.2.3); a client that lists nothing else cannot verify an ECDSA one.
const char kTls13RsaOnly[] =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-SIGN-ALL:+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-PSS-RSAE-SHA384";
const char kTls12[] = "NORMAL:-VERS-ALL:+VERS-TLS1.2";
const char kTls12RsaOnly[] = "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA";

std::unique_ptr<TlsServerCredentials> LoadOrFail(const TlsKeyPair& cert, const TlsKeyPair& eccert) {
  auto loaded = TlsServerCredentials::Load(cert, eccert, kDefaultTlsPriority);
  BOOST_REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  return std::move(*loaded);
}

struct TwoCertificates {
  TwoCertificates()
      : rsa("mail.example.test", nullptr, TestKeyType::kRsa),
        credentials(
            LoadOrFail({rsa.cert_file(), rsa.key_file()}, {ec.cert_file(), ec.key_file()})) {}

  // Completes a handshake of a client offering `priority`; returns the key
  // algorithm of the certificate it was sent.
  std::string CertificateFor(const std::string& priority, const std::string& version) {
    TlsTestClient client(priority);
    auto server = TlsServerSession::Create(*credentials, "");
    BOOST_REQUIRE_MESSAGE(server.ok(), server.status().message());
    BOOST_REQUIRE_EQUAL(Connect(**server, client), 0);
    BOOST_REQUIRE((*server)->state() == State::kOpen);
    BOOST_TEST(client.version() == version);
    return client.server_key_algorithm();
  }

  TestCertificate ec;
  TestCertificate rsa;
  std::unique_ptr<TlsServerCredentials> credentials;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(tls_certificate_choice, TwoCertificates)

BOOST_AUTO_TEST_CASE(a_tls13_client_that_accepts_ecdsa_gets_the_ec_certificate) {
  BOOST_TEST(CertificateFor("NORMAL", "TLS1.3") == "EC/ECDSA");
}

BOOST_AUTO_TEST_CASE(a_tls13_client_that_accepts_only_rsa_signatures_gets_the_rsa_certificate) {
  BOOST_TEST(CertificateFor(kTls13RsaOnly, "TLS1.3") == "RSA");
}

BOOST_AUTO_TEST_CASE(a_tls12_client_gets_the_ec_certificate_under_server_precedence) {
  // The client's NORMAL lists ECDHE-ECDSA suites first too; the server's
  // order decides under %SERVER_PRECEDENCE either way.
  BOOST_TEST(CertificateFor(kTls12, "TLS1.2") == "EC/ECDSA");
}

BOOST_AUTO_TEST_CASE(a_tls12_client_with_rsa_key_exchanges_only_gets_the_rsa_certificate) {
  BOOST_TEST(CertificateFor(kTls12RsaOnly, "TLS1.2") == "RSA");
}

BOOST_AUTO_TEST_CASE(an_ec_certificate_alone_serves_ecdsa_clients_and_fails_rsa_only_ones) {
  credentials = LoadOrFail({}, {ec.cert_file(), ec.key_file()});
  BOOST_TEST(CertificateFor("NORMAL", "TLS1.3") == "EC/ECDSA");

  TlsTestClient client(kTls13RsaOnly);
  auto server = TlsServerSession::Create(*credentials, "");
  BOOST_REQUIRE(server.ok());
  BOOST_TEST(Connect(**server, client) == GNUTLS_E_FATAL_ALERT_RECEIVED);
  BOOST_TEST((*server)->state() == State::kFailed);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
