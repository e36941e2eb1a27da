// tests/lib/net/network_test.cc — unit tests of lib/net/network.h.
//
// Addresses, CIDR matching (with IPv4-mapped clients) and bind addresses,
// checked against values worked out by hand from RFC 4291, RFC 4632 and
// RFC 5952.
#define BOOST_TEST_DYN_LINK
#include "lib/net/network.h"

#include <arpa/inet.h>
#include <sys/un.h>

#include <boost/test/unit_test.hpp>
#include <cstring>

namespace postern {
namespace {

IpAddress Ip(const char* text) {
  std::optional<IpAddress> address = IpAddress::Parse(text);
  BOOST_REQUIRE_MESSAGE(address.has_value(), "test address " << text << " does not parse");
  return *address;
}

Network Net(const char* text) {
  Result<Network> network = Network::Parse(text);
  BOOST_REQUIRE_MESSAGE(network.ok(), network.status().message());
  return *network;
}

std::string NetworkError(const char* text) {
  Result<Network> network = Network::Parse(text);
  BOOST_REQUIRE_MESSAGE(!network.ok(), text << " parsed as a network");
  return network.status().message();
}

std::string BindError(const char* text) {
  Result<BindAddress> bind = BindAddress::Parse(text);
  BOOST_REQUIRE_MESSAGE(!bind.ok(), text << " parsed as a bind address");
  return bind.status().message();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(IpAddressTest)

BOOST_AUTO_TEST_CASE(ParsesIpv4) {
  IpAddress address = Ip("192.0.2.1");
  BOOST_TEST(address.family == AF_INET);
  BOOST_TEST(address.bytes[0] == 192);
  BOOST_TEST(address.bytes[1] == 0);
  BOOST_TEST(address.bytes[2] == 2);
  BOOST_TEST(address.bytes[3] == 1);
  BOOST_TEST(address.ToString() == "192.0.2.1");
}

BOOST_AUTO_TEST_CASE(ParsesIpv6AndPrintsRfc5952Form) {
  IpAddress address = Ip("2001:0DB8:0000:0000:0000:0000:0000:0001");
  BOOST_TEST(address.family == AF_INET6);
  BOOST_TEST(address.bytes[0] == 0x20);
  BOOST_TEST(address.bytes[1] == 0x01);
  BOOST_TEST(address.bytes[15] == 0x01);
  BOOST_TEST(address.ToString() == "2001:db8::1");
  BOOST_TEST(Ip("::").ToString() == "::");
}

BOOST_AUTO_TEST_CASE(RejectsWhatIsNotAnAddress) {
  for (const char* text : {"", "256.0.0.1", "1.2.3", "01.2.3.4", " 1.2.3.4", "1.2.3.4 ",
                           "example.test", "::1%lo", "2001:db8::1::2", "[::1]"}) {
    BOOST_TEST(!IpAddress::Parse(text).has_value(), "\"" << text << "\" parsed");
  }
}

BOOST_AUTO_TEST_CASE(MappedIpv4IsShownAndUnmappedAsIpv4) {
  IpAddress mapped = Ip("::ffff:192.0.2.1");
  BOOST_TEST(mapped.family == AF_INET6);
  BOOST_TEST(mapped.ToString() == "192.0.2.1");
  BOOST_TEST((mapped.Unmapped() == Ip("192.0.2.1")));
}

BOOST_AUTO_TEST_CASE(UnmappedLeavesOtherAddressesAlone) {
  for (const char* text : {"::1", "::192.0.2.1", "2001:db8::ffff:192.0.2.1", "192.0.2.1"}) {
    BOOST_TEST((Ip(text).Unmapped() == Ip(text)), text);
  }
}

BOOST_AUTO_TEST_CASE(FromSockaddrReadsBothFamilies) {
  struct sockaddr_in in {};
  in.sin_family = AF_INET;
  in.sin_port = htons(25);
  inet_pton(AF_INET, "198.51.100.7", &in.sin_addr);
  std::optional<IpAddress> v4 = IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&in));
  BOOST_REQUIRE(v4.has_value());
  BOOST_TEST(v4->ToString() == "198.51.100.7");

  struct sockaddr_in6 in6 {};
  in6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8::25", &in6.sin6_addr);
  std::optional<IpAddress> v6 = IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&in6));
  BOOST_REQUIRE(v6.has_value());
  BOOST_TEST(v6->family == AF_INET6);
  BOOST_TEST(v6->ToString() == "2001:db8::25");

  struct sockaddr_un un {};
  un.sun_family = AF_UNIX;
  BOOST_TEST(!IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&un)).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(NetworkTest)

BOOST_AUTO_TEST_CASE(MatchesOnByteBoundaries) {
  Network network = Net("10.0.0.0/8");
  BOOST_TEST(network.prefix_length == 8);
  BOOST_TEST(network.Contains(Ip("10.0.0.0")));
  BOOST_TEST(network.Contains(Ip("10.255.255.255")));
  BOOST_TEST(!network.Contains(Ip("11.0.0.0")));
  BOOST_TEST(!network.Contains(Ip("9.255.255.255")));
}

