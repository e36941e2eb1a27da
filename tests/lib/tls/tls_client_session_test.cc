// tests/lib/tls/tls_client_session_test.cc — TlsClientCredentials and
// TlsClientSession (the relay's STARTTLS) against postern's own
// TlsServerSession over memory buffers, with certificates and a CA made
// when the test runs.
#define BOOST_TEST_DYN_LINK
#include "lib/tls/tls_client_session.h"

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <string>

#include "lib/config/config.h"
#include "lib/tls/tls_credentials.h"
#include "lib/tls/tls_session.h"
#include "tests/lib/tls/tls_test_support.h"

namespace postern {
namespace {

using State = TlsChannel::State;

// Bounds the handshake loop so a test that never finishes fails instead.
constexpr int kMaxRounds = 20;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Text that shows where a piece went missing or moved.
std::string Pattern(size_t size) {
  std::string text;
  for (size_t i = 0; text.size() < size; ++i) text += std::to_string(i) + ",";
  text.resize(size);
  return text;
}

std::unique_ptr<TlsClientCredentials> ClientCredentials(const std::string& ca_file) {
  auto loaded = TlsClientCredentials::Load(ca_file, kDefaultTlsPriority);
  BOOST_REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  return std::move(*loaded);
}

std::string ClientCredentialsError(const std::string& ca_file,
                                   const std::string& priority = kDefaultTlsPriority) {
  auto loaded = TlsClientCredentials::Load(ca_file, priority);
  BOOST_REQUIRE(!loaded.ok());
  return loaded.status().message();
}

// A postern server with one certificate (and session tickets under
// ticket_key, when given), and a client session to it offering resume.
struct Peers {
  Peers(const TestCertificate& certificate, const TlsClientCredentials& trust,
        const std::string& host, CertificateCheck check, const std::string& ticket_key = "",
        const std::string& resume = "") {
    auto credentials = TlsServerCredentials::Load({certificate.cert_file(), certificate.key_file()},
                                                  {}, kDefaultTlsPriority);
    BOOST_REQUIRE_MESSAGE(credentials.ok(), credentials.status().message());
    server_credentials = std::move(*credentials);
    auto created_server = TlsServerSession::Create(*server_credentials, ticket_key);
    BOOST_REQUIRE_MESSAGE(created_server.ok(), created_server.status().message());
    server = std::move(*created_server);
    auto created_client = TlsClientSession::Create(trust, host, check, resume);
    BOOST_REQUIRE_MESSAGE(created_client.ok(), created_client.status().message());
    client = std::move(*created_client);
  }

  // Moves ciphertext both ways until both ends are done handshaking or one
  // failed; the client's last Advance() status.
  Status Handshake() {
    Status client_status = Status::Ok();
    for (int round = 0; round < kMaxRounds; ++round) {
      std::string ignored;
      client_status = client->Advance(&ignored);
      server->FeedCiphertext(client->TakeCiphertext());
      server_status = server->Advance(&ignored);
      client->FeedCiphertext(server->TakeCiphertext());
      if (client->state() == State::kFailed) break;
      if (client->state() != State::kHandshaking && server->state() != State::kHandshaking) break;
      if (server->state() == State::kFailed) {
        return client->Advance(&ignored);  // reads the server's alert
      }
    }
    return client_status;
  }

  // Moves what the client wrote to the server `chunk` bytes at a time.
  std::string ClientToServer(size_t chunk) {
    std::string ciphertext = client->TakeCiphertext();
    std::string plaintext;
    for (size_t at = 0; at < ciphertext.size(); at += chunk) {
      server->FeedCiphertext(std::string_view(ciphertext).substr(at, chunk));
      Status advanced = server->Advance(&plaintext);
      BOOST_REQUIRE_MESSAGE(advanced.ok(), advanced.message());
    }
    return plaintext;
  }

  std::string ServerToClient(size_t chunk) {
    std::string ciphertext = server->TakeCiphertext();
    std::string plaintext;
    for (size_t at = 0; at < ciphertext.size(); at += chunk) {
      client->FeedCiphertext(std::string_view(ciphertext).substr(at, chunk));
      Status advanced = client->Advance(&plaintext);
      BOOST_REQUIRE_MESSAGE(advanced.ok(), advanced.message());
    }
    return plaintext;
  }

