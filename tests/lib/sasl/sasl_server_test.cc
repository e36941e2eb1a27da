// tests/lib/sasl/sasl_server_test.cc — server-side AUTH exchanges (LOGIN per
// [MS-XLOGIN], NTLM per [MS-SMTP]/[MS-NLMP]) against a real temporary sasldb
// written by lib/sasl/sasl_users, with libsasl2's own client side as the peer, and
// for NTLMv2 a client written here from [MS-NLMP] 3.3.2 and checked against
// the spec's test vectors (4.2.4), since Cyrus's client sends only LMv2.
#define BOOST_TEST_DYN_LINK
#include "lib/sasl/sasl_server.h"

#include <gnutls/crypto.h>
#include <unistd.h>

#include <array>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>

#include "lib/sasl/sasl_users.h"

namespace postern {
namespace {

using ipc::AuthOutcome;

const char kRealm[] = "mail.example.test";
const char kHostName[] = "mail.example.test";

// ---- the sasldb and the server --------------------------------------------

struct Sasldb {
  Sasldb() {
    char pattern[] = "/tmp/sasl_server_test.XXXXXX";
    BOOST_REQUIRE(mkdtemp(pattern) != nullptr);
    dir = pattern;
    settings = SaslServerSettings{dir + "/sasldb2", kRealm, kHostName, {"NTLM", "LOGIN"}};
    auto db = SaslUserDb::Open(settings.sasldb_path, kRealm, getgid());
    BOOST_REQUIRE_MESSAGE(db.ok(), db.status().message());
    BOOST_REQUIRE((*db)->Add("alice", "Secret-1").ok());
    BOOST_REQUIRE((*db)->Add("bob@example.test", "Secret-2").ok());
  }
  ~Sasldb() { std::filesystem::remove_all(dir); }

  std::unique_ptr<SaslServerExchange> Exchange(SaslServerExchange::UserGate gate = nullptr) {
    auto exchange = SaslServerExchange::Create(settings, std::move(gate));
    BOOST_REQUIRE_MESSAGE(exchange.ok(), exchange.status().message());
    return std::move(*exchange);
  }

  std::string dir;
  SaslServerSettings settings;
};

// ---- libsasl2's client side as the peer -------------------------------------

template <typename F>
int (*AsCallback(F* function))(void) {
  return reinterpret_cast<int (*)(void)>(reinterpret_cast<void (*)()>(function));
}

class SaslClient {
 public:
  SaslClient(std::string user, std::string password, bool ntlm_v2)
      : user_(std::move(user)), ntlm_v2_(ntlm_v2) {
    secret_.resize(sizeof(sasl_secret_t) + password.size());
    auto* secret = reinterpret_cast<sasl_secret_t*>(secret_.data());
    secret->len = password.size();
    memcpy(secret->data, password.data(), password.size());
    static std::once_flag once;
    std::call_once(once, [] { BOOST_REQUIRE(sasl_client_init(nullptr) == SASL_OK); });
    BOOST_REQUIRE(sasl_client_new("smtp", kHostName, nullptr, nullptr, callbacks_.data(), 0,
                                  &conn_) == SASL_OK);
  }
  ~SaslClient() { sasl_dispose(&conn_); }

  // Runs a whole exchange of mechanism against server; the outcome of its last step.
  SaslStep Authenticate(SaslServerExchange& server, const char* mechanism, bool initial_response) {
    const char* out = nullptr;
    unsigned length = 0;
    const char* chosen = nullptr;
    int rc = sasl_client_start(conn_, mechanism, nullptr, initial_response ? &out : nullptr,
                               initial_response ? &length : nullptr, &chosen);
    BOOST_REQUIRE_MESSAGE(rc == SASL_CONTINUE || rc == SASL_OK, sasl_errdetail(conn_));
    SaslStep step = server.Start(
        mechanism, out != nullptr ? std::optional<std::string_view>(std::string_view(out, length))
                                  : std::nullopt);
    while (step.outcome == AuthOutcome::kContinue) {
      rc = sasl_client_step(conn_, step.data.data(), static_cast<unsigned>(step.data.size()),
                            nullptr, &out, &length);
      BOOST_REQUIRE_MESSAGE(rc == SASL_CONTINUE || rc == SASL_OK, sasl_errdetail(conn_));
      step = server.Step(std::string_view(out != nullptr ? out : "", length));
    }
    return step;
  }

