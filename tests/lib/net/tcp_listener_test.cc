// tests/lib/net/tcp_listener_test.cc — BindTcpListener (lib/net/tcp_listener.h):
// the connections it accepts have Nagle's algorithm off, and a failure names
// the owner, the address and the reason.
#define BOOST_TEST_DYN_LINK
#include "lib/net/tcp_listener.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <string>

namespace postern {
namespace {

BindAddress Loopback(uint16_t port) {
  Result<BindAddress> address = BindAddress::Parse("127.0.0.1:" + std::to_string(port));
  BOOST_REQUIRE(address.ok());
  return *address;
}

uint16_t BoundPort(int fd) {
  sockaddr_in bound{};
  socklen_t length = sizeof bound;
  BOOST_REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) == 0);
  return ntohs(bound.sin_port);
}

int NoDelay(int fd) {
  int value = -1;
  socklen_t length = sizeof value;
  BOOST_REQUIRE(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &length) == 0);
  return value;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tcp_listener)

BOOST_AUTO_TEST_CASE(accepted_connections_have_nagle_off) {
  Result<int> listener = BindTcpListener(Loopback(0), "listener test");
  BOOST_REQUIRE(listener.ok());
  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(client >= 0);
  sockaddr_storage peer;
  const socklen_t peer_length = Loopback(BoundPort(*listener)).ToSockaddr(&peer);
  BOOST_REQUIRE(connect(client, reinterpret_cast<sockaddr*>(&peer), peer_length) == 0);
  int accepted = -1;
  for (int tries = 0; accepted < 0 && tries < 1000; ++tries) {  // the listener is non-blocking
    accepted = accept4(*listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (accepted < 0) usleep(1000);
  }
  BOOST_REQUIRE(accepted >= 0);
  BOOST_TEST(NoDelay(accepted) != 0);
  BOOST_TEST(NoDelay(client) == 0);  // a socket left alone keeps Nagle: the check can tell
  close(accepted);
  close(client);
  close(*listener);
}

BOOST_AUTO_TEST_CASE(an_address_in_use_is_named_in_the_error) {
  Result<int> first = BindTcpListener(Loopback(0), "listener one");
  BOOST_REQUIRE(first.ok());
  const uint16_t port = BoundPort(*first);
  Result<int> second = BindTcpListener(Loopback(port), "listener two");
  BOOST_REQUIRE(!second.ok());
  BOOST_TEST(second.status().message() == "listener two: cannot bind 127.0.0.1:" +
                                              std::to_string(port) + ": Address already in use");
  close(*first);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
