// tests/lib/base/syslog_socket_test.cc — lib/base/syslog_socket.h against a
// datagram socket the test owns, as syslogd would: missing, serving, full,
// and made anew by a restart.
#include "lib/base/syslog_socket.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <string>

#include "tests/lib/base/temp_dir.h"

namespace postern {
namespace {

// A syslogd's socket: bound to path, read by the test.
class FakeSyslogd {
 public:
  explicit FakeSyslogd(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    BOOST_REQUIRE(fd_ >= 0);
    sockaddr_un address = {};
    address.sun_family = AF_UNIX;
    strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    BOOST_REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  }
  ~FakeSyslogd() {
    close(fd_);
    unlink(path_.c_str());
  }
  // The next datagram, or "" when none waits.
  std::string Receive() {
    char buffer[4096];
    ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
  }

 private:
  std::string path_;
  int fd_ = -1;
};

BOOST_AUTO_TEST_SUITE(syslog_socket)

BOOST_AUTO_TEST_CASE(a_missing_syslogd_is_reported) {
  TempDir dir("syslog_socket_missing");
  SyslogSocket socket(dir.Join("log"));
  Status connected = socket.Connect();
  BOOST_TEST(!connected.ok());
  BOOST_TEST(connected.message().find(dir.Join("log")) != std::string::npos);
  BOOST_TEST(!socket.Send("<22>x").ok());
}

BOOST_AUTO_TEST_CASE(records_arrive_one_per_datagram) {
  TempDir dir("syslog_socket_serving");
  FakeSyslogd syslogd(dir.Join("log"));
  SyslogSocket socket(dir.Join("log"));
  BOOST_REQUIRE(socket.Connect().ok());
  BOOST_TEST(socket.Send("<22>first").ok());
  BOOST_TEST(socket.Send("<22>second").ok());
  BOOST_TEST(syslogd.Receive() == "<22>first");
  BOOST_TEST(syslogd.Receive() == "<22>second");
}

BOOST_AUTO_TEST_CASE(a_restarted_syslogd_is_reconnected) {
  TempDir dir("syslog_socket_restart");
  SyslogSocket socket(dir.Join("log"));
  {
    FakeSyslogd before(dir.Join("log"));
    BOOST_REQUIRE(socket.Connect().ok());
  }
  FakeSyslogd after(dir.Join("log"));
  BOOST_TEST(socket.Send("<22>after the restart").ok());
  BOOST_TEST(after.Receive() == "<22>after the restart");
}

BOOST_AUTO_TEST_CASE(a_full_syslogd_never_blocks_the_sender) {
  TempDir dir("syslog_socket_full");
  FakeSyslogd syslogd(dir.Join("log"));
  SyslogSocket socket(dir.Join("log"));
  BOOST_REQUIRE(socket.Connect().ok());
  Status sent = Status::Ok();
  int count = 0;
  while (sent.ok() && count < 100000) {
    sent = socket.Send(std::string(200, 'x'));
    ++count;
  }
  BOOST_TEST(sent.is_would_block(), sent.message());
  BOOST_TEST(syslogd.Receive() == std::string(200, 'x'));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