 private:
  static int GetSimple(void* context, int /*id*/, const char** result, unsigned* length) {
    const std::string& user = static_cast<SaslClient*>(context)->user_;
    *result = user.c_str();
    if (length != nullptr) *length = static_cast<unsigned>(user.size());
    return SASL_OK;
  }
  static int GetSecret(sasl_conn_t*, void* context, int /*id*/, sasl_secret_t** secret) {
    *secret = reinterpret_cast<sasl_secret_t*>(static_cast<SaslClient*>(context)->secret_.data());
    return SASL_OK;
  }
  static int GetOption(void* context, const char* /*plugin*/, const char* option,
                       const char** result, unsigned* length) {
    if (strcmp(option, "ntlm_v2") != 0 || !static_cast<SaslClient*>(context)->ntlm_v2_)
      return SASL_FAIL;
    *result = "yes";
    if (length != nullptr) *length = 3;
    return SASL_OK;
  }

  std::string user_;
  std::string secret_;
  bool ntlm_v2_;
  std::array<sasl_callback_t, 5> callbacks_{{{SASL_CB_AUTHNAME, AsCallback(&GetSimple), this},
                                             {SASL_CB_USER, AsCallback(&GetSimple), this},
                                             {SASL_CB_PASS, AsCallback(&GetSecret), this},
                                             {SASL_CB_GETOPT, AsCallback(&GetOption), this},
                                             {SASL_CB_LIST_END, nullptr, nullptr}}};
  sasl_conn_t* conn_ = nullptr;
};

SaslStep ClientExchange(SaslServerExchange& server, const char* mechanism, const char* user,
                        const char* password, bool initial_response = true, bool ntlm_v2 = false) {
  SaslClient client(user, password, ntlm_v2);
  return client.Authenticate(server, mechanism, initial_response);
}

// ---- an NTLMv2 client from [MS-NLMP] ----------------------------------------

// MD4 (RFC 1320): NTLM's password hash; GnuTLS does not offer it.
std::string Md4(std::string_view message) {
  auto f = [](uint32_t x, uint32_t y, uint32_t z) { return (x & y) | (~x & z); };
  auto g = [](uint32_t x, uint32_t y, uint32_t z) { return (x & y) | (x & z) | (y & z); };
  auto h = [](uint32_t x, uint32_t y, uint32_t z) { return x ^ y ^ z; };
  auto rotl = [](uint32_t x, int s) { return (x << s) | (x >> (32 - s)); };
  std::string padded(message);
  padded += '\x80';
  while (padded.size() % 64 != 56) padded += '\0';
  uint64_t bits = static_cast<uint64_t>(message.size()) * 8;
  for (int i = 0; i < 8; ++i) padded += static_cast<char>(bits >> (8 * i));
  uint32_t state[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  for (size_t block = 0; block < padded.size(); block += 64) {
    uint32_t x[16];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const unsigned char*>(padded.data() + block + 4 * i);
      x[i] = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    const int s1[4] = {3, 7, 11, 19}, s2[4] = {3, 5, 9, 13}, s3[4] = {3, 9, 11, 15};
    for (int i = 0; i < 16; ++i) {
      uint32_t t = rotl(a + f(b, c, d) + x[i], s1[i % 4]);
      a = d, d = c, c = b, b = t;
    }
    for (int i = 0; i < 16; ++i) {
      int k = (i % 4) * 4 + i / 4;
      uint32_t t = rotl(a + g(b, c, d) + x[k] + 0x5a827999, s2[i % 4]);
      a = d, d = c, c = b, b = t;
    }
    const int order[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
    for (int i = 0; i < 16; ++i) {
      uint32_t t = rotl(a + h(b, c, d) + x[order[i]] + 0x6ed9eba1, s3[i % 4]);
      a = d, d = c, c = b, b = t;
    }
    state[0] += a, state[1] += b, state[2] += c, state[3] += d;
  }
  std::string digest;
  for (uint32_t word : state) {
    for (int i = 0; i < 4; ++i) digest += static_cast<char>(word >> (8 * i));
  }
  return digest;
}

std::string HmacMd5(std::string_view key, std::string_view data) {
  std::string mac(16, '\0');
  BOOST_REQUIRE(gnutls_hmac_fast(GNUTLS_MAC_MD5, key.data(), key.size(), data.data(), data.size(),
                                 mac.data()) == 0);
  return mac;
}

std::string Hex(std::string_view bytes) {
  std::string hex;
  char two[3];
  for (unsigned char c : bytes) {
    snprintf(two, sizeof two, "%02x", c);
    hex += two;
  }
  return hex;
}

std::string FromHex(std::string_view hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    bytes += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return bytes;
}

std::string Utf16Le(std::string_view ascii) {
  std::string wide;
  for (char c : ascii) wide += {c, '\0'};
  return wide;
}

std::string Upper(std::string_view text) {
  std::string upper(text);
  for (char& c : upper) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  return upper;
}

// NTOWFv2 (MS-NLMP 3.3.2): the user name is upper-cased, the domain is not.
std::string NtOwfV2(std::string_view password, std::string_view user, std::string_view domain) {
  return HmacMd5(Md4(Utf16Le(password)), Utf16Le(Upper(user) + std::string(domain)));
}

std::string Le16(uint16_t v) { return {static_cast<char>(v), static_cast<char>(v >> 8)}; }
std::string Le32(uint32_t v) { return Le16(static_cast<uint16_t>(v)) + Le16(v >> 16); }

constexpr uint32_t kNegotiateUnicode = 0x1, kRequestTarget = 0x4, kNegotiateNtlm = 0x200;

std::string NegotiateMessage() {
  return std::string("NTLMSSP\0", 8) + Le32(1) +
         Le32(kNegotiateUnicode | kRequestTarget | kNegotiateNtlm) + std::string(16, '\0');
}

// An AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3) with an NTLMv2 response (3.3.2)
// to the CHALLENGE_MESSAGE `challenge`, and the LMv2 response beside it.
std::string NtlmV2Authenticate(std::string_view challenge, std::string_view user,
                               std::string_view domain, std::string_view password) {
  BOOST_REQUIRE(challenge.size() >= 32);
  std::string server_challenge(challenge.substr(24, 8));
  std::string client_challenge = FromHex("0102030405060708");
  // Version 1.1, no time, the client's challenge and no target information
  // (Cyrus's CHALLENGE_MESSAGE offers none).
  std::string blob = FromHex("0101000000000000") + std::string(8, '\0') + client_challenge +
                     std::string(4, '\0') + std::string(4, '\0') + std::string(4, '\0');
  std::string key = NtOwfV2(password, user, domain);
  std::string nt = HmacMd5(key, server_challenge + blob) + blob;
  std::string lm = HmacMd5(key, server_challenge + client_challenge) + client_challenge;
  std::string fields[] = {lm, nt, Utf16Le(domain), Utf16Le(user), Utf16Le("WORKSTATION"), ""};
  std::string header = std::string("NTLMSSP\0", 8) + Le32(3);
  std::string payload;
  uint32_t offset = 64;
  for (const std::string& field : fields) {
    header += Le16(static_cast<uint16_t>(field.size())) +
              Le16(static_cast<uint16_t>(field.size())) + Le32(offset);
    payload += field;
    offset += static_cast<uint32_t>(field.size());
  }
  return header + Le32(kNegotiateUnicode | kNegotiateNtlm) + payload;
}

SaslStep NtlmV2Exchange(SaslServerExchange& server, std::string_view user, std::string_view domain,
                        std::string_view password) {
  SaslStep challenge = server.Start("NTLM", NegotiateMessage());
  BOOST_REQUIRE(challenge.outcome == AuthOutcome::kContinue);
  return server.Step(NtlmV2Authenticate(challenge.data, user, domain, password));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sasl_server)

// ---- LOGIN ([MS-XLOGIN]) -------------------------------------------------------

BOOST_AUTO_TEST_CASE(login_challenges_are_username_then_password) {
  Sasldb db;
  auto server = db.Exchange();
  SaslStep step = server->Start("LOGIN", std::nullopt);
  BOOST_TEST((step.outcome == AuthOutcome::kContinue));
  BOOST_TEST(step.data == "Username:");
  step = server->Step("alice");
  BOOST_TEST((step.outcome == AuthOutcome::kContinue));
  BOOST_TEST(step.data == "Password:");
  step = server->Step("Secret-1");
  BOOST_TEST((step.outcome == AuthOutcome::kSuccess));
  BOOST_TEST(step.data == "alice");
}

BOOST_AUTO_TEST_CASE(login_with_initial_response_goes_straight_to_password) {
  Sasldb db;
  auto server = db.Exchange();
  SaslStep step = server->Start("LOGIN", std::string_view("alice"));
  BOOST_TEST((step.outcome == AuthOutcome::kContinue));
  BOOST_TEST(step.data == "Password:");
  step = server->Step("Secret-1");
  BOOST_TEST((step.outcome == AuthOutcome::kSuccess));
  BOOST_TEST(step.data == "alice");
}

BOOST_AUTO_TEST_CASE(login_with_libsasl2_client_with_and_without_initial_response) {
  Sasldb db;
  for (bool initial_response : {false, true}) {
    auto server = db.Exchange();
    SaslStep step = ClientExchange(*server, "LOGIN", "alice", "Secret-1", initial_response);
    BOOST_TEST((step.outcome == AuthOutcome::kSuccess), "initial response " << initial_response);
    BOOST_TEST(step.data == "alice");
  }
}

BOOST_AUTO_TEST_CASE(login_wrong_password_and_unknown_user_both_fail) {
  Sasldb db;
  auto wrong = db.Exchange();
  SaslStep step = ClientExchange(*wrong, "LOGIN", "alice", "secret-1");
  BOOST_TEST((step.outcome == AuthOutcome::kFailure));
  BOOST_TEST(step.data.empty());
  BOOST_TEST(wrong->user() == "alice");
  auto unknown = db.Exchange();
  step = ClientExchange(*unknown, "LOGIN", "mallory", "Secret-1");
  BOOST_TEST((step.outcome == AuthOutcome::kFailure));
  BOOST_TEST(step.data.empty());
  BOOST_TEST(unknown->user() == "mallory");
}

BOOST_AUTO_TEST_CASE(an_address_login_is_reported_as_typed) {
  Sasldb db;
  auto server = db.Exchange();
  SaslStep step = ClientExchange(*server, "LOGIN", "bob@example.test", "Secret-2");
  BOOST_TEST((step.outcome == AuthOutcome::kSuccess));
  BOOST_TEST(step.data == "bob@example.test");
}

BOOST_AUTO_TEST_CASE(a_login_with_the_auth_realm_is_the_plain_user) {
  Sasldb db;
  auto server = db.Exchange();
  SaslStep step = ClientExchange(*server, "LOGIN", "alice@mail.example.test", "Secret-1");
  BOOST_TEST((step.outcome == AuthOutcome::kSuccess));
  BOOST_TEST(step.data == "alice");
}

// ---- NTLM ([MS-SMTP] 3.1.5.1, [MS-NLMP]) ---------------------------------------

BOOST_AUTO_TEST_CASE(ntlm_negotiate_as_initial_response_gets_a_challenge) {
  Sasldb db;
  auto server = db.Exchange();
  SaslStep step = server->Start("NTLM", NegotiateMessage());
  BOOST_TEST((step.outcome == AuthOutcome::kContinue));
  // A CHALLENGE_MESSAGE: signature, MessageType 2 (MS-NLMP 2.2.1.2).
  BOOST_REQUIRE(step.data.size() >= 32u);
  BOOST_TEST(step.data.substr(0, 12) == std::string("NTLMSSP\0\2\0\0\0", 12));
}

BOOST_AUTO_TEST_CASE(ntlm_v1_with_libsasl2_client) {
  Sasldb db;
  for (bool initial_response : {true, false}) {
    auto server = db.Exchange();
    SaslStep step = ClientExchange(*server, "NTLM", "alice", "Secret-1", initial_response);
    BOOST_TEST((step.outcome == AuthOutcome::kSuccess), "initial response " << initial_response);
    BOOST_TEST(step.data == "alice");
  }
  auto address = db.Exchange();
  SaslStep step = ClientExchange(*address, "NTLM", "bob@example.test", "Secret-2");
  BOOST_TEST((step.outcome == AuthOutcome::kSuccess));
  BOOST_TEST(step.data == "bob@example.test");
}

BOOST_AUTO_TEST_CASE(ntlm_v1_wrong_password_and_unknown_user_both_fail) {
  Sasldb db;
  auto wrong = db.Exchange();
  BOOST_TEST(
      (ClientExchange(*wrong, "NTLM", "alice", "secret-1").outcome == AuthOutcome::kFailure));
  BOOST_TEST(wrong->user() == "alice");
  auto unknown = db.Exchange();
  BOOST_TEST(
      (ClientExchange(*unknown, "NTLM", "mallory", "Secret-1").outcome == AuthOutcome::kFailure));
  BOOST_TEST(unknown->user() == "mallory");
}

BOOST_AUTO_TEST_CASE(lm_v2_with_libsasl2_client_ntlm_v2_option) {
  Sasldb db;
  auto server = db.Exchange();
  SaslStep step = ClientExchange(*server, "NTLM", "alice", "Secret-1", true, true);
  BOOST_TEST((step.outcome == AuthOutcome::kSuccess));
  BOOST_TEST(step.data == "alice");
  auto wrong = db.Exchange();
  BOOST_TEST((ClientExchange(*wrong, "NTLM", "alice", "Secret-0", true, true).outcome ==
              AuthOutcome::kFailure));
}

BOOST_AUTO_TEST_CASE(ntlm_v2_client_here_matches_ms_nlmp_test_vectors) {
  // MS-NLMP 4.2.4: User "User", UserDom "Domain", Passwd "Password".
  std::string key = NtOwfV2("Password", "User", "Domain");
  BOOST_TEST(Hex(key) == "0c868a403bfd7a93a3001ef22ef02e3f");  // 4.2.4.1.1
  std::string server_challenge = FromHex("0123456789abcdef");
  std::string client_challenge = FromHex("aaaaaaaaaaaaaaaa");
  // 4.2.4.2.1 LMv2 response.
  BOOST_TEST(Hex(HmacMd5(key, server_challenge + client_challenge)) ==
             "86c35097ac9cec102554764a57cccc19");
  // 4.2.4.2.2 NTProofStr, over the temp of 4.2.4.1.3 with the spec's AV pairs.
  std::string temp = FromHex(
      "0101000000000000"                  // versions, Z6
      "0000000000000000"                  // time
      "aaaaaaaaaaaaaaaa"                  // client challenge
      "00000000"                          // Z4
      "02000c0044006f006d00610069006e00"  // MsvAvNbDomainName "Domain"
      "01000c00530065007200760065007200"  // MsvAvNbComputerName "Server"
      "00000000"                          // MsvAvEOL
      "00000000");                        // Z4
  BOOST_TEST(Hex(HmacMd5(key, server_challenge + temp)) == "68cd0ab851e51c96aabc927bebef6a1c");
  BOOST_TEST(Hex(Md4("abc")) == "a448017aaf21d8525fc10ae87aa6729d");  // RFC 1320 A.5
}

BOOST_AUTO_TEST_CASE(ntlm_v2_response_verifies) {
  Sasldb db;
  for (const char* domain : {"", "MAIL.EXAMPLE.TEST", "EXAMPLE"}) {
    auto server = db.Exchange();
    SaslStep step = NtlmV2Exchange(*server, "alice", domain, "Secret-1");
    BOOST_TEST((step.outcome == AuthOutcome::kSuccess), "domain \"" << domain << '"');
    BOOST_TEST(step.data == "alice");
  }
  auto wrong = db.Exchange();
  BOOST_TEST((NtlmV2Exchange(*wrong, "alice", "", "Secret-0").outcome == AuthOutcome::kFailure));
  auto unknown = db.Exchange();
  BOOST_TEST(
      (NtlmV2Exchange(*unknown, "mallory", "", "Secret-1").outcome == AuthOutcome::kFailure));
}

// Cyrus computes NTOWFv2 over Uppercase(User + UserDom), where MS-NLMP 3.3.2
// upper-cases only User: a client that sends a domain with lower-case letters
// fails NTLMv2 against it. Pinned so that a fixed libsasl2 is noticed.
BOOST_AUTO_TEST_CASE(ntlm_v2_with_a_lower_case_domain_fails_in_cyrus) {
  Sasldb db;
  auto server = db.Exchange();
  BOOST_TEST(
      (NtlmV2Exchange(*server, "alice", "Example", "Secret-1").outcome == AuthOutcome::kFailure));
}

// Issue 8 point 10: a user name that overflows libsasl2's canonicalisation
// buffer (SASL_BUFOVER) is the client's doing: a failure, with the user
// known so that authd counts it toward the lockout.
BOOST_AUTO_TEST_CASE(ntlm_user_name_of_3000_characters_is_a_failure) {
  Sasldb db;
  auto server = db.Exchange();
  std::string user(3000, 'a');
  BOOST_TEST((NtlmV2Exchange(*server, user, "", "Secret-1").outcome == AuthOutcome::kFailure));
  BOOST_TEST(server->user() == user);
  BOOST_TEST(!server->refused_by_gate());
}

BOOST_AUTO_TEST_CASE(ntlm_garbage_is_a_failure) {
  Sasldb db;
  auto server = db.Exchange();
  SaslStep step = server->Start("NTLM", std::string_view("not an NTLM message"));
  BOOST_TEST((step.outcome == AuthOutcome::kFailure));
  BOOST_TEST(!server->reason().empty());
}

// ---- mechanisms, order, the gate ------------------------------------------------

BOOST_AUTO_TEST_CASE(mechanisms_outside_the_list_are_unknown) {
  Sasldb db;
  for (const char* mechanism : {"PLAIN", "CRAM-MD5", "GSSAPI", "XYZZY", ""}) {
    auto server = db.Exchange();
    SaslStep step = server->Start(mechanism, std::nullopt);
    BOOST_TEST((step.outcome == AuthOutcome::kUnknownMechanism), mechanism);
  }
  db.settings.mechanisms = {"NTLM"};
  auto server = db.Exchange();
  BOOST_TEST((server->Start("LOGIN", std::nullopt).outcome == AuthOutcome::kUnknownMechanism));
}

BOOST_AUTO_TEST_CASE(empty_initial_response_is_not_none) {
  Sasldb db;
  // No initial response: NTLM waits for the client's NEGOTIATE ...
  auto none = db.Exchange();
  SaslStep step = none->Start("NTLM", std::nullopt);
  BOOST_TEST((step.outcome == AuthOutcome::kContinue));
  BOOST_TEST(step.data.empty());
  // ... while an empty one (AUTH NTLM =) is an empty NEGOTIATE, which is no NEGOTIATE.
  auto empty = db.Exchange();
  BOOST_TEST((empty->Start("NTLM", std::string_view()).outcome == AuthOutcome::kFailure));
}

BOOST_AUTO_TEST_CASE(mechanisms_libsasl2_lacks_are_named) {
  Sasldb db;
  db.settings.mechanisms = {"NTLM", "LOGIN", "XYZZY"};
  auto missing = SaslServerExchange::UnavailableMechanisms(db.settings);
  BOOST_REQUIRE_MESSAGE(missing.ok(), missing.status().message());
  BOOST_TEST((*missing == std::vector<std::string>{"XYZZY"}));
}

BOOST_AUTO_TEST_CASE(mechanism_names_are_case_insensitive) {
  Sasldb db;
  auto server = db.Exchange();
  SaslStep step = server->Start("login", std::string_view("alice"));
  BOOST_TEST(step.data == "Password:");
}

BOOST_AUTO_TEST_CASE(steps_out_of_order_fail_without_harm) {
  Sasldb db;
  auto early = db.Exchange();
  BOOST_TEST((early->Step("alice").outcome == AuthOutcome::kFailure));
  auto twice = db.Exchange();
  BOOST_TEST((twice->Start("LOGIN", std::nullopt).outcome == AuthOutcome::kContinue));
  BOOST_TEST((twice->Start("LOGIN", std::nullopt).outcome == AuthOutcome::kFailure));
  BOOST_TEST((twice->Step("alice").outcome == AuthOutcome::kFailure));
  auto after = db.Exchange();
  BOOST_TEST(
      (ClientExchange(*after, "LOGIN", "alice", "Secret-1").outcome == AuthOutcome::kSuccess));
  BOOST_TEST((after->Step("again").outcome == AuthOutcome::kFailure));
}

BOOST_AUTO_TEST_CASE(the_gate_refuses_even_the_right_password) {
  Sasldb db;
  for (const char* mechanism : {"LOGIN", "NTLM"}) {
    std::string asked;
    auto server = db.Exchange([&](const std::string& user) {
      asked = user;
      return false;
    });
    SaslStep step = ClientExchange(*server, mechanism, "alice", "Secret-1");
    BOOST_TEST((step.outcome == AuthOutcome::kFailure), mechanism);
    BOOST_TEST(server->refused_by_gate());
    BOOST_TEST(asked == "alice");
    BOOST_TEST(server->user() == "alice");
  }
  auto allowed = db.Exchange([](const std::string&) { return true; });
  BOOST_TEST(
      (ClientExchange(*allowed, "LOGIN", "alice", "Secret-1").outcome == AuthOutcome::kSuccess));
  BOOST_TEST(!allowed->refused_by_gate());
}

BOOST_AUTO_TEST_CASE(a_missing_sasldb_fails_like_an_unknown_user) {
  Sasldb db;
  db.settings.sasldb_path = db.dir + "/absent";
  auto server = db.Exchange();
  BOOST_TEST(
      (ClientExchange(*server, "LOGIN", "alice", "Secret-1").outcome == AuthOutcome::kFailure));
}

// ---- names and settings ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(canonical_login) {
  BOOST_TEST(CanonicalLogin("alice", kRealm) == "alice");
  BOOST_TEST(CanonicalLogin(" alice\t", kRealm) == "alice");
  BOOST_TEST(CanonicalLogin("alice@mail.example.test", kRealm) == "alice");
  BOOST_TEST(CanonicalLogin("bob@example.test", kRealm) == "bob@example.test");
  BOOST_TEST(CanonicalLogin("alice@MAIL.EXAMPLE.TEST", kRealm) == "alice@MAIL.EXAMPLE.TEST");
  BOOST_TEST(CanonicalLogin("@mail.example.test", kRealm) == "@mail.example.test");
  BOOST_TEST(CanonicalLogin("carol@mail.example.test.evil", kRealm) ==
             "carol@mail.example.test.evil");
}

BOOST_AUTO_TEST_CASE(settings_from_config) {
  Result<Config> config = ParseConfig(
      "myhostname = mx.example.test\n"
      "auth_realm = users.example.test\n"
      "sasldb_path = /var/lib/postern/users\n"
      "[listener \"submission\"]\nbind = 127.0.0.1:587\nauth_mechanisms = LOGIN\n"
      "[listener \"other\"]\nbind = 127.0.0.1:2525\nauth_mechanisms = login ntlm\n",
      "/etc/postern/postern.conf", "/etc/postern");
  BOOST_REQUIRE_MESSAGE(config.ok(), config.status().message());
  SaslServerSettings settings = SaslServerSettingsFor(*config, "users.example.test");
  BOOST_TEST(settings.sasldb_path == "/var/lib/postern/users");
  BOOST_TEST(settings.realm == "users.example.test");
  BOOST_TEST(settings.server_fqdn == "mx.example.test");
  BOOST_TEST((settings.mechanisms == std::vector<std::string>{"LOGIN", "NTLM"}));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
