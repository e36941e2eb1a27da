// tests/lib/config/config_rules_test.cc — unit tests of lib/config/config_rules.h:
// the checks beyond a value's syntax, and the nearest key for a typo.
// How the parser reports each check is tested in config_test.cc (ConfigRules).
#define BOOST_TEST_DYN_LINK
#include "lib/config/config_rules.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace postern {
namespace {

using Strs = std::vector<std::string>;

// The key named, or "" for none: Boost.Test prints a std::string.
std::string Named(std::optional<std::string_view> key) { return key ? std::string(*key) : ""; }

BOOST_AUTO_TEST_SUITE(config_rules)

BOOST_AUTO_TEST_CASE(an_indented_known_key_with_an_equals_sign_reads_like_a_key_line) {
  BOOST_TEST(Named(LooksLikeKeyLine("max_recipients = 50")) == "max_recipients");
  BOOST_TEST(Named(LooksLikeKeyLine("auth_mechanisms=LOGIN")) == "auth_mechanisms");
  BOOST_TEST(Named(LooksLikeKeyLine("myhostname \t= x")) == "myhostname");
  // Continuations as they are meant: values, unknown words, no equals sign.
  BOOST_TEST(!LooksLikeKeyLine("10.0.0.0/8"));
  BOOST_TEST(!LooksLikeKeyLine("max_recipients 50"));
  BOOST_TEST(!LooksLikeKeyLine("NORMAL:%COMPAT=1"));
  BOOST_TEST(!LooksLikeKeyLine("no_such_key = 1"));
}

BOOST_AUTO_TEST_CASE(host_names_follow_rfc_1123) {
  for (const char* good : {"mail.example.test", "localhost", "a-b.example", "1mail.example",
                           "xn--bcher-kva.example", "A.B.C"})
    BOOST_TEST(!HostNameProblem(good), good);
  BOOST_TEST(HostNameProblem("bad host name").value_or("") ==
             "a host name is labels of letters, digits and inner hyphens, at most 63 octets each, "
             "separated by dots (RFC 1123)");
  for (const char* bad : {"mail_1.example", "-mail.example", "mail-.example", "mail..example",
                          ".example", "[192.0.2.1]", "mail.example:25"})
    BOOST_TEST(HostNameProblem(bad).has_value(), bad);
  BOOST_TEST(HostNameProblem("").value_or("") == "it is empty");
  BOOST_TEST(HostNameProblem("mail.example.").value_or("") == "it ends with a dot");
  BOOST_TEST(HostNameProblem(std::string(64, 'a') + ".example").has_value());
  BOOST_TEST(!HostNameProblem(std::string(63, 'a') + ".example"));
}

BOOST_AUTO_TEST_CASE(only_ntlm_and_login_are_served) {
  BOOST_TEST(UnservedAuthMechanisms({"NTLM", "LOGIN"}).empty());
  BOOST_TEST(UnservedAuthMechanisms({"ntlm", "Login"}).empty());
  BOOST_TEST(UnservedAuthMechanisms({}).empty());
  BOOST_TEST(UnservedAuthMechanisms({"CRAM-MD5", "PLAIN"}) == (Strs{"CRAM-MD5", "PLAIN"}),
             boost::test_tools::per_element());
  BOOST_TEST(UnservedAuthMechanisms({"LOGIN", "GSSAPI"}) == (Strs{"GSSAPI"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(edit_distance_counts_a_transposition_as_one_edit) {
  BOOST_TEST(EditDistance("", "") == 0u);
  BOOST_TEST(EditDistance("abc", "") == 3u);
  BOOST_TEST(EditDistance("", "ab") == 2u);
  BOOST_TEST(EditDistance("kitten", "sitting") == 3u);
  BOOST_TEST(EditDistance("myhostnmae", "myhostname") == 1u);
  BOOST_TEST(EditDistance("ca", "abc") == 3u);  // optimal string alignment, not Damerau
  BOOST_TEST(EditDistance("relayhost", "relayhost") == 0u);
}

BOOST_AUTO_TEST_CASE(the_nearest_key_is_suggested_only_when_close) {
  BOOST_TEST(Named(NearestKeyName("max_recipent")) == "max_recipients");
  BOOST_TEST(Named(NearestKeyName("Max_Recipients")) == "max_recipients");
  BOOST_TEST(Named(NearestKeyName("myhostnmae")) == "myhostname");
  BOOST_TEST(Named(NearestKeyName("auth_mechanism")) == "auth_mechanisms");
  BOOST_TEST(Named(NearestKeyName("relay_host")) == "relayhost");
  BOOST_TEST(Named(NearestKeyName("smtpd_worker")) == "smtpd_workers");
  BOOST_TEST(Named(NearestKeyName("rol")) == "role");
  // Nothing near: no guess.
  BOOST_TEST(!NearestKeyName("mydestination"));
  BOOST_TEST(!NearestKeyName("banana"));
  BOOST_TEST(!NearestKeyName("x"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
