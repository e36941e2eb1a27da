// tests/lib/sasl/sasl_users_test.cc — the sasldb user table against a real
// temporary sasldb, checked with libsasl2's own sasl_checkpass.
#define BOOST_TEST_DYN_LINK
#include "lib/sasl/sasl_users.h"

#include <sasl/prop.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace postern {
namespace {

const char kRealm[] = "mail.example.test";

struct TempSasldb {
  TempSasldb() {
    char pattern[] = "/tmp/sasl_users_test.XXXXXX";
    BOOST_REQUIRE(mkdtemp(pattern) != nullptr);
    dir = pattern;
    path = dir + "/sasldb2";
    auto opened = SaslUserDb::Open(path, kRealm, getgid());
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().message());
    db = std::move(*opened);
  }
  ~TempSasldb() { std::filesystem::remove_all(dir); }

  std::string FileBytes() const {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string dir;
  std::string path;
  std::unique_ptr<SaslUserDb> db;
};

std::vector<std::string> ListOf(SaslUserDb& db) {
  auto users = db.List();
  BOOST_REQUIRE_MESSAGE(users.ok(), users.status().message());
  return *users;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sasl_users)

BOOST_AUTO_TEST_CASE(empty_table_before_first_write) {
  TempSasldb t;
  BOOST_TEST(ListOf(*t.db).empty());
  BOOST_TEST(!std::filesystem::exists(t.path));
  auto exists = t.db->Exists("alice");
  BOOST_REQUIRE(exists.ok());
  BOOST_TEST(!*exists);
}

BOOST_AUTO_TEST_CASE(add_stores_a_password_that_libsasl2_accepts) {
  TempSasldb t;
  BOOST_REQUIRE(t.db->Add("alice", "Secret-1").ok());
  BOOST_TEST(t.db->CheckPassword("alice", "Secret-1").ok());
  BOOST_TEST(!t.db->CheckPassword("alice", "secret-1").ok());
  BOOST_TEST(!t.db->CheckPassword("bob", "Secret-1").ok());
  // NTLM needs the plaintext, which libsasl2 keeps as userPassword.
  BOOST_TEST(t.FileBytes().find("userPassword") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(file_is_readable_by_owner_and_group_only) {
  TempSasldb t;
  BOOST_REQUIRE(t.db->Add("alice", "Secret-1").ok());
  struct stat st;
  BOOST_REQUIRE(stat(t.path.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0640u);
  BOOST_TEST(st.st_gid == getgid());
}

BOOST_AUTO_TEST_CASE(duplicate_add_is_refused_and_keeps_the_old_password) {
  TempSasldb t;
  BOOST_REQUIRE(t.db->Add("alice", "Secret-1").ok());
  Status again = t.db->Add("alice", "Other-2");
  BOOST_TEST(!again.ok());
  BOOST_TEST(again.message().find("already exists") != std::string::npos);
  BOOST_TEST(t.db->CheckPassword("alice", "Secret-1").ok());
  BOOST_TEST(!t.db->CheckPassword("alice", "Other-2").ok());
}

BOOST_AUTO_TEST_CASE(passwd_changes_an_existing_password) {
  TempSasldb t;
  BOOST_REQUIRE(t.db->Add("alice", "Secret-1").ok());
  BOOST_REQUIRE(t.db->SetPassword("alice", "Newer-3").ok());
  BOOST_TEST(t.db->CheckPassword("alice", "Newer-3").ok());
  BOOST_TEST(!t.db->CheckPassword("alice", "Secret-1").ok());
}

BOOST_AUTO_TEST_CASE(passwd_of_a_missing_user_is_refused) {
  TempSasldb t;
  Status s = t.db->SetPassword("nobody", "Secret-1");
  BOOST_TEST(!s.ok());
  BOOST_TEST(s.message().find("does not exist") != std::string::npos);
  BOOST_TEST(ListOf(*t.db).empty());
}

BOOST_AUTO_TEST_CASE(list_names_users_with_realm_and_no_password) {
  TempSasldb t;
  BOOST_REQUIRE(t.db->Add("carol", "Pw-carol-77").ok());
  BOOST_REQUIRE(t.db->Add("alice", "Pw-alice-42").ok());
  std::vector<std::string> expected = {"alice@mail.example.test", "carol@mail.example.test"};
  std::vector<std::string> users = ListOf(*t.db);
  BOOST_TEST(users == expected, boost::test_tools::per_element());
  for (const std::string& line : users) {
    BOOST_TEST(line.find("Pw-") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(del_removes_the_user_for_good) {
  TempSasldb t;
  BOOST_REQUIRE(t.db->Add("alice", "Secret-1").ok());
  BOOST_REQUIRE(t.db->Add("bob", "Secret-2").ok());
  Status deleted = t.db->Delete("alice");
  BOOST_REQUIRE_MESSAGE(deleted.ok(), deleted.message());
  std::vector<std::string> expected = {"bob@mail.example.test"};
  std::vector<std::string> users = ListOf(*t.db);
  BOOST_TEST(users == expected, boost::test_tools::per_element());
  BOOST_TEST(!t.db->CheckPassword("alice", "Secret-1").ok());
  BOOST_TEST(t.db->CheckPassword("bob", "Secret-2").ok());
  BOOST_TEST(!t.db->Delete("alice").ok());
}

// A login that is an address lives in the realm after its '@', where
// libsasl2 looks it up; add, passwd and del must find it there too.
BOOST_AUTO_TEST_CASE(address_logins_are_managed_like_others) {
  TempSasldb t;
  BOOST_REQUIRE(t.db->Add("bob@example.test", "Secret-1").ok());
  BOOST_TEST(t.db->Exists("bob@example.test").value());
  BOOST_TEST(!t.db->Exists("bob").value());
  BOOST_TEST(!t.db->Add("bob@example.test", "Other-2").ok());
  BOOST_TEST(t.db->CheckPassword("bob@example.test", "Secret-1").ok());
  BOOST_REQUIRE(t.db->SetPassword("bob@example.test", "Newer-3").ok());
  BOOST_TEST(t.db->CheckPassword("bob@example.test", "Newer-3").ok());
  std::vector<std::string> expected = {"bob@example.test"};
  BOOST_TEST(ListOf(*t.db) == expected, boost::test_tools::per_element());
  BOOST_REQUIRE(t.db->Delete("bob@example.test").ok());
  BOOST_TEST(ListOf(*t.db).empty());
}

BOOST_AUTO_TEST_CASE(del_removes_properties_other_tools_stored) {
  TempSasldb t;
  BOOST_REQUIRE(t.db->Add("alice", "Secret-1").ok());
  // Another tool (saslpasswd2 with SCRAM enabled) may add mechanism secrets.
  SaslCallbacks callbacks(SaslOptions{t.path, ""});
  sasl_conn_t* conn = nullptr;
  BOOST_REQUIRE(sasl_server_new(kSaslService, kRealm, kRealm, nullptr, nullptr, callbacks.get(), 0,
                                &conn) == SASL_OK);
  propctx* ctx = prop_new(0);
  const char* names[] = {"cmusaslsecretOTHER", nullptr};
  BOOST_REQUIRE(prop_request(ctx, names) == SASL_OK);
  BOOST_REQUIRE(prop_set(ctx, "cmusaslsecretOTHER", "x", 1) == SASL_OK);
  BOOST_REQUIRE(sasl_auxprop_store(conn, ctx, "alice") == SASL_OK);
  prop_dispose(&ctx);
  sasl_dispose(&conn);
  BOOST_REQUIRE(t.FileBytes().find("cmusaslsecretOTHER") != std::string::npos);

  BOOST_REQUIRE(t.db->Delete("alice").ok());
  BOOST_TEST(ListOf(*t.db).empty());
}

BOOST_AUTO_TEST_CASE(two_files_in_one_process_stay_apart) {
  TempSasldb first;
  TempSasldb second;
  BOOST_REQUIRE(first.db->Add("alice", "Secret-1").ok());
  BOOST_TEST(ListOf(*second.db).empty());
  BOOST_TEST(!std::filesystem::exists(second.path));
}

BOOST_AUTO_TEST_CASE(bad_passwords_are_refused) {
  TempSasldb t;
  BOOST_TEST(t.db->Add("alice", "").message() == "empty password refused");
  BOOST_TEST(!t.db->Add("alice", std::string("a\0b", 3)).ok());
  BOOST_TEST(!t.db->Add("alice", std::string(1025, 'x')).ok());
  BOOST_TEST(t.db->Add("alice", std::string(1024, 'x')).ok());
}

BOOST_AUTO_TEST_CASE(bad_user_names_are_refused) {
  TempSasldb t;
  BOOST_TEST(!t.db->Add("", "Secret-1").ok());
  BOOST_TEST(!t.db->Add("al ice", "Secret-1").ok());
  BOOST_TEST(!t.db->Add("al\tice", "Secret-1").ok());
  BOOST_TEST(!t.db->Add(std::string(256, 'a'), "Secret-1").ok());
  BOOST_TEST(ListOf(*t.db).empty());
  BOOST_TEST(t.db->Add("alice@example.test", "Secret-1").ok());
}

BOOST_AUTO_TEST_CASE(missing_directory_is_named) {
  auto opened = SaslUserDb::Open("/nonexistent-postern-dir/sasldb2", kRealm, getgid());
  BOOST_REQUIRE(opened.ok());
  Status s = (*opened)->Add("alice", "Secret-1");
  BOOST_TEST(!s.ok());
  BOOST_TEST(s.message().find("/nonexistent-postern-dir") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_a_sasldb_is_an_error) {
  TempSasldb t;
  std::ofstream(t.path) << "this is not a Berkeley DB file\n";
  auto users = t.db->List();
  BOOST_TEST(!users.ok());
  BOOST_TEST(users.status().message().find(t.path) != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
