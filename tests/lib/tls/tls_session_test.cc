// tests/lib/tls/tls_session_test.cc — TlsServerCredentials and TlsServerSession
// against a real GnuTLS client over memory buffers, with a certificate made
// when the test runs.
#define BOOST_TEST_DYN_LINK
#include "lib/tls/tls_session.h"

#include <boost/test/unit_test.hpp>
#include <string>

#include "lib/config/config.h"
#include "lib/tls/tls_credentials.h"
#include "tests/lib/tls/tls_test_support.h"

namespace postern {
namespace {

using State = TlsServerSession::State;

const char kTls12Only[] = "NORMAL:-VERS-ALL:+VERS-TLS1.2";
const char kTls13Only[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3";

std::unique_ptr<TlsServerCredentials> LoadOrFail(const std::string& cert_file,
                                                 const std::string& key_file) {
  auto loaded = TlsServerCredentials::Load({cert_file, key_file}, {}, kDefaultTlsPriority);
  BOOST_REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  return std::move(*loaded);
}

std::string LoadError(const std::string& cert_file, const std::string& key_file,
                      const std::string& priority = kDefaultTlsPriority) {
  auto loaded = TlsServerCredentials::Load({cert_file, key_file}, {}, priority);
  BOOST_REQUIRE(!loaded.ok());
  return loaded.status().message();
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Text that shows where a piece went missing or moved: no two 10-byte
// windows alike.
std::string Pattern(size_t size) {
  std::string text;
  for (size_t i = 0; text.size() < size; ++i) text += std::to_string(i) + ",";
  text.resize(size);
  return text;
}

struct TlsFixture {
  TlsFixture() : credentials(LoadOrFail(certificate.cert_file(), certificate.key_file())) {
    auto key = GenerateTlsTicketKey();
    BOOST_REQUIRE_MESSAGE(key.ok(), key.status().message());
    ticket_key = *key;
  }

  std::unique_ptr<TlsServerSession> NewServer(std::string_view key) {
    auto created = TlsServerSession::Create(*credentials, key);
    BOOST_REQUIRE_MESSAGE(created.ok(), created.status().message());
    return std::move(*created);
  }

  // A server with the shared ticket key and a client that completed the
  // handshake with it.
  std::unique_ptr<TlsServerSession> ConnectedServer(TlsTestClient& client) {
    auto server = NewServer(ticket_key);
    BOOST_REQUIRE_EQUAL(Connect(*server, client), 0);
    BOOST_REQUIRE(server->state() == State::kOpen);
    return server;
  }

  // Connects a client, exchanges one reply so that TLS 1.3 tickets reach
  // it, and returns what it would save to resume.
  std::string SessionToResume(const std::string& priority) {
    TlsTestClient client(priority);
    auto server = ConnectedServer(client);
    BOOST_TEST(!server->resumed());
    BOOST_REQUIRE(server->Write("220 ready\r\n").ok());
    BOOST_REQUIRE_EQUAL(ServerToClient(*server, client), "220 ready\r\n");
    return client.SessionData();
  }

  TestCertificate certificate;
  std::unique_ptr<TlsServerCredentials> credentials;
  std::string ticket_key;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(tls_credentials)

BOOST_AUTO_TEST_CASE(loads_a_certificate_with_its_key) {
  TestCertificate certificate;
  auto credentials = LoadOrFail(certificate.cert_file(), certificate.key_file());
  BOOST_TEST(credentials->certificate() != nullptr);
  BOOST_TEST(credentials->priority() != nullptr);
}

BOOST_AUTO_TEST_CASE(missing_certificate_file_is_named) {
  TestCertificate certificate;
  std::string missing = certificate.dir() + "/absent-cert.pem";
  std::string error = LoadError(missing, certificate.key_file());
  BOOST_TEST_INFO(error);
  BOOST_TEST(Contains(error, "certificate " + missing));
  BOOST_TEST(Contains(error, "No such file or directory"));
}

BOOST_AUTO_TEST_CASE(missing_key_file_is_named) {
  TestCertificate certificate;
  std::string missing = certificate.dir() + "/absent-key.pem";
  std::string error = LoadError(certificate.cert_file(), missing);
  BOOST_TEST_INFO(error);
  BOOST_TEST(Contains(error, "key " + missing));
  BOOST_TEST(Contains(error, "No such file or directory"));
}

BOOST_AUTO_TEST_CASE(key_of_another_certificate_is_refused_at_load) {
  TestCertificate certificate;
  std::string other_key = certificate.WriteUnrelatedKey("other-key.pem");
  std::string error = LoadError(certificate.cert_file(), other_key);
  BOOST_TEST_INFO(error);
  BOOST_TEST(Contains(error, other_key));
  BOOST_TEST(Contains(error, certificate.cert_file()));
  BOOST_TEST(Contains(error, "does not belong"));
}

BOOST_AUTO_TEST_CASE(loads_an_ec_pair_beside_an_rsa_pair_and_alone) {
  TestCertificate rsa("mail.example.test", nullptr, TestKeyType::kRsa);
  TestCertificate ec;
  auto both = TlsServerCredentials::Load({rsa.cert_file(), rsa.key_file()},
                                         {ec.cert_file(), ec.key_file()}, kDefaultTlsPriority);
  BOOST_REQUIRE_MESSAGE(both.ok(), both.status().message());
  BOOST_TEST((*both)->certificate() != nullptr);
  auto alone = TlsServerCredentials::Load({}, {ec.cert_file(), ec.key_file()}, kDefaultTlsPriority);
  BOOST_REQUIRE_MESSAGE(alone.ok(), alone.status().message());
}

BOOST_AUTO_TEST_CASE(an_ed25519_certificate_is_an_ec_certificate_too) {
  TestCertificate ed25519("mail.example.test", nullptr, TestKeyType::kEd25519);
  auto loaded = TlsServerCredentials::Load({}, {ed25519.cert_file(), ed25519.key_file()},
                                           kDefaultTlsPriority);
  BOOST_TEST(loaded.ok(), loaded.status().message());
}

BOOST_AUTO_TEST_CASE(no_pair_at_all_is_refused) {
  auto loaded = TlsServerCredentials::Load({}, {}, kDefaultTlsPriority);
  BOOST_REQUIRE(!loaded.ok());
  BOOST_TEST(Contains(loaded.status().message(), "no TLS certificate"));
}

BOOST_AUTO_TEST_CASE(missing_ec_key_file_is_named_as_the_ec_key) {
  TestCertificate rsa("mail.example.test", nullptr, TestKeyType::kRsa);
  TestCertificate ec;
  std::string missing = ec.dir() + "/absent-eckey.pem";
  auto loaded = TlsServerCredentials::Load({rsa.cert_file(), rsa.key_file()},
                                           {ec.cert_file(), missing}, kDefaultTlsPriority);
  BOOST_REQUIRE(!loaded.ok());
  BOOST_TEST(loaded.status().message() ==
             "cannot load TLS EC key " + missing + ": No such file or directory");
}

BOOST_AUTO_TEST_CASE(key_of_another_certificate_is_refused_naming_the_ec_pair) {
  TestCertificate rsa("mail.example.test", nullptr, TestKeyType::kRsa);
  TestCertificate ec;
  std::string other_key = ec.WriteUnrelatedKey("other-key.pem");
  auto loaded = TlsServerCredentials::Load({rsa.cert_file(), rsa.key_file()},
                                           {ec.cert_file(), other_key}, kDefaultTlsPriority);
  BOOST_REQUIRE(!loaded.ok());
  std::string error = loaded.status().message();
  BOOST_TEST_INFO(error);
  BOOST_TEST(Contains(
      error, "TLS EC key " + other_key + " does not belong to EC certificate " + ec.cert_file()));
}

BOOST_AUTO_TEST_CASE(an_rsa_key_for_the_ec_certificate_is_refused) {
  TestCertificate rsa("mail.example.test", nullptr, TestKeyType::kRsa);
  TestCertificate ec;
  auto loaded = TlsServerCredentials::Load({rsa.cert_file(), rsa.key_file()},
                                           {ec.cert_file(), rsa.key_file()}, kDefaultTlsPriority);
  BOOST_REQUIRE(!loaded.ok());
  std::string error = loaded.status().message();
  BOOST_TEST_INFO(error);
  BOOST_TEST(Contains(error, "TLS EC key " + rsa.key_file() +
                                 " does not belong to EC certificate " + ec.cert_file()));
}

BOOST_AUTO_TEST_CASE(an_rsa_certificate_as_the_ec_certificate_is_refused) {
  TestCertificate rsa("mail.example.test", nullptr, TestKeyType::kRsa);
  auto loaded =
      TlsServerCredentials::Load({}, {rsa.cert_file(), rsa.key_file()}, kDefaultTlsPriority);
  BOOST_REQUIRE(!loaded.ok());
  BOOST_TEST(loaded.status().message() ==
             "TLS EC certificate " + rsa.cert_file() +
                 ": its key is RSA, not ECDSA or EdDSA (a certificate with another key goes in "
                 "tls_cert_file)");
}

BOOST_AUTO_TEST_CASE(bad_priority_string_is_named_with_the_failing_position) {
  TestCertificate certificate;
  std::string error =
      LoadError(certificate.cert_file(), certificate.key_file(), "NORMAL:+VERS-TLS9.9");
  BOOST_TEST_INFO(error);
  BOOST_TEST(Contains(error, "\"NORMAL:+VERS-TLS9.9\""));
  // "NORMAL:" is 7 characters: the bad element starts at offset 7.
  BOOST_TEST(Contains(error, "offset 7"));
}

BOOST_AUTO_TEST_CASE(ticket_keys_are_fresh_random_bytes) {
  auto first = GenerateTlsTicketKey();
  auto second = GenerateTlsTicketKey();
  BOOST_REQUIRE(first.ok());
  BOOST_REQUIRE(second.ok());
  // GnuTLS's master ticket key: 16-byte key name, 32-byte cipher key,
  // 16-byte MAC key.
  BOOST_TEST(first->size() == 64u);
  BOOST_TEST(*first != *second);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(tls_session, TlsFixture)

BOOST_AUTO_TEST_CASE(tls13_handshake_with_the_default_priority) {
  TlsTestClient client("NORMAL");
  auto server = NewServer(ticket_key);
  BOOST_TEST(server->state() == State::kHandshaking);
  BOOST_REQUIRE_EQUAL(Connect(*server, client), 0);
  BOOST_TEST(server->state() == State::kOpen);
  BOOST_TEST(server->version() == "TLS1.3");
  BOOST_TEST(client.version() == "TLS1.3");
  BOOST_TEST(server->cipher() == client.cipher());
  BOOST_TEST(!server->resumed());
}

BOOST_AUTO_TEST_CASE(tls12_handshake_with_the_default_priority) {
  TlsTestClient client(kTls12Only);
  auto server = ConnectedServer(client);
  BOOST_TEST(server->version() == "TLS1.2");
  BOOST_TEST(client.version() == "TLS1.2");
  BOOST_TEST(server->cipher() == client.cipher());
}

BOOST_AUTO_TEST_CASE(refuses_a_client_that_offers_only_tls10) {
  TlsTestClient client("NORMAL:-VERS-ALL:+VERS-TLS1.0");
  auto server = NewServer(ticket_key);
  // RFC 5246 E.1: a server that cannot use the client's version answers
  // with a protocol_version alert.
  BOOST_REQUIRE_EQUAL(Connect(*server, client), GNUTLS_E_FATAL_ALERT_RECEIVED);
  BOOST_TEST(gnutls_alert_get(client.session()) == GNUTLS_A_PROTOCOL_VERSION);
  BOOST_TEST(server->state() == State::kFailed);
  std::string plaintext;
  Status again = server->Advance(&plaintext);
  BOOST_TEST(!again.ok());
  BOOST_TEST(plaintext.empty());
}

BOOST_AUTO_TEST_CASE(refuses_a_client_that_offers_only_tls11) {
  TlsTestClient client("NORMAL:-VERS-ALL:+VERS-TLS1.1");
  auto server = NewServer(ticket_key);
  BOOST_REQUIRE_EQUAL(Connect(*server, client), GNUTLS_E_FATAL_ALERT_RECEIVED);
  BOOST_TEST(gnutls_alert_get(client.session()) == GNUTLS_A_PROTOCOL_VERSION);
  BOOST_TEST(server->state() == State::kFailed);
}

// Names from the IANA TLS Cipher Suites registry (RFC 8446 B.4, RFC 5289).
BOOST_AUTO_TEST_CASE(names_the_tls13_suite_the_client_chose) {
  TlsTestClient client("NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305");
  auto server = ConnectedServer(client);
  BOOST_TEST(server->cipher() == "TLS_CHACHA20_POLY1305_SHA256");
  BOOST_TEST(client.cipher() == "TLS_CHACHA20_POLY1305_SHA256");
}

BOOST_AUTO_TEST_CASE(names_the_tls12_suite_the_client_chose) {
  TlsTestClient client("NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM");
  auto server = ConnectedServer(client);
  // The test certificate has an ECDSA key.
  BOOST_TEST(server->cipher() == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
  BOOST_TEST(client.cipher() == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
}

// The default tls_priority puts X25519 first: a client that offers it gets
// it, in one round trip even when it sent no other key share, as OpenSSL's
// clients do (under NORMAL's order, P-256 first, that client got a
// HelloRetryRequest); one without X25519 gets P-256, also without a retry.
BOOST_AUTO_TEST_CASE(key_exchange_takes_x25519_first_and_never_asks_again) {
  struct Case {
    std::string priority;
    unsigned init_flags;  // GNUTLS_KEY_SHARE_TOP: one key share
    std::string group;
  };
  const std::string tls13_groups = std::string(kTls13Only) + ":-GROUP-ALL";
  for (const Case& c : {
           Case{kTls13Only, 0, "X25519"},
           Case{kTls12Only, 0, "X25519"},
           Case{tls13_groups + ":+GROUP-X25519:+GROUP-SECP256R1", GNUTLS_KEY_SHARE_TOP, "X25519"},
           Case{tls13_groups + ":+GROUP-SECP256R1:+GROUP-SECP384R1", GNUTLS_KEY_SHARE_TOP,
                "SECP256R1"},
       }) {
    BOOST_TEST_CONTEXT(c.priority << (c.init_flags ? ", one key share" : "")) {
      TlsTestClient client(c.priority, "", c.init_flags);
      ConnectedServer(client);
      BOOST_TEST(client.group() == c.group);
      BOOST_TEST(!client.hello_retried());
    }
  }
}

BOOST_AUTO_TEST_CASE(write_before_the_handshake_is_refused) {
  auto server = NewServer(ticket_key);
  BOOST_TEST(!server->Write("220 ready\r\n").ok());
}

BOOST_AUTO_TEST_CASE(plaintext_both_ways_in_any_split) {
  for (const char* priority : {kTls13Only, kTls12Only}) {
    TlsTestClient client(priority);
    auto server = ConnectedServer(client);
    for (size_t size : {size_t{1}, size_t{100 * 1024}}) {
      for (size_t chunk : {size_t{7}, size_t{1000}, size_t{16413}, size_t{1} << 20}) {
        BOOST_TEST_CONTEXT(priority << ", " << size << " bytes in pieces of " << chunk) {
          std::string text = Pattern(size);
          client.Send(text);
          BOOST_TEST(ClientToServer(client, *server, chunk) == text);
          BOOST_REQUIRE(server->Write(text).ok());
          BOOST_TEST(ServerToClient(*server, client, chunk) == text);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(handshake_and_data_fed_one_byte_at_a_time) {
  TlsTestClient client("NORMAL");
  auto server = NewServer(ticket_key);
  int rc = GNUTLS_E_AGAIN;
  for (int round = 0; round < 10 && (rc != 0 || server->state() == State::kHandshaking); ++round) {
    if (rc != 0) rc = client.Handshake();
    BOOST_REQUIRE(ClientToServer(client, *server, 1).empty());
    client.FeedCiphertext(server->TakeCiphertext());
  }
  BOOST_REQUIRE_EQUAL(rc, 0);
  BOOST_REQUIRE(server->state() == State::kOpen);

  std::string text = Pattern(100 * 1024);
  client.Send(text);
  BOOST_TEST(ClientToServer(client, *server, 1) == text);
  BOOST_REQUIRE(server->Write(text).ok());
  BOOST_TEST(ServerToClient(*server, client, 1) == text);
}

BOOST_AUTO_TEST_CASE(tls13_key_update_keeps_the_session_going) {
  TlsTestClient client(kTls13Only);
  auto server = ConnectedServer(client);
  // GNUTLS_KU_PEER asks the server to update its sending key as well.
  BOOST_REQUIRE_EQUAL(gnutls_session_key_update(client.session(), GNUTLS_KU_PEER), 0);
  client.Send("EHLO client.example.test\r\n");
  BOOST_TEST(ClientToServer(client, *server) == "EHLO client.example.test\r\n");
  BOOST_REQUIRE(server->Write("250 mail.example.test\r\n").ok());
  BOOST_TEST(ServerToClient(*server, client) == "250 mail.example.test\r\n");
  BOOST_TEST(server->state() == State::kOpen);
}

BOOST_AUTO_TEST_CASE(tls12_renegotiation_by_the_client_is_refused) {
  TlsTestClient client(kTls12Only);
  auto server = ConnectedServer(client);
  // On an established TLS 1.2 session a client's handshake renegotiates.
  BOOST_REQUIRE_EQUAL(client.Handshake(), GNUTLS_E_AGAIN);
  server->FeedCiphertext(client.TakeCiphertext());
  std::string plaintext;
  Status advanced = server->Advance(&plaintext);
  BOOST_TEST(!advanced.ok());
  BOOST_TEST(Contains(advanced.message(), "renegotiate"));
  BOOST_TEST(server->state() == State::kFailed);
  client.FeedCiphertext(server->TakeCiphertext());
  BOOST_REQUIRE_EQUAL(gnutls_handshake(client.session()), GNUTLS_E_WARNING_ALERT_RECEIVED);
  BOOST_TEST(gnutls_alert_get(client.session()) == GNUTLS_A_NO_RENEGOTIATION);
}

BOOST_AUTO_TEST_CASE(resumes_tls13_with_the_same_ticket_key) {
  std::string saved = SessionToResume(kTls13Only);
  TlsTestClient client(kTls13Only, saved);
  auto server = ConnectedServer(client);
  BOOST_TEST(server->resumed());
  BOOST_TEST(client.resumed());
}

BOOST_AUTO_TEST_CASE(resumes_tls12_with_the_same_ticket_key) {
  std::string saved = SessionToResume(kTls12Only);
  TlsTestClient client(kTls12Only, saved);
  auto server = ConnectedServer(client);
  BOOST_TEST(server->resumed());
  BOOST_TEST(client.resumed());
}

BOOST_AUTO_TEST_CASE(does_not_resume_with_another_ticket_key) {
  std::string saved = SessionToResume("NORMAL");
  auto other_key = GenerateTlsTicketKey();
  BOOST_REQUIRE(other_key.ok());
  TlsTestClient client("NORMAL", saved);
  auto server = NewServer(*other_key);
  BOOST_REQUIRE_EQUAL(Connect(*server, client), 0);
  BOOST_TEST(server->state() == State::kOpen);
  BOOST_TEST(!server->resumed());
  BOOST_TEST(!client.resumed());
}

BOOST_AUTO_TEST_CASE(does_not_resume_without_a_ticket_key) {
  std::string saved = SessionToResume("NORMAL");
  TlsTestClient client("NORMAL", saved);
  auto server = NewServer("");
  BOOST_REQUIRE_EQUAL(Connect(*server, client), 0);
  BOOST_TEST(server->state() == State::kOpen);
  BOOST_TEST(!server->resumed());
  BOOST_TEST(!client.resumed());
}

BOOST_AUTO_TEST_CASE(a_ticket_key_of_the_wrong_size_is_refused) {
  auto created = TlsServerSession::Create(*credentials, "short key");
  BOOST_REQUIRE(!created.ok());
  BOOST_TEST(Contains(created.status().message(), "9-byte key"));
}

BOOST_AUTO_TEST_CASE(close_notify_from_the_client_closes) {
  TlsTestClient client("NORMAL");
  auto server = ConnectedServer(client);
  client.Send("QUIT\r\n");
  BOOST_REQUIRE_EQUAL(gnutls_bye(client.session(), GNUTLS_SHUT_WR), 0);
  BOOST_TEST(ClientToServer(client, *server) == "QUIT\r\n");
  BOOST_TEST(server->state() == State::kClosed);
  // The client closed its direction only: the answer to its QUIT still goes out.
  BOOST_REQUIRE(server->Write("221 bye\r\n").ok());
  server->Close();
  int code = GNUTLS_E_AGAIN;
  BOOST_TEST(ServerToClient(*server, client, 1 << 20, &code) == "221 bye\r\n");
}

BOOST_AUTO_TEST_CASE(close_sends_close_notify) {
  TlsTestClient client("NORMAL");
  auto server = ConnectedServer(client);
  BOOST_REQUIRE(server->Write("221 2.0.0 Bye\r\n").ok());
  server->Close();
  int code = GNUTLS_E_AGAIN;
  BOOST_TEST(ServerToClient(*server, client, 1 << 20, &code) == "221 2.0.0 Bye\r\n");
  BOOST_TEST(code == 0);
}

BOOST_AUTO_TEST_CASE(garbage_instead_of_a_client_hello_fails) {
  auto server = NewServer(ticket_key);
  server->FeedCiphertext("EHLO client.example.test\r\n");
  std::string plaintext;
  Status advanced = server->Advance(&plaintext);
  BOOST_TEST(!advanced.ok());
  BOOST_TEST(Contains(advanced.message(), "TLS handshake failed"));
  BOOST_TEST(server->state() == State::kFailed);
  BOOST_TEST(plaintext.empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
