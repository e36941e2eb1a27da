// tests/lib/sasl/auth_realm_test.cc — which realm users are stored in and
// looked up in: auth_realm, else the sasldb's own, else myhostname.
#define BOOST_TEST_DYN_LINK
#include "lib/sasl/auth_realm.h"

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "lib/sasl/sasl_users.h"

namespace postern {
namespace {

using Realms = std::vector<std::string>;

std::string Chosen(const std::string& configured, const Realms& stored) {
  Result<std::string> realm = ChooseAuthRealm(configured, "new.example.test", stored);
  BOOST_REQUIRE_MESSAGE(realm.ok(), realm.status().message());
  return *realm;
}

BOOST_AUTO_TEST_SUITE(auth_realm)

BOOST_AUTO_TEST_CASE(auth_realm_set_wins_over_everything) {
  BOOST_TEST(Chosen("users.example.test", {}) == "users.example.test");
  BOOST_TEST(Chosen("users.example.test", {"old.example.test"}) == "users.example.test");
}

BOOST_AUTO_TEST_CASE(an_empty_sasldb_takes_myhostname) {
  BOOST_TEST(Chosen("", {}) == "new.example.test");
}

BOOST_AUTO_TEST_CASE(the_realm_of_the_stored_users_survives_a_new_host_name) {
  BOOST_TEST(Chosen("", {"old.example.test"}) == "old.example.test");
}

BOOST_AUTO_TEST_CASE(several_realms_take_myhostname_when_it_is_one_of_them) {
  BOOST_TEST(Chosen("", {"a.example.test", "new.example.test"}) == "new.example.test");
}

BOOST_AUTO_TEST_CASE(several_realms_without_myhostname_ask_for_auth_realm) {
  Result<std::string> realm =
      ChooseAuthRealm("", "new.example.test", {"a.example.test", "b.example.test"});
  BOOST_REQUIRE(!realm.ok());
  BOOST_TEST(realm.status().message() ==
             "the sasldb holds users in several realms (a.example.test, b.example.test) and "
             "none is myhostname: set auth_realm to the realm to use");
}

BOOST_AUTO_TEST_CASE(read_from_a_real_sasldb_after_the_host_is_renamed) {
  char pattern[] = "/tmp/auth_realm_test.XXXXXX";
  BOOST_REQUIRE(mkdtemp(pattern) != nullptr);
  std::string dir = pattern;
  Result<Config> config = ParseConfig("myhostname = new.example.test\nsasldb_path = " + dir +
                                          "/sasldb2\n[listener \"smtp\"]\nbind = 127.0.0.1:25\n",
                                      dir + "/postern.conf", dir);
  BOOST_REQUIRE_MESSAGE(config.ok(), config.status().message());

  Result<std::string> before = AuthRealmFor(*config);  // no file yet
  BOOST_REQUIRE_MESSAGE(before.ok(), before.status().message());
  BOOST_TEST(*before == "new.example.test");

  {
    auto db = SaslUserDb::Open(config->sasldb_path, "old.example.test", getgid());
    BOOST_REQUIRE_MESSAGE(db.ok(), db.status().message());
    Status added = (*db)->Add("alice", "correct horse");
    BOOST_REQUIRE_MESSAGE(added.ok(), added.message());
  }
  Result<std::string> after = AuthRealmFor(*config);
  BOOST_REQUIRE_MESSAGE(after.ok(), after.status().message());
  BOOST_TEST(*after == "old.example.test");
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
