// tests/lib/smtp/local_recipients_test.cc — which local recipients exist
// (local_recipient_map): the map file syntax, the lookup rules and which
// recipients smtpd asks about at all.
#define BOOST_TEST_DYN_LINK
#include "lib/smtp/local_recipients.h"

#include <boost/test/unit_test.hpp>
#include <set>
#include <string>
#include <string_view>

namespace postern {
namespace {

Config LocalConfig(std::vector<std::string> map = {"sasldb"}) {
  Config config;
  config.myhostname = "mail.example.test";
  config.local_domains = {"example.test", "example.org"};
  config.local_recipient_map = std::move(map);
  return config;
}

Mailbox Box(const std::string& local, const std::string& domain) { return Mailbox{local, domain}; }

KnownRecipients Known() {
  KnownRecipients known;
  known.use_sasldb = true;
  known.auth_realm = "Mail.Example.Test";
  known.sasldb_users = {
      {"alice", "mail.example.test"}, {"carol", "example.org"}, {"Dave", "mail.example.test"}};
  known.map_keys = {"sales", "info@example.org"};
  return known;
}

// KnownAs() as a string that Boost.Test can print.
std::string Found(const KnownRecipients& known, std::string_view address) {
  return KnownAs(known, address).value_or("(unknown)");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(local_recipients)

BOOST_AUTO_TEST_CASE(map_keys_are_the_first_word_of_each_line) {
  Result<std::set<std::string>> keys = ParseRecipientMap(
      "# valid recipients\n"
      "sales\n"
      "info@Example.ORG   anything after the key is ignored\n"
      "\n"
      "  Support@example.test, ok # comment\r\n",
      "recipients");
  BOOST_REQUIRE_MESSAGE(keys.ok(), keys.status().message());
  std::set<std::string> expected = {"sales", "info@example.org", "Support@example.test"};
  BOOST_TEST(*keys == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_key_without_local_part_or_domain_names_file_and_line) {
  Result<std::set<std::string>> catch_all = ParseRecipientMap("sales\n@example.test x\n", "map");
  BOOST_REQUIRE(!catch_all.ok());
  BOOST_TEST(catch_all.status().message() ==
             "map:2: \"@example.test\" is neither a local part nor local@domain");
  Result<std::set<std::string>> no_domain = ParseRecipientMap("bob@\n", "map");
  BOOST_REQUIRE(!no_domain.ok());
  BOOST_TEST(no_domain.status().message() ==
             "map:1: \"bob@\" is neither a local part nor local@domain");
}

BOOST_AUTO_TEST_CASE(sasldb_users_in_the_auth_realm_exist_at_every_local_domain) {
  BOOST_TEST(Found(Known(), "alice@example.test") == "alice@example.test");
  BOOST_TEST(Found(Known(), "alice@EXAMPLE.ORG") == "alice@EXAMPLE.ORG");
  BOOST_TEST(Found(Known(), "bob@example.test") == "(unknown)");
}

BOOST_AUTO_TEST_CASE(a_user_in_the_realm_of_a_domain_exists_at_that_domain_only) {
  BOOST_TEST(Found(Known(), "carol@example.org") == "carol@example.org");
  BOOST_TEST(Found(Known(), "carol@Example.Org.") == "carol@Example.Org.");
  BOOST_TEST(Found(Known(), "carol@example.test") == "(unknown)");
}

// The spelling found is the one returned, so the message goes to the
// mailbox of the user that exists; the domain stays as written.
BOOST_AUTO_TEST_CASE(the_local_part_is_tried_as_written_then_lower_cased) {
  BOOST_TEST(Found(Known(), "ALICE@example.test") == "alice@example.test");
  BOOST_TEST(Found(Known(), "Alice@Example.Test") == "alice@Example.Test");
  BOOST_TEST(Found(Known(), "Dave@example.test") == "Dave@example.test");
  // A user stored with capitals is not found under another spelling.
  BOOST_TEST(Found(Known(), "dave@example.test") == "(unknown)");
  BOOST_TEST(Found(Known(), "DAVE@example.test") == "(unknown)");
}

BOOST_AUTO_TEST_CASE(map_keys_name_a_local_part_or_one_address) {
  BOOST_TEST(Found(Known(), "sales@example.test") == "sales@example.test");
  BOOST_TEST(Found(Known(), "Sales@example.org") == "sales@example.org");
  BOOST_TEST(Found(Known(), "INFO@EXAMPLE.org") == "info@EXAMPLE.org");
  BOOST_TEST(Found(Known(), "info@example.test") == "(unknown)");
}

BOOST_AUTO_TEST_CASE(without_sasldb_in_the_map_its_users_do_not_count) {
  KnownRecipients known = Known();
  known.use_sasldb = false;
  BOOST_TEST(Found(known, "alice@example.test") == "(unknown)");
  BOOST_TEST(Found(known, "sales@example.test") == "sales@example.test");
}

BOOST_AUTO_TEST_CASE(only_local_recipients_other_than_postmaster_are_checked) {
  Config config = LocalConfig();
  BOOST_TEST(NeedsRecipientCheck(config, Box("bob", "example.test")));
  BOOST_TEST(NeedsRecipientCheck(config, Box("bob", "Example.ORG")));
  BOOST_TEST(!NeedsRecipientCheck(config, Box("bob", "example.net")));
  BOOST_TEST(!NeedsRecipientCheck(config, Box("bob", "[192.0.2.1]")));
  BOOST_TEST(!NeedsRecipientCheck(config, Box("Postmaster", "")));
  BOOST_TEST(!NeedsRecipientCheck(config, Box("POSTMASTER", "example.org")));
}

BOOST_AUTO_TEST_CASE(the_local_part_of_postmaster_address_is_always_valid) {
  Config config = LocalConfig();
  config.postmaster_address = "hostmaster@example.net";
  BOOST_TEST(!NeedsRecipientCheck(config, Box("hostmaster", "example.test")));
  BOOST_TEST(!NeedsRecipientCheck(config, Box("postmaster", "example.test")));
  BOOST_TEST(NeedsRecipientCheck(config, Box("webmaster", "example.test")));
}

BOOST_AUTO_TEST_CASE(an_empty_map_accepts_every_local_recipient) {
  BOOST_TEST(!NeedsRecipientCheck(LocalConfig({}), Box("bob", "example.test")));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