BOOST_AUTO_TEST_CASE(MatchesInsideAByte) {
  Network v4 = Net("192.0.2.128/25");
  BOOST_TEST(v4.Contains(Ip("192.0.2.128")));
  BOOST_TEST(v4.Contains(Ip("192.0.2.255")));
  BOOST_TEST(!v4.Contains(Ip("192.0.2.127")));
  Network wide = Net("172.16.0.0/12");
  BOOST_TEST(wide.Contains(Ip("172.31.255.255")));
  BOOST_TEST(!wide.Contains(Ip("172.32.0.0")));
  Network v6 = Net("2001:db8::/33");
  BOOST_TEST(v6.Contains(Ip("2001:db8:7fff::1")));
  BOOST_TEST(!v6.Contains(Ip("2001:db8:8000::1")));
}

BOOST_AUTO_TEST_CASE(BareAddressIsAHostNetwork) {
  Network v4 = Net("192.0.2.1");
  BOOST_TEST(v4.prefix_length == 32);
  BOOST_TEST(v4.Contains(Ip("192.0.2.1")));
  BOOST_TEST(!v4.Contains(Ip("192.0.2.2")));
  BOOST_TEST(v4.ToString() == "192.0.2.1/32");
  Network v6 = Net("::1");
  BOOST_TEST(v6.prefix_length == 128);
  BOOST_TEST(v6.Contains(Ip("::1")));
  BOOST_TEST(!v6.Contains(Ip("::2")));
  BOOST_TEST(v6.ToString() == "::1/128");
}

BOOST_AUTO_TEST_CASE(ZeroPrefixMatchesItsWholeFamilyOnly) {
  Network any_v4 = Net("0.0.0.0/0");
  Network any_v6 = Net("::/0");
  BOOST_TEST(any_v4.Contains(Ip("203.0.113.9")));
  BOOST_TEST(!any_v4.Contains(Ip("2001:db8::1")));
  BOOST_TEST(any_v6.Contains(Ip("2001:db8::1")));
  BOOST_TEST(!any_v6.Contains(Ip("203.0.113.9")));
}

BOOST_AUTO_TEST_CASE(MappedClientMatchesIpv4Networks) {
  // A client that reaches an IPv6 socket over IPv4 is an IPv4 client.
  IpAddress client = Ip("::ffff:10.1.2.3");
  BOOST_TEST(Net("10.0.0.0/8").Contains(client));
  BOOST_TEST(Net("10.1.2.3").Contains(client));
  BOOST_TEST(!Net("11.0.0.0/8").Contains(client));
  BOOST_TEST(!Net("::/0").Contains(client));
  // ::10.1.2.3 is an IPv4-compatible address, not a mapped one.
  BOOST_TEST(!Net("10.0.0.0/8").Contains(Ip("::10.1.2.3")));
}

BOOST_AUTO_TEST_CASE(MappedNetworkIsStoredAsIpv4) {
  Network network = Net("::ffff:10.0.0.0/104");
  BOOST_TEST(network.ToString() == "10.0.0.0/8");
  BOOST_TEST(network.Contains(Ip("10.9.9.9")));
  BOOST_TEST(network.Contains(Ip("::ffff:10.9.9.9")));
}

BOOST_AUTO_TEST_CASE(ToStringIsCanonical) {
  BOOST_TEST(Net("127.0.0.0/8").ToString() == "127.0.0.0/8");
  BOOST_TEST(Net("2001:DB8:0:0::/32").ToString() == "2001:db8::/32");
  BOOST_TEST(Net("::/0").ToString() == "::/0");
}

BOOST_AUTO_TEST_CASE(ErrorsSayWhatIsWrong) {
  BOOST_TEST(NetworkError("10.0.0.0/33") ==
             "\"10.0.0.0/33\" is not an IP network: prefix length \"33\" is not a number from 0 "
             "to 32");
  BOOST_TEST(NetworkError("::/129") ==
             "\"::/129\" is not an IP network: prefix length \"129\" is not a number from 0 to "
             "128");
  BOOST_TEST(NetworkError("10.0.0.0/") ==
             "\"10.0.0.0/\" is not an IP network: prefix length \"\" is not a number from 0 to 32");
  BOOST_TEST(NetworkError("10.0.0.0/-8") ==
             "\"10.0.0.0/-8\" is not an IP network: prefix length \"-8\" is not a number from 0 "
             "to 32");
  BOOST_TEST(NetworkError("intranet/8") ==
             "\"intranet/8\" is not an IP network: \"intranet\" is not an IPv4 or IPv6 address");
  BOOST_TEST(NetworkError("10.1.2.3/8") ==
             "\"10.1.2.3/8\" has bits set after the prefix length (did you mean 10.0.0.0/8?)");
  BOOST_TEST(NetworkError("2001:db8::1/32") ==
             "\"2001:db8::1/32\" has bits set after the prefix length (did you mean "
             "2001:db8::/32?)");
}

