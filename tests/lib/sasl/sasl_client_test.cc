// tests/lib/sasl/sasl_client_test.cc — SaslClientExchange (the relay's AUTH)
// in whole exchanges against postern's own SaslServerExchange, which checks
// a real temporary sasldb written by lib/sasl/sasl_users, for NTLM, LOGIN
// and PLAIN.
#define BOOST_TEST_DYN_LINK
#include "lib/sasl/sasl_client.h"

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <string>

#include "lib/sasl/sasl_server.h"
#include "lib/sasl/sasl_users.h"
#include "tests/lib/base/temp_dir.h"

namespace postern {
namespace {

using ipc::AuthOutcome;

const char kRealm[] = "mail.example.test";
const char kPassword[] = "Secret-1";

struct Sasldb {
  Sasldb()
      : dir("sasl_client_test"),
        settings{dir.Join("sasldb2"), kRealm, kRealm, {"NTLM", "LOGIN", "PLAIN"}} {
    auto db = SaslUserDb::Open(settings.sasldb_path, kRealm, getgid());
    BOOST_REQUIRE_MESSAGE(db.ok(), db.status().message());
    BOOST_REQUIRE((*db)->Add("alice", kPassword).ok());
    BOOST_REQUIRE((*db)->Add("bob@example.test", "Secret-2").ok());
  }

  std::unique_ptr<SaslServerExchange> Server() {
    auto exchange = SaslServerExchange::Create(settings, nullptr);
    BOOST_REQUIRE_MESSAGE(exchange.ok(), exchange.status().message());
    return std::move(*exchange);
  }