  std::unique_ptr<TlsServerCredentials> server_credentials;
  std::unique_ptr<TlsServerSession> server;
  std::unique_ptr<TlsClientSession> client;
  Status server_status = Status::Ok();
};

std::string TicketKey() {
  auto key = GenerateTlsTicketKey();
  BOOST_REQUIRE_MESSAGE(key.ok(), key.status().message());
  return *key;
}

// Completes the handshake and one reply from the server, which carries the
// TLS 1.3 tickets to the client; then what the client would keep to resume.
std::string HandshakeAndKeep(Peers& peers) {
  Status handshake = peers.Handshake();
  BOOST_REQUIRE_MESSAGE(handshake.ok(), handshake.message());
  BOOST_REQUIRE(peers.server->Write("220 ready\r\n").ok());
  BOOST_REQUIRE_EQUAL(peers.ServerToClient(1000), "220 ready\r\n");
  return peers.client->ResumptionData();
}

// The first flight of a client to host: its ClientHello, in clear.
std::string ClientHello(const TlsClientCredentials& trust, const std::string& host) {
  auto client = TlsClientSession::Create(trust, host, CertificateCheck::kNone);
  BOOST_REQUIRE_MESSAGE(client.ok(), client.status().message());
  std::string ignored;
  BOOST_REQUIRE((*client)->Advance(&ignored).ok());
  return (*client)->TakeCiphertext();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tls_client_credentials)

BOOST_AUTO_TEST_CASE(loads_a_ca_file) {
  TestCertificateAuthority ca;
  auto credentials = ClientCredentials(ca.ca_file());
  BOOST_TEST(credentials->certificate() != nullptr);
  BOOST_TEST(credentials->priority() != nullptr);
}

BOOST_AUTO_TEST_CASE(loads_the_system_trust_when_no_ca_file_is_given) {
  auto credentials = ClientCredentials("");
  BOOST_TEST(credentials->certificate() != nullptr);
}

BOOST_AUTO_TEST_CASE(a_missing_ca_file_is_named_with_the_reason) {
  TestCertificateAuthority ca;
  std::string missing = ca.ca_file() + ".absent";
  std::string error = ClientCredentialsError(missing);
  BOOST_TEST_INFO(error);
  BOOST_TEST(Contains(error, "cannot load trusted CA certificates from " + missing));
  BOOST_TEST(Contains(error, "No such file or directory"));
}

BOOST_AUTO_TEST_CASE(a_ca_file_without_a_certificate_is_refused) {
  TestCertificateAuthority ca;
  std::string empty = ca.ca_file() + ".empty";
  std::ofstream(empty) << "not a certificate\n";
  std::string error = ClientCredentialsError(empty);
  BOOST_TEST_INFO(error);
  BOOST_TEST(Contains(error, empty));
}

BOOST_AUTO_TEST_CASE(a_bad_priority_string_is_named) {
  TestCertificateAuthority ca;
  std::string error = ClientCredentialsError(ca.ca_file(), "NORMAL:+VERS-TLS9.9");
  BOOST_TEST_INFO(error);
  BOOST_TEST(Contains(error, "\"NORMAL:+VERS-TLS9.9\""));
  BOOST_TEST(Contains(error, "offset 7"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tls_client_session)

BOOST_AUTO_TEST_CASE(encrypts_to_an_untrusted_self_signed_server_without_checking) {
  TestCertificateAuthority ca;
  auto trust = ClientCredentials(ca.ca_file());
  TestCertificate self_signed("mx.example.test");
  // The name does not matter either without a check.
  Peers peers(self_signed, *trust, "other.example.test", CertificateCheck::kNone);
  Status handshake = peers.Handshake();
  BOOST_REQUIRE_MESSAGE(handshake.ok(), handshake.message());
  BOOST_TEST(peers.client->state() == State::kOpen);
  BOOST_TEST(peers.server->state() == State::kOpen);
  BOOST_TEST(peers.client->version() == "TLS1.3");
  BOOST_TEST(peers.client->cipher() == peers.server->cipher());
  BOOST_TEST(!peers.client->verified());
}

BOOST_AUTO_TEST_CASE(verifies_a_certificate_of_the_trusted_ca_for_the_host) {
  TestCertificateAuthority ca;
  auto trust = ClientCredentials(ca.ca_file());
  TestCertificate issued("mx.example.test", &ca);
  Peers peers(issued, *trust, "mx.example.test", CertificateCheck::kVerify);
  BOOST_TEST(!peers.client->verified());
  Status handshake = peers.Handshake();
  BOOST_REQUIRE_MESSAGE(handshake.ok(), handshake.message());
  BOOST_TEST(peers.client->state() == State::kOpen);
  BOOST_TEST(peers.client->verified());
}

BOOST_AUTO_TEST_CASE(verify_refuses_a_certificate_for_another_host) {
  TestCertificateAuthority ca;
  auto trust = ClientCredentials(ca.ca_file());
  TestCertificate issued("mx.example.test", &ca);
  Peers peers(issued, *trust, "relay.example.test", CertificateCheck::kVerify);
  Status handshake = peers.Handshake();
  BOOST_TEST_INFO(handshake.message());
  BOOST_TEST(!handshake.ok());
  BOOST_TEST(Contains(handshake.message(), "certificate of relay.example.test not trusted: "));
  BOOST_TEST(Contains(handshake.message(), "does not match"));
  BOOST_TEST(peers.client->state() == State::kFailed);
  BOOST_TEST(!peers.client->verified());
  // The server learns it from the client's alert and sends nothing more.
  BOOST_TEST(peers.server->state() == State::kFailed);
  BOOST_TEST(Contains(peers.server_status.message(), "client sent alert"));
}

BOOST_AUTO_TEST_CASE(verify_refuses_a_certificate_of_an_untrusted_ca) {
  TestCertificateAuthority trusted("trusted CA");
  TestCertificateAuthority other("other CA");
  auto trust = ClientCredentials(trusted.ca_file());
  TestCertificate issued("mx.example.test", &other);
  Peers peers(issued, *trust, "mx.example.test", CertificateCheck::kVerify);
  Status handshake = peers.Handshake();
  BOOST_TEST_INFO(handshake.message());
  BOOST_TEST(!handshake.ok());
  BOOST_TEST(Contains(handshake.message(), "certificate of mx.example.test not trusted: "));
  BOOST_TEST(Contains(handshake.message(), "issuer is unknown"));
  BOOST_TEST(peers.client->state() == State::kFailed);
}

BOOST_AUTO_TEST_CASE(verify_refuses_a_self_signed_certificate) {
  TestCertificateAuthority ca;
  auto trust = ClientCredentials(ca.ca_file());
  TestCertificate self_signed("mx.example.test");
  Peers peers(self_signed, *trust, "mx.example.test", CertificateCheck::kVerify);
  Status handshake = peers.Handshake();
  BOOST_TEST_INFO(handshake.message());
  BOOST_TEST(Contains(handshake.message(), "certificate of mx.example.test not trusted: "));
}

BOOST_AUTO_TEST_CASE(sends_the_host_name_as_sni_but_never_an_address) {
  TestCertificateAuthority ca;
  auto trust = ClientCredentials(ca.ca_file());
  BOOST_TEST(Contains(ClientHello(*trust, "mx.example.test"), "mx.example.test"));
  BOOST_TEST(!Contains(ClientHello(*trust, "192.0.2.25"), "192.0.2.25"));
  BOOST_TEST(!Contains(ClientHello(*trust, "2001:db8::25"), "2001:db8::25"));
}

BOOST_AUTO_TEST_CASE(plaintext_both_ways_in_any_split) {
  TestCertificateAuthority ca;
  auto trust = ClientCredentials(ca.ca_file());
  TestCertificate issued("mx.example.test", &ca);
  Peers peers(issued, *trust, "mx.example.test", CertificateCheck::kVerify);
  BOOST_REQUIRE(peers.Handshake().ok());
  for (size_t size : {size_t{1}, size_t{100 * 1024}}) {
    for (size_t chunk : {size_t{1}, size_t{7}, size_t{1000}, size_t{16413}, size_t{1} << 20}) {
      if (chunk == 1 && size > 1) continue;  // byte by byte: the 1-byte text and the handshake
      BOOST_TEST_CONTEXT(size << " bytes in pieces of " << chunk) {
        std::string text = Pattern(size);
        BOOST_REQUIRE(peers.client->Write(text).ok());
        BOOST_TEST(peers.ClientToServer(chunk) == text);
        BOOST_REQUIRE(peers.server->Write(text).ok());
        BOOST_TEST(peers.ServerToClient(chunk) == text);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(handshake_fed_one_byte_at_a_time) {
  TestCertificate self_signed("mx.example.test");
  auto trust = ClientCredentials("");
  Peers peers(self_signed, *trust, "mx.example.test", CertificateCheck::kNone);
  for (int round = 0; round < kMaxRounds && peers.client->state() == State::kHandshaking; ++round) {
    std::string ignored;
    BOOST_REQUIRE(peers.client->Advance(&ignored).ok());
    BOOST_REQUIRE(peers.ClientToServer(1).empty());
    BOOST_REQUIRE(peers.ServerToClient(1).empty());
  }
  BOOST_TEST(peers.client->state() == State::kOpen);
  BOOST_REQUIRE(peers.client->Write("EHLO relay.example.test\r\n").ok());
  BOOST_TEST(peers.ClientToServer(1) == "EHLO relay.example.test\r\n");
}

BOOST_AUTO_TEST_CASE(write_before_the_handshake_is_refused) {
  auto trust = ClientCredentials("");
  auto client = TlsClientSession::Create(*trust, "mx.example.test", CertificateCheck::kNone);
  BOOST_REQUIRE(client.ok());
  BOOST_TEST(!(*client)->Write("EHLO relay.example.test\r\n").ok());
}

BOOST_AUTO_TEST_CASE(resumes_with_the_data_of_an_earlier_session) {
  TestCertificateAuthority ca;
  TestCertificate issued("mx.example.test", &ca);
  const std::string ticket_key = TicketKey();
  for (const char* version : {"TLS1.3", "TLS1.2"})
    for (CertificateCheck check : {CertificateCheck::kNone, CertificateCheck::kVerify})
      BOOST_TEST_CONTEXT(version << (check == CertificateCheck::kVerify ? " verify" : " none")) {
        auto loaded = TlsClientCredentials::Load(ca.ca_file(),
                                                 std::string("NORMAL:-VERS-ALL:+VERS-") + version);
        BOOST_REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
        Peers first(issued, **loaded, "mx.example.test", check, ticket_key);
        BOOST_TEST(first.client->ResumptionData().empty());  // nothing before the handshake
        const std::string kept = HandshakeAndKeep(first);
        BOOST_TEST(!first.client->resumed());
        BOOST_REQUIRE(!kept.empty());

        Peers second(issued, **loaded, "mx.example.test", check, ticket_key, kept);
        Status handshake = second.Handshake();
        BOOST_REQUIRE_MESSAGE(handshake.ok(), handshake.message());
        BOOST_TEST(second.client->resumed());
        BOOST_TEST(second.server->resumed());
        BOOST_TEST(second.client->verified() == (check == CertificateCheck::kVerify));
        BOOST_TEST(second.client->version() == version);
      }
}

BOOST_AUTO_TEST_CASE(a_server_that_cannot_resume_gets_a_full_handshake) {
  TestCertificate self_signed("mx.example.test");
  auto trust = ClientCredentials("");
  Peers first(self_signed, *trust, "mx.example.test", CertificateCheck::kNone, TicketKey());
  const std::string kept = HandshakeAndKeep(first);
  BOOST_REQUIRE(!kept.empty());
  // Another ticket key (another server, or the key rotated): a full handshake.
  Peers other(self_signed, *trust, "mx.example.test", CertificateCheck::kNone, TicketKey(), kept);
  BOOST_REQUIRE(other.Handshake().ok());
  BOOST_TEST(!other.client->resumed());
  BOOST_TEST(other.client->state() == State::kOpen);
  // Data that are no session at all: a full handshake too.
  Peers garbage(self_signed, *trust, "mx.example.test", CertificateCheck::kNone, TicketKey(),
                "not a session");
  BOOST_REQUIRE(garbage.Handshake().ok());
  BOOST_TEST(!garbage.client->resumed());
}

BOOST_AUTO_TEST_CASE(a_server_without_tickets_leaves_nothing_to_keep) {
  TestCertificate self_signed("mx.example.test");
  auto trust = ClientCredentials("");
  Peers peers(self_signed, *trust, "mx.example.test", CertificateCheck::kNone);
  BOOST_TEST(HandshakeAndKeep(peers).empty());
}

BOOST_AUTO_TEST_CASE(close_notify_both_ways) {
  TestCertificate self_signed("mx.example.test");
  auto trust = ClientCredentials("");
  Peers peers(self_signed, *trust, "mx.example.test", CertificateCheck::kNone);
  BOOST_REQUIRE(peers.Handshake().ok());
  // The client says QUIT and closes; the server still answers.
  BOOST_REQUIRE(peers.client->Write("QUIT\r\n").ok());
  peers.client->Close();
  BOOST_TEST(peers.ClientToServer(1000) == "QUIT\r\n");
  BOOST_TEST(peers.server->state() == State::kClosed);
  BOOST_REQUIRE(peers.server->Write("221 2.0.0 Bye\r\n").ok());
  peers.server->Close();
  BOOST_TEST(peers.ServerToClient(1000) == "221 2.0.0 Bye\r\n");
  BOOST_TEST(peers.client->state() == State::kClosed);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