BOOST_AUTO_TEST_CASE(AnyContainsChecksEveryNetwork) {
  std::vector<Network> networks = {Net("127.0.0.0/8"), Net("::1/128")};
  BOOST_TEST(AnyContains(networks, Ip("127.0.0.1")));
  BOOST_TEST(AnyContains(networks, Ip("::1")));
  BOOST_TEST(AnyContains(networks, Ip("::ffff:127.0.0.1")));
  BOOST_TEST(!AnyContains(networks, Ip("192.0.2.1")));
  BOOST_TEST(!AnyContains({}, Ip("127.0.0.1")));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(BindAddressTest)

BOOST_AUTO_TEST_CASE(ParsesIpv4AndBracketedIpv6) {
  Result<BindAddress> v4 = BindAddress::Parse("127.0.0.1:2525");
  BOOST_REQUIRE(v4.ok());
  BOOST_TEST((v4->address == Ip("127.0.0.1")));
  BOOST_TEST(v4->port == 2525);
  BOOST_TEST(v4->ToString() == "127.0.0.1:2525");

  Result<BindAddress> v6 = BindAddress::Parse("[::1]:2525");
  BOOST_REQUIRE(v6.ok());
  BOOST_TEST((v6->address == Ip("::1")));
  BOOST_TEST(v6->port == 2525);
  BOOST_TEST(v6->ToString() == "[::1]:2525");

  for (const char* text : {"0.0.0.0:25", "[::]:587", "127.0.0.1:0", "[2001:db8::1]:65535"}) {
    Result<BindAddress> bind = BindAddress::Parse(text);
    BOOST_REQUIRE_MESSAGE(bind.ok(), bind.status().message());
    BOOST_TEST(bind->ToString() == text);
  }
}

BOOST_AUTO_TEST_CASE(MappedBindAddressStaysIpv6) {
  Result<BindAddress> bind = BindAddress::Parse("[::ffff:127.0.0.1]:25");
  BOOST_REQUIRE(bind.ok());
  BOOST_TEST(bind->address.family == AF_INET6);
  BOOST_TEST(bind->ToString() == "[::ffff:127.0.0.1]:25");
}

BOOST_AUTO_TEST_CASE(ErrorsSayWhatIsWrong) {
  BOOST_TEST(BindError("127.0.0.1") ==
             "\"127.0.0.1\" is not a bind address: expected ADDRESS:PORT or [IPV6-ADDRESS]:PORT");
  BOOST_TEST(BindError("::1:25") ==
             "\"::1:25\" is not a bind address: write an IPv6 address in brackets, as in "
             "[::1]:25");
  BOOST_TEST(BindError("127.0.0.1:65536") ==
             "\"127.0.0.1:65536\" is not a bind address: port \"65536\" is not a number from 0 "
             "to 65535");
  BOOST_TEST(BindError("127.0.0.1:") ==
             "\"127.0.0.1:\" is not a bind address: port \"\" is not a number from 0 to 65535");
  BOOST_TEST(BindError("127.0.0.1:smtp") ==
             "\"127.0.0.1:smtp\" is not a bind address: port \"smtp\" is not a number from 0 "
             "to 65535");
  BOOST_TEST(BindError("mail.example.test:25") ==
             "\"mail.example.test:25\" is not a bind address: \"mail.example.test\" is not an "
             "IPv4 or IPv6 address");
  BOOST_TEST(BindError("[::1]") == "\"[::1]\" is not a bind address: expected [IPV6-ADDRESS]:PORT");
  BOOST_TEST(BindError("[::1:25") ==
             "\"[::1:25\" is not a bind address: expected [IPV6-ADDRESS]:PORT");
}

BOOST_AUTO_TEST_CASE(ToSockaddrFillsIpv4) {
  Result<BindAddress> bind = BindAddress::Parse("192.0.2.10:2525");
  BOOST_REQUIRE(bind.ok());
  struct sockaddr_storage storage;
  socklen_t length = bind->ToSockaddr(&storage);
  BOOST_TEST(length == sizeof(struct sockaddr_in));
  const auto* in = reinterpret_cast<const struct sockaddr_in*>(&storage);
  BOOST_TEST(in->sin_family == AF_INET);
  BOOST_TEST(ntohs(in->sin_port) == 2525);
  char text[INET_ADDRSTRLEN];
  BOOST_TEST(std::string(inet_ntop(AF_INET, &in->sin_addr, text, sizeof text)) == "192.0.2.10");
}

BOOST_AUTO_TEST_CASE(ToSockaddrFillsIpv6) {
  Result<BindAddress> bind = BindAddress::Parse("[2001:db8::25]:587");
  BOOST_REQUIRE(bind.ok());
  struct sockaddr_storage storage;
  socklen_t length = bind->ToSockaddr(&storage);
  BOOST_TEST(length == sizeof(struct sockaddr_in6));
  const auto* in6 = reinterpret_cast<const struct sockaddr_in6*>(&storage);
  BOOST_TEST(in6->sin6_family == AF_INET6);
  BOOST_TEST(ntohs(in6->sin6_port) == 587);
  BOOST_TEST(in6->sin6_scope_id == 0u);
  char text[INET6_ADDRSTRLEN];
  BOOST_TEST(std::string(inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text)) ==
             "2001:db8::25");
  std::optional<IpAddress> back = IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&storage));
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST((*back == bind->address));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
