// tests/lib/config/relay_password_test.cc — reading relay_password_file:
// the first line is the password, and a file others could read is refused
// with the fix.
#define BOOST_TEST_DYN_LINK
#include "lib/config/relay_password.h"

#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <string>

#include "tests/lib/base/temp_dir.h"

namespace postern {
namespace {

std::string WriteFile(const TempDir& dir, const std::string& bytes, mode_t mode) {
  std::string path = dir.Join("relay.pw");
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  BOOST_REQUIRE(chmod(path.c_str(), mode) == 0);
  return path;
}

std::string PasswordOf(const std::string& bytes, mode_t mode = 0600) {
  TempDir dir("relay_password_test");
  Result<std::string> password = ReadRelayPassword(WriteFile(dir, bytes, mode));
  BOOST_REQUIRE_MESSAGE(password.ok(), password.status().message());
  return *password;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(relay_password)

BOOST_AUTO_TEST_CASE(the_first_line_without_its_line_end_is_the_password) {
  BOOST_TEST(PasswordOf("Secret-1\n") == "Secret-1");
  BOOST_TEST(PasswordOf("Secret-1\r\n") == "Secret-1");
  BOOST_TEST(PasswordOf("Secret-1") == "Secret-1");
  BOOST_TEST(PasswordOf("Secret-1\nsecond line\n") == "Secret-1");
  BOOST_TEST(PasswordOf(" with spaces \n") == " with spaces ");
  BOOST_TEST(PasswordOf("Secret-1\n", 0400) == "Secret-1");
}

BOOST_AUTO_TEST_CASE(a_file_others_or_the_group_may_read_or_write_is_refused_with_the_fix) {
  TempDir dir("relay_password_test");
  const std::pair<mode_t, const char*> modes[] = {{0644, "0644, open to others"},
                                                  {0604, "0604, open to others"},
                                                  {0640, "0640, open to its group"},
                                                  {0620, "0620, open to its group"}};
  for (const auto& [mode, words] : modes) {
    std::string path = WriteFile(dir, "Secret-1\n", mode);
    Result<std::string> password = ReadRelayPassword(path);
    BOOST_REQUIRE(!password.ok());
    BOOST_TEST(password.status().message() ==
               "relay_password_file " + path + " has mode " + words + ": chmod 600 " + path);
  }
}

BOOST_AUTO_TEST_CASE(an_empty_file_or_first_line_is_refused) {
  TempDir dir("relay_password_test");
  std::string path = WriteFile(dir, "", 0600);
  Result<std::string> password = ReadRelayPassword(path);
  BOOST_REQUIRE(!password.ok());
  BOOST_TEST(password.status().message() ==
             "relay_password_file " + path + " is empty: its first line is the password");
  path = WriteFile(dir, "\nSecret-1\n", 0600);
  password = ReadRelayPassword(path);
  BOOST_REQUIRE(!password.ok());
  BOOST_TEST(password.status().message() ==
             "relay_password_file " + path + ": its first line, the password, is empty");
}

BOOST_AUTO_TEST_CASE(a_missing_file_or_a_directory_is_named) {
  TempDir dir("relay_password_test");
  Result<std::string> missing = ReadRelayPassword(dir.Join("absent"));
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.status().message() == "cannot open relay_password_file " + dir.Join("absent") +
                                               ": No such file or directory");
  Result<std::string> directory = ReadRelayPassword(dir.path());
  BOOST_REQUIRE(!directory.ok());
  BOOST_TEST(directory.status().message() ==
             "relay_password_file " + dir.path() + " is not a regular file");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
