// tests/lib/sasl/recipient_directory_test.cc — authd's recipient directory
// against a real temporary sasldb and map file: users added or deleted count
// at the next query without a reload, the map files are read when it is
// made, a recipient found lower-cased is known as such, and an unreadable
// sasldb answers kUnavailable.
#define BOOST_TEST_DYN_LINK
#include "lib/sasl/recipient_directory.h"

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "lib/sasl/sasl_users.h"

namespace postern {
namespace {

using ipc::RecipientVerdict;

struct Fixture {
  Fixture() {
    char pattern[] = "/tmp/recipient_directory_test.XXXXXX";
    BOOST_REQUIRE(mkdtemp(pattern) != nullptr);
    config.config_dir = pattern;
    config.sasldb_path = config.config_dir + "/sasldb2";
    config.local_domains = {"example.test"};
    config.local_recipient_map = {"sasldb", "recipients"};
    Write("recipients", "sales\n");
    auto opened = SaslUserDb::Open(config.sasldb_path, "mail.example.test", getgid());
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().message());
    db = std::move(*opened);
  }
  ~Fixture() { std::filesystem::remove_all(config.config_dir); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(config.config_dir + "/" + name) << text;
  }
  RecipientDirectory Load() {
    Result<RecipientDirectory> directory = RecipientDirectory::Load(config, "mail.example.test");
    BOOST_REQUIRE_MESSAGE(directory.ok(), directory.status().message());
    return std::move(*directory);
  }

  Config config;
  std::unique_ptr<SaslUserDb> db;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(recipient_directory)

BOOST_FIXTURE_TEST_CASE(users_added_and_deleted_count_at_the_next_query, Fixture) {
  RecipientDirectory directory = Load();
  // No sasldb file yet: nobody but the map's keys.
  BOOST_TEST((directory.Check("alice@example.test").verdict == RecipientVerdict::kUnknown));
  BOOST_TEST((directory.Check("sales@example.test").verdict == RecipientVerdict::kKnown));
  BOOST_REQUIRE(db->Add("alice", "Secret-1").ok());
  BOOST_TEST((directory.Check("alice@example.test").verdict == RecipientVerdict::kKnown));
  BOOST_TEST((directory.Check("bob@example.test").verdict == RecipientVerdict::kUnknown));
  BOOST_REQUIRE(db->Add("bob", "Secret-2").ok());
  BOOST_TEST((directory.Check("bob@example.test").verdict == RecipientVerdict::kKnown));
  BOOST_REQUIRE(db->Delete("alice").ok());
  BOOST_TEST((directory.Check("alice@example.test").verdict == RecipientVerdict::kUnknown));
}

BOOST_FIXTURE_TEST_CASE(a_recipient_is_known_as_the_spelling_that_was_found, Fixture) {
  BOOST_REQUIRE(db->Add("alice", "Secret-1").ok());
  RecipientDirectory directory = Load();
  RecipientDirectory::Lookup upper = directory.Check("Alice@Example.Test");
  BOOST_TEST((upper.verdict == RecipientVerdict::kKnown));
  BOOST_TEST(upper.known_as == "alice@Example.Test");
  BOOST_TEST(directory.Check("SALES@example.test").known_as == "sales@example.test");
  BOOST_TEST(directory.Check("alice@example.test").known_as == "alice@example.test");
  RecipientDirectory::Lookup unknown = directory.Check("Bob@example.test");
  BOOST_TEST((unknown.verdict == RecipientVerdict::kUnknown));
  BOOST_TEST(unknown.known_as.empty());
}

BOOST_FIXTURE_TEST_CASE(map_files_are_read_when_loaded, Fixture) {
  RecipientDirectory before = Load();
  Write("recipients", "support@example.test\n");
  BOOST_TEST((before.Check("support@example.test").verdict == RecipientVerdict::kUnknown));
  RecipientDirectory after = Load();
  BOOST_TEST((after.Check("support@example.test").verdict == RecipientVerdict::kKnown));
  BOOST_TEST((after.Check("sales@example.test").verdict == RecipientVerdict::kUnknown));
}

BOOST_FIXTURE_TEST_CASE(a_missing_or_bad_map_file_fails_the_load, Fixture) {
  config.local_recipient_map = {"sasldb", "missing"};
  Result<RecipientDirectory> missing = RecipientDirectory::Load(config, "mail.example.test");
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.status().message().find(config.config_dir + "/missing") != std::string::npos);
  Write("bad", "@example.test\n");
  config.local_recipient_map = {config.config_dir + "/bad"};
  Result<RecipientDirectory> bad = RecipientDirectory::Load(config, "mail.example.test");
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.status().message().find("/bad:1: ") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(without_sasldb_the_sasldb_is_never_read, Fixture) {
  config.local_recipient_map = {"recipients"};
  Write("sasldb2", "not a Berkeley DB file");
  RecipientDirectory directory = Load();
  BOOST_TEST((directory.Check("sales@example.test").verdict == RecipientVerdict::kKnown));
  BOOST_TEST((directory.Check("alice@example.test").verdict == RecipientVerdict::kUnknown));
}

BOOST_FIXTURE_TEST_CASE(an_unreadable_sasldb_is_unavailable_until_mended, Fixture) {
  RecipientDirectory directory = Load();
  Write("sasldb2", "not a Berkeley DB file");
  BOOST_TEST((directory.Check("sales@example.test").verdict == RecipientVerdict::kUnavailable));
  std::filesystem::remove(config.sasldb_path);
  BOOST_REQUIRE(db->Add("alice", "Secret-1").ok());
  BOOST_TEST((directory.Check("alice@example.test").verdict == RecipientVerdict::kKnown));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
