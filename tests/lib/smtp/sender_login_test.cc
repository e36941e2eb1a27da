// tests/lib/smtp/sender_login_test.cc — lib/smtp/sender_login: whose addresses a login may use.
#define BOOST_TEST_DYN_LINK
#include "lib/smtp/sender_login.h"

#include <boost/test/unit_test.hpp>

namespace postern {
namespace {

const std::vector<std::string> kLocalDomains = {"example.test", "other.test"};

SenderLoginMap MapOf(std::string_view text) {
  Result<SenderLoginMap> map = SenderLoginMap::Parse(text, "map");
  BOOST_REQUIRE_MESSAGE(map.ok(), map.status().message());
  return *map;
}

BOOST_AUTO_TEST_SUITE(SenderLogin)

BOOST_AUTO_TEST_CASE(BareLoginOwnsItsNameInEveryLocalDomain) {
  SenderLoginMap map;
  BOOST_TEST(map.Allows("alice", "alice@example.test", kLocalDomains));
  BOOST_TEST(map.Allows("alice", "alice@other.test", kLocalDomains));
  BOOST_TEST(map.Allows("Alice", "ALICE@Example.TEST", kLocalDomains));
  BOOST_TEST(!map.Allows("alice", "alice@elsewhere.test", kLocalDomains));
  BOOST_TEST(!map.Allows("alice", "bob@example.test", kLocalDomains));
  BOOST_TEST(!map.Allows("alice", "alicex@example.test", kLocalDomains));
}

BOOST_AUTO_TEST_CASE(AddressLoginOwnsExactlyThatAddress) {
  SenderLoginMap map;
  BOOST_TEST(map.Allows("carol@elsewhere.test", "carol@elsewhere.test", kLocalDomains));
  BOOST_TEST(map.Allows("carol@elsewhere.test", "Carol@ELSEWHERE.test", kLocalDomains));
  BOOST_TEST(!map.Allows("carol@elsewhere.test", "carol@example.test", kLocalDomains));
}

BOOST_AUTO_TEST_CASE(NullSenderIsAlwaysAllowed) {
  BOOST_TEST(SenderLoginMap().Allows("alice", "", kLocalDomains));
}

BOOST_AUTO_TEST_CASE(MapAddsAddressesForLogins) {
  SenderLoginMap map = MapOf(
      "# shared mailboxes\n"
      "sales@example.test   alice, bob\n"
      "\n"
      "info@elsewhere.test\tcarol@elsewhere.test   # a comment\n");
  BOOST_TEST(map.Allows("alice", "sales@example.test", kLocalDomains));
  BOOST_TEST(map.Allows("BOB", "Sales@Example.test", kLocalDomains));
  BOOST_TEST(map.Allows("carol@elsewhere.test", "info@elsewhere.test", kLocalDomains));
  BOOST_TEST(!map.Allows("dave", "sales@example.test", kLocalDomains));
  BOOST_TEST(!map.Allows("alice", "info@elsewhere.test", kLocalDomains));
}

BOOST_AUTO_TEST_CASE(MalformedLinesAreErrorsNamingTheLine) {
  Result<SenderLoginMap> no_login =
      SenderLoginMap::Parse("ok@example.test a\nlonely@x.test\n", "f");
  BOOST_REQUIRE(!no_login.ok());
  BOOST_TEST(no_login.status().message().find("f:2:") != std::string::npos);
  Result<SenderLoginMap> not_address = SenderLoginMap::Parse("sales alice\n", "f");
  BOOST_REQUIRE(!not_address.ok());
  BOOST_TEST(not_address.status().message().find("f:1:") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(LoadReportsAMissingFile) {
  Result<SenderLoginMap> map = SenderLoginMap::Load("/nonexistent/sender_logins");
  BOOST_REQUIRE(!map.ok());
  BOOST_TEST(map.status().message().find("/nonexistent/sender_logins") != std::string::npos);
  BOOST_TEST(SenderLoginMap::Load("").ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