  TempDir dir;
  SaslServerSettings settings;
};

std::unique_ptr<SaslClientExchange> Client(const std::string& user, const std::string& password) {
  auto exchange = SaslClientExchange::Create(kRealm, SaslClientCredentials{user, password});
  BOOST_REQUIRE_MESSAGE(exchange.ok(), exchange.status().message());
  return std::move(*exchange);
}

// One AUTH as lib/smtp/client_session runs it: the initial response on the
// AUTH line, except NTLM's, which follows the server's first (empty)
// challenge ([MS-SMTP] 3.1.5.2).
SaslStep Authenticate(SaslServerExchange& server, SaslClientExchange& client,
                      const std::string& mechanism) {
  Result<std::optional<std::string>> initial = client.Start(mechanism);
  BOOST_REQUIRE_MESSAGE(initial.ok(), initial.status().message());
  SaslStep step;
  if (mechanism == "NTLM") {
    BOOST_REQUIRE(initial->has_value());
    step = server.Start(mechanism, std::nullopt);
    BOOST_REQUIRE((step.outcome == AuthOutcome::kContinue));
    BOOST_REQUIRE(step.data.empty());
    step = server.Step(**initial);
  } else {
    step = server.Start(mechanism,
                        *initial ? std::optional<std::string_view>(**initial) : std::nullopt);
  }
  while (step.outcome == AuthOutcome::kContinue) {
    Result<std::string> response = client.Step(step.data);
    BOOST_REQUIRE_MESSAGE(response.ok(), response.status().message());
    step = server.Step(*response);
  }
  return step;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sasl_client)

BOOST_AUTO_TEST_CASE(the_right_password_logs_on_with_every_mechanism) {
  Sasldb db;
  for (const char* mechanism : {"NTLM", "LOGIN", "PLAIN"}) {
    auto server = db.Server();
    auto client = Client("alice", kPassword);
    SaslStep step = Authenticate(*server, *client, mechanism);
    BOOST_TEST((step.outcome == AuthOutcome::kSuccess), mechanism << ": " << server->reason());
    BOOST_TEST(step.data == "alice", mechanism);
  }
}

BOOST_AUTO_TEST_CASE(an_address_as_user_name_logs_on_as_typed) {
  Sasldb db;
  for (const char* mechanism : {"NTLM", "LOGIN", "PLAIN"}) {
    auto server = db.Server();
    auto client = Client("bob@example.test", "Secret-2");
    SaslStep step = Authenticate(*server, *client, mechanism);
    BOOST_TEST((step.outcome == AuthOutcome::kSuccess), mechanism << ": " << server->reason());
    BOOST_TEST(step.data == "bob@example.test", mechanism);
  }
}

BOOST_AUTO_TEST_CASE(a_wrong_password_is_refused_by_the_server) {
  Sasldb db;
  for (const char* mechanism : {"NTLM", "LOGIN", "PLAIN"}) {
    auto server = db.Server();
    auto client = Client("alice", "secret-1");
    SaslStep step = Authenticate(*server, *client, mechanism);
    BOOST_TEST((step.outcome == AuthOutcome::kFailure), mechanism);
    BOOST_TEST(step.data.empty());
  }
}

BOOST_AUTO_TEST_CASE(initial_responses_per_mechanism) {
  // PLAIN (RFC 4616): authorization identity, authentication identity and
  // password, NUL-separated; the user acts as itself, as Postfix sends it.
  auto plain = Client("alice", kPassword);
  auto initial = plain->Start("PLAIN");
  BOOST_REQUIRE(initial.ok());
  BOOST_TEST(initial->value() == std::string("alice\0alice\0Secret-1", 20));
  // LOGIN ([MS-XLOGIN]) waits for the server's "Username:".
  auto login = Client("alice", kPassword);
  initial = login->Start("login");
  BOOST_REQUIRE(initial.ok());
  BOOST_TEST(!initial->has_value());
  BOOST_TEST(*login->Step("Username:") == "alice");
  BOOST_TEST(*login->Step("Password:") == kPassword);
  // NTLM: a NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1): signature, MessageType 1.
  auto ntlm = Client("alice", kPassword);
  initial = ntlm->Start("NTLM");
  BOOST_REQUIRE(initial.ok());
  BOOST_REQUIRE(initial->has_value());
  BOOST_TEST(initial->value().substr(0, 12) == std::string("NTLMSSP\0\1\0\0\0", 12));
}

BOOST_AUTO_TEST_CASE(ntlm_answers_with_lmv2_not_ntlmv1) {
  // MS-NLMP 3.3.2: an LMv2 response is 24 bytes, a 16-byte HMAC and the
  // client's 8-byte challenge; NTLMv1's DES response is 24 bytes as well but
  // the same for the same challenge and password, while LMv2 carries a
  // fresh client challenge each time.
  Sasldb db;
  std::string first_lm, second_lm;
  for (std::string* lm : {&first_lm, &second_lm}) {
    auto server = db.Server();
    auto client = Client("alice", kPassword);
    auto negotiate = client->Start("NTLM");
    BOOST_REQUIRE(negotiate.ok());
    BOOST_REQUIRE((server->Start("NTLM", std::nullopt).outcome == AuthOutcome::kContinue));
    SaslStep challenge = server->Step(**negotiate);
    BOOST_REQUIRE((challenge.outcome == AuthOutcome::kContinue));
    // Same server challenge both times.
    challenge.data.replace(24, 8, std::string(8, '\x11'));
    Result<std::string> authenticate = client->Step(challenge.data);
    BOOST_REQUIRE(authenticate.ok());
    // LmChallengeResponseFields (2.2.1.3): length at 12, offset at 16.
    const std::string& message = *authenticate;
    BOOST_REQUIRE(message.size() >= 20u);
    auto le16 = [&](size_t at) {
      return static_cast<size_t>(static_cast<unsigned char>(message[at])) |
             static_cast<size_t>(static_cast<unsigned char>(message[at + 1])) << 8;
    };
    size_t length = le16(12), offset = le16(16);
    BOOST_REQUIRE(length == 24u);
    *lm = message.substr(offset, length);
  }
  BOOST_TEST(first_lm != second_lm);
}

BOOST_AUTO_TEST_CASE(errors_name_the_mechanism_and_never_the_password) {
  auto ntlm = Client("alice", kPassword);
  BOOST_REQUIRE(ntlm->Start("NTLM").ok());
  Result<std::string> response = ntlm->Step("not an NTLM challenge");
  BOOST_REQUIRE(!response.ok());
  BOOST_TEST_INFO(response.status().message());
  BOOST_TEST(Contains(response.status().message(), "SASL NTLM client step failed: "));
  BOOST_TEST(!Contains(response.status().message(), kPassword));

  auto login = Client("alice", kPassword);
  BOOST_REQUIRE(login->Start("LOGIN").ok());
  BOOST_REQUIRE(login->Step("Username:").ok());
  BOOST_REQUIRE(login->Step("Password:").ok());
  response = login->Step("Password:");
  BOOST_REQUIRE(!response.ok());
  BOOST_TEST_INFO(response.status().message());
  BOOST_TEST(Contains(response.status().message(), "SASL LOGIN client step failed: "));
  BOOST_TEST(!Contains(response.status().message(), kPassword));
}

BOOST_AUTO_TEST_CASE(only_ntlm_login_and_plain_are_started) {
  for (const char* mechanism : {"CRAM-MD5", "DIGEST-MD5", "ANONYMOUS", "XYZZY"}) {
    auto client = Client("alice", kPassword);
    auto started = client->Start(mechanism);
    BOOST_REQUIRE(!started.ok());
    BOOST_TEST(Contains(started.status().message(), std::string("SASL ") + mechanism), mechanism);
  }
}

BOOST_AUTO_TEST_CASE(steps_out_of_order_are_errors) {
  auto early = Client("alice", kPassword);
  BOOST_TEST(!early->Step("Username:").ok());
  auto twice = Client("alice", kPassword);
  BOOST_REQUIRE(twice->Start("LOGIN").ok());
  BOOST_TEST(!twice->Start("LOGIN").ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
