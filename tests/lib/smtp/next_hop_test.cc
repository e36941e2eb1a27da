// tests/lib/smtp/next_hop_test.cc — the relayhost forms of lib/smtp/next_hop.h.
#include "lib/smtp/next_hop.h"

#include <boost/test/unit_test.hpp>

namespace postern {
namespace {

std::string Error(std::string_view text) {
  Result<NextHop> hop = NextHop::Parse(text);
  BOOST_REQUIRE(!hop.ok());
  return hop.status().message();
}

BOOST_AUTO_TEST_SUITE(next_hop)

BOOST_AUTO_TEST_CASE(brackets_name_the_host_itself_and_no_brackets_ask_for_its_mx) {
  Result<NextHop> bracketed = NextHop::Parse("[Relay.Example.NET]:587");
  BOOST_REQUIRE(bracketed.ok());
  BOOST_TEST(bracketed->host == "relay.example.net");
  BOOST_TEST(bracketed->port == 587);
  BOOST_TEST(!bracketed->mx_lookup);
  BOOST_TEST(bracketed->ToString() == "[relay.example.net]:587");

  Result<NextHop> mx = NextHop::Parse("example.net");
  BOOST_REQUIRE(mx.ok());
  BOOST_TEST(mx->host == "example.net");
  BOOST_TEST(mx->port == 25);
  BOOST_TEST(mx->mx_lookup);
  BOOST_TEST(mx->ToString() == "example.net");

  Result<NextHop> mx_port = NextHop::Parse("backup.example.net:2525");
  BOOST_REQUIRE(mx_port.ok());
  BOOST_TEST(mx_port->mx_lookup);
  BOOST_TEST(mx_port->port == 2525);
}

BOOST_AUTO_TEST_CASE(an_ip_address_is_never_looked_up) {
  Result<NextHop> v4 = NextHop::Parse("192.0.2.25");
  BOOST_REQUIRE(v4.ok());
  BOOST_TEST(!v4->mx_lookup);
  BOOST_REQUIRE(v4->address.has_value());
  BOOST_TEST(v4->address->ToString() == "192.0.2.25");

  Result<NextHop> v6 = NextHop::Parse("[2001:db8::25]:2526");
  BOOST_REQUIRE(v6.ok());
  BOOST_TEST(!v6->mx_lookup);
  BOOST_TEST(v6->port == 2526);
  BOOST_TEST(v6->ToString() == "[2001:db8::25]:2526");

  Result<NextHop> bracketed_v4 = NextHop::Parse("[127.0.0.1]");
  BOOST_REQUIRE(bracketed_v4.ok());
  BOOST_TEST(bracketed_v4->port == 25);
  BOOST_TEST(bracketed_v4->ToString() == "[127.0.0.1]:25");
}

BOOST_AUTO_TEST_CASE(what_is_not_a_next_hop_is_refused_with_the_reason) {
  BOOST_TEST(Error("[relay.example.net:25") ==
             "\"[relay.example.net:25\" is not a next hop: the '[' has no ']'");
  BOOST_TEST(Error("[relay.example.net]25") ==
             "\"[relay.example.net]25\" is not a next hop: expected :PORT after the host");
  BOOST_TEST(Error("relay.example.net:0") ==
             "\"relay.example.net:0\" is not a next hop: port \"0\" is not a number from 1 to "
             "65535");
  BOOST_TEST(Error("relay.example.net:65536") ==
             "\"relay.example.net:65536\" is not a next hop: port \"65536\" is not a number from 1 "
             "to 65535");
  BOOST_TEST(Error("relay.example.net:") ==
             "\"relay.example.net:\" is not a next hop: port \"\" is not a number from 1 to 65535");
  BOOST_TEST(Error("2001:db8::25") ==
             "\"2001:db8::25\" is not a next hop: write an IPv6 address in brackets, as in "
             "[2001:db8::25]:25");
  BOOST_TEST(Error(":25") == "\":25\" is not a next hop: the host is empty");
  BOOST_TEST(Error("[]") == "\"[]\" is not a next hop: the host is empty");
  BOOST_TEST(Error("bad_host!") ==
             "\"bad_host!\" is not a next hop: \"bad_host!\" is neither a host name nor an IP "
             "address");
  BOOST_TEST(Error("-relay.example.net") ==
             "\"-relay.example.net\" is not a next hop: \"-relay.example.net\" is neither a host "
             "name nor an IP address");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
