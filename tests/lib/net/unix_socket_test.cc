// tests/lib/net/unix_socket_test.cc — listening and connecting by path, in a
// temporary directory.
#define BOOST_TEST_DYN_LINK
#include "lib/net/unix_socket.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/lib/base/temp_dir.h"

namespace postern {
namespace {

int ListenOrFail(const std::string& path) {
  Result<int> fd = ListenUnixStream(path, nullptr);
  BOOST_REQUIRE_MESSAGE(fd.ok(), fd.status().message());
  return *fd;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(unix_socket)

BOOST_AUTO_TEST_CASE(listener_is_a_private_socket_that_accepts) {
  TempDir dir("unix_socket_test");
  std::string path = dir.path() + "/a.sock";
  int listener = ListenOrFail(path);
  struct stat st;
  BOOST_REQUIRE(stat(path.c_str(), &st) == 0);
  BOOST_TEST(S_ISSOCK(st.st_mode));
  BOOST_TEST((st.st_mode & 07777) == 0600u);
  Result<int> client = ConnectUnixStream(path, "test daemon");
  BOOST_REQUIRE(client.ok());
  close(*client);
  close(listener);
}

BOOST_AUTO_TEST_CASE(a_live_listener_is_never_replaced) {
  TempDir dir("unix_socket_test");
  std::string path = dir.path() + "/a.sock";
  int listener = ListenOrFail(path);
  Result<int> second = ListenUnixStream(path, nullptr);
  BOOST_TEST(!second.ok());
  BOOST_TEST(second.status().message().find("already listening on " + path) != std::string::npos);
  Result<int> client = ConnectUnixStream(path, "test daemon");
  BOOST_TEST(client.ok());
  if (client.ok()) close(*client);
  close(listener);
}

BOOST_AUTO_TEST_CASE(a_stale_socket_file_is_replaced) {
  TempDir dir("unix_socket_test");
  std::string path = dir.path() + "/a.sock";
  close(ListenOrFail(path));
  BOOST_REQUIRE(std::filesystem::exists(path));
  int listener = ListenOrFail(path);
  Result<int> client = ConnectUnixStream(path, "test daemon");
  BOOST_TEST(client.ok());
  if (client.ok()) close(*client);
  close(listener);
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_a_socket_is_left_alone) {
  TempDir dir("unix_socket_test");
  std::string path = dir.path() + "/a.sock";
  std::ofstream(path) << "keep me\n";
  Result<int> fd = ListenUnixStream(path, nullptr);
  BOOST_TEST(!fd.ok());
  BOOST_TEST(fd.status().message().find("is not a socket") != std::string::npos);
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  BOOST_TEST(line == "keep me");
}

BOOST_AUTO_TEST_CASE(an_over_long_path_is_refused) {
  std::string path = "/tmp/" + std::string(200, 'x') + ".sock";
  BOOST_TEST(!ListenUnixStream(path, nullptr).ok());
  BOOST_TEST(!ConnectUnixStream(path, "qmgr").ok());
}

BOOST_AUTO_TEST_CASE(connect_failure_names_daemon_and_path) {
  TempDir dir("unix_socket_test");
  std::string path = dir.path() + "/missing.sock";
  Result<int> fd = ConnectUnixStream(path, "qmgr");
  BOOST_REQUIRE(!fd.ok());
  BOOST_TEST(fd.status().message() ==
             "cannot connect to qmgr at " + path + ": No such file or directory");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
