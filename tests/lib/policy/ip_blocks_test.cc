// tests/lib/policy/ip_blocks_test.cc — IPAddressNotAllowed decisions (MS-OXSMTP 3.2.7).
#define BOOST_TEST_DYN_LINK
#include "lib/policy/ip_blocks.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <fstream>

using namespace postern;

namespace {

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }
Network Net(const char* text) { return *Network::Parse(text); }

ListenerConfig Gateway() {
  ListenerConfig l;
  l.name = "smtp";
  l.role = Role::kGateway;
  return l;
}

// Typed from MS-OXSMTP 3.2.7, IPAddressNotAllowed.
std::string StaticReply(const std::string& ip) {
  return "550 5.7.1 External client with IP address " + ip +
         " does not have permissions to submit to this server. Visit "
         "http://support.microsoft.com/kb/928123 for more information\r\n";
}
std::string DynamicReply(const std::string& ip) {
  return "550 5.7.1 External client with IP address " + ip +
         " does not have permissions to submit to this server\r\n";
}
const char kBlockListReply[] =
    "550 5.7.1 Recipient not authorized, your IP has been found on a block list\r\n";

const WallTime kWallNow{std::chrono::seconds(1800000000)};

}  // namespace

BOOST_AUTO_TEST_SUITE(ip_blocks)

BOOST_AUTO_TEST_CASE(static_block_names_the_client_address) {
  ListenerConfig l = Gateway();
  l.blocked_networks = {Net("192.0.2.0/24"), Net("2001:db8::/32")};
  FakeClock clock;
  DynamicBlocks dynamic(&clock);
  BOOST_TEST(BlockedReply(l, Ip("192.0.2.7"), dynamic, {}) == StaticReply("192.0.2.7"));
  BOOST_TEST(BlockedReply(l, Ip("::ffff:192.0.2.7"), dynamic, {}) == StaticReply("192.0.2.7"));
  BOOST_TEST(BlockedReply(l, Ip("2001:db8::5"), dynamic, {}) == StaticReply("2001:db8::5"));
  BOOST_TEST(BlockedReply(l, Ip("192.0.3.7"), dynamic, {}) == "");
  BOOST_TEST(BlockedReply(l, Ip("2001:db9::5"), dynamic, {}) == "");
}

BOOST_AUTO_TEST_CASE(dynamic_block_has_its_own_reply_and_expires) {
  ListenerConfig l = Gateway();
  FakeClock clock;
  DynamicBlocks dynamic(&clock);
  dynamic.Add(Net("127.0.0.2"), std::chrono::seconds(10));
  dynamic.Add(Net("2001:db8::/64"), std::nullopt);
  BOOST_TEST(BlockedReply(l, Ip("127.0.0.2"), dynamic, {}) == DynamicReply("127.0.0.2"));
  BOOST_TEST(BlockedReply(l, Ip("127.0.0.3"), dynamic, {}) == "");
  BOOST_TEST(BlockedReply(l, Ip("2001:db8::1:2"), dynamic, {}) == DynamicReply("2001:db8::1:2"));
  clock.Advance(std::chrono::milliseconds(9999));
  BOOST_TEST(dynamic.Contains(Ip("127.0.0.2")));
  clock.Advance(std::chrono::milliseconds(1));
  BOOST_TEST(!dynamic.Contains(Ip("127.0.0.2")));
  BOOST_TEST(BlockedReply(l, Ip("127.0.0.2"), dynamic, {}) == "");
  BOOST_TEST(dynamic.List().size() == 1u);
  clock.Advance(std::chrono::hours(24 * 365));
  BOOST_TEST(dynamic.Contains(Ip("2001:db8::ffff")));
}

BOOST_AUTO_TEST_CASE(static_block_wins_over_dynamic) {
  ListenerConfig l = Gateway();
  l.blocked_networks = {Net("127.0.0.0/8")};
  FakeClock clock;
  DynamicBlocks dynamic(&clock);
  dynamic.Add(Net("127.0.0.2"), std::nullopt);
  BOOST_TEST(BlockedReply(l, Ip("127.0.0.2"), dynamic, {}) == StaticReply("127.0.0.2"));
}

BOOST_AUTO_TEST_CASE(adding_again_replaces_the_expiry_and_remove_ends_it) {
  FakeClock clock;
  DynamicBlocks dynamic(&clock);
  dynamic.Add(Net("10.0.0.0/8"), std::chrono::seconds(5));
  dynamic.Add(Net("10.0.0.0/8"), std::nullopt);
  BOOST_TEST(dynamic.List().size() == 1u);
  clock.Advance(std::chrono::seconds(6));
  BOOST_TEST(dynamic.Contains(Ip("10.1.2.3")));
  BOOST_TEST(!dynamic.Remove(Net("10.0.0.0/16")));
  BOOST_TEST(dynamic.Remove(Net("10.0.0.0/8")));
  BOOST_TEST(!dynamic.Contains(Ip("10.1.2.3")));
}

BOOST_AUTO_TEST_CASE(mapped_block_matches_ipv4_client) {
  FakeClock clock;
  DynamicBlocks dynamic(&clock);
  dynamic.Add(Net("::ffff:127.0.0.9"), std::nullopt);
  BOOST_TEST(dynamic.Contains(Ip("127.0.0.9")));
  BOOST_TEST(dynamic.List().front().network.ToString() == "127.0.0.9/32");
}

BOOST_AUTO_TEST_CASE(relay_listener_is_exempt) {
  ListenerConfig l = Gateway();
  l.role = Role::kRelay;
  l.blocked_networks = {Net("0.0.0.0/0")};
  l.block_list = {"/etc/blocked"};
  FakeClock clock;
  DynamicBlocks dynamic(&clock);
  dynamic.Add(Net("127.0.0.2"), std::nullopt);
  BlockListFiles files{{"/etc/blocked", {Net("127.0.0.0/8")}}};
  BOOST_TEST(BlockedReply(l, Ip("127.0.0.2"), dynamic, files) == "");
}

BOOST_AUTO_TEST_CASE(block_list_file_listing_gets_block_list_reply) {
  ListenerConfig l = Gateway();
  l.block_list = {"/etc/postern/bad", "dnsbl.example.test"};
  FakeClock clock;
  DynamicBlocks dynamic(&clock);
  BlockListFiles files{{"/etc/postern/bad", {Net("198.51.100.0/24"), Net("2001:db8::7")}},
                       {"/etc/postern/other", {Net("203.0.113.1")}}};
  BOOST_TEST(BlockedReply(l, Ip("198.51.100.200"), dynamic, files) == kBlockListReply);
  BOOST_TEST(BlockedReply(l, Ip("2001:db8::7"), dynamic, files) == kBlockListReply);
  // Listed only in a file this listener does not name.
  BOOST_TEST(BlockedReply(l, Ip("203.0.113.1"), dynamic, files) == "");
  BOOST_TEST(BlockListReply() == kBlockListReply);
}

BOOST_AUTO_TEST_CASE(block_list_file_syntax) {
  auto parsed =
      ParseBlockListFile("# spammers\n\n192.0.2.1\n  10.0.0.0/8  # whole net\n::1\n", "/etc/bl");
  BOOST_TEST_REQUIRE(parsed.ok());
  BOOST_TEST(parsed->size() == 3u);
  BOOST_TEST((*parsed)[1].ToString() == "10.0.0.0/8");
  auto bad = ParseBlockListFile("192.0.2.1\n\n10.0.0.1/8\n", "/etc/bl");
  BOOST_TEST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.status().message().rfind("/etc/bl:3: ", 0) == 0, bad.status().message());
  auto junk = ParseBlockListFile("hello\n", "/etc/bl");
  BOOST_TEST(junk.status().message().rfind("/etc/bl:1: ", 0) == 0, junk.status().message());
}

BOOST_AUTO_TEST_CASE(block_list_files_are_read_from_their_paths) {
  char dir[] = "/tmp/ip_blocks_test.XXXXXX";
  BOOST_TEST_REQUIRE(mkdtemp(dir) != nullptr);
  std::string path = std::string(dir) + "/list";
  std::ofstream(path) << "127.0.0.5\n";
  Config config;
  config.listeners.push_back(Gateway());
  config.listeners.back().block_list = {path, "zone.example"};
  auto files = ReadBlockListFiles(config);
  BOOST_TEST_REQUIRE(files.ok());
  BOOST_TEST(files->size() == 1u);
  BOOST_TEST(files->at(path).front().ToString() == "127.0.0.5/32");
  config.listeners.back().block_list = {std::string(dir) + "/missing"};
  auto missing = ReadBlockListFiles(config);
  BOOST_TEST(!missing.ok());
  BOOST_TEST(missing.status().message().find("/missing") != std::string::npos);
  unlink(path.c_str());
  rmdir(dir);
}

BOOST_AUTO_TEST_CASE(zones_are_the_words_that_are_not_paths) {
  ListenerConfig l = Gateway();
  l.block_list = {"/var/lib/bl", "zen.example.test", "dnsbl.example"};
  BOOST_TEST((DnsblZones(l) == std::vector<std::string>{"zen.example.test", "dnsbl.example"}));
}

BOOST_AUTO_TEST_CASE(rfc5782_query_names) {
  // RFC 5782 2.1: 192.0.2.99 is queried as 99.2.0.192.
  BOOST_TEST(DnsblQueryName(Ip("192.0.2.99"), "bl.example") == "99.2.0.192.bl.example");
  BOOST_TEST(DnsblQueryName(Ip("127.0.0.2"), "zone.test") == "2.0.0.127.zone.test");
  BOOST_TEST(DnsblQueryName(Ip("::ffff:127.0.0.2"), "zone.test") == "2.0.0.127.zone.test");
  // RFC 5782 2.4's example address.
  BOOST_TEST(DnsblQueryName(Ip("2001:db8:1:2:3:4:567:89ab"), "ugly.example") ==
             "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example");
}

BOOST_AUTO_TEST_CASE(only_loopback_answers_list) {
  BOOST_TEST(DnsblAnswerLists(inet_addr("127.0.0.2")));
  BOOST_TEST(DnsblAnswerLists(inet_addr("127.255.0.10")));
  BOOST_TEST(!DnsblAnswerLists(inet_addr("128.0.0.2")));
  BOOST_TEST(!DnsblAnswerLists(inet_addr("10.0.0.127")));
}

// Decisions smtpd takes before the banner (master, as root, parses no DNS
// reply): which names to ask, what a reply means, when the verdict is in.
BOOST_AUTO_TEST_CASE(gateway_asks_each_zone_relay_asks_none) {
  ListenerConfig l = Gateway();
  l.block_list = {"/var/lib/bl", "zen.example.test", "dnsbl.example"};
  BOOST_TEST((DnsblQueries(l, Ip("192.0.2.99")) ==
              std::vector<std::string>{"99.2.0.192.zen.example.test", "99.2.0.192.dnsbl.example"}));
  l.role = Role::kRelay;
  BOOST_TEST(DnsblQueries(l, Ip("192.0.2.99")).empty());
  ListenerConfig files_only = Gateway();
  files_only.block_list = {"/var/lib/bl"};
  BOOST_TEST(DnsblQueries(files_only, Ip("192.0.2.99")).empty());
}

BOOST_AUTO_TEST_CASE(a_reply_lists_only_with_a_loopback_record) {
  BOOST_TEST((ClassifyDnsblReply(DNS_ERR_NONE, {inet_addr("127.0.0.2")}) == DnsblAnswer::kListed));
  BOOST_TEST((ClassifyDnsblReply(DNS_ERR_NONE, {inet_addr("10.0.0.1"), inet_addr("127.0.0.4")}) ==
              DnsblAnswer::kListed));
  BOOST_TEST(
      (ClassifyDnsblReply(DNS_ERR_NONE, {inet_addr("10.0.0.1")}) == DnsblAnswer::kNotListed));
  BOOST_TEST((ClassifyDnsblReply(DNS_ERR_NONE, {}) == DnsblAnswer::kNotListed));
  BOOST_TEST((ClassifyDnsblReply(DNS_ERR_NOTEXIST, {}) == DnsblAnswer::kNotListed));
  // Fail open: a zone that does not answer lets the client in.
  BOOST_TEST((ClassifyDnsblReply(DNS_ERR_TIMEOUT, {}) == DnsblAnswer::kFailed));
  BOOST_TEST((ClassifyDnsblReply(DNS_ERR_SERVERFAILED, {}) == DnsblAnswer::kFailed));
}

BOOST_AUTO_TEST_CASE(the_verdict_waits_for_every_zone) {
  DnsblVerdict verdict(3);
  verdict.Add(DnsblAnswer::kListed);
  BOOST_TEST(!verdict.done());
  BOOST_TEST(!verdict.listed());
  verdict.Add(DnsblAnswer::kFailed);
  verdict.Add(DnsblAnswer::kNotListed);
  BOOST_TEST(verdict.done());
  BOOST_TEST(verdict.listed());

  DnsblVerdict clean(2);
  clean.Add(DnsblAnswer::kFailed);
  clean.Add(DnsblAnswer::kNotListed);
  BOOST_TEST(clean.done());
  BOOST_TEST(!clean.listed());

  BOOST_TEST(DnsblVerdict(0).done());
  BOOST_TEST(!DnsblVerdict(0).listed());
}

BOOST_AUTO_TEST_CASE(persisted_blocks_survive_a_restart) {
  FakeClock clock;
  DynamicBlocks dynamic(&clock);
  dynamic.Add(Net("127.0.0.2"), std::chrono::seconds(90));
  dynamic.Add(Net("2001:db8::/48"), std::nullopt);
  dynamic.Add(Net("10.0.0.1"), std::chrono::seconds(1));
  clock.Advance(std::chrono::seconds(2));
  std::string text = dynamic.Serialize(kWallNow);
  BOOST_TEST(text.find("127.0.0.2/32 1800000088\n") != std::string::npos, text);
  BOOST_TEST(text.find("2001:db8::/48 permanent\n") != std::string::npos, text);
  BOOST_TEST(text.find("10.0.0.1") == std::string::npos, text);

  // A new process: another clock, 30 s later on the wall.
  FakeClock later;
  DynamicBlocks loaded(&later);
  BOOST_TEST_REQUIRE(loaded.Load(text, "blocks", kWallNow + std::chrono::seconds(30)).ok());
  BOOST_TEST(loaded.List().size() == 2u);
  later.Advance(std::chrono::seconds(57));
  BOOST_TEST(loaded.Contains(Ip("127.0.0.2")));
  later.Advance(std::chrono::seconds(1));
  BOOST_TEST(!loaded.Contains(Ip("127.0.0.2")));
  BOOST_TEST(loaded.Contains(Ip("2001:db8:0:1::1")));

  // Blocks that expired while postern was down are dropped.
  DynamicBlocks much_later(&later);
  BOOST_TEST_REQUIRE(much_later.Load(text, "blocks", kWallNow + std::chrono::hours(1)).ok());
  BOOST_TEST(much_later.List().size() == 1u);
}

BOOST_AUTO_TEST_CASE(bad_persisted_line_names_the_line) {
  FakeClock clock;
  DynamicBlocks dynamic(&clock);
  dynamic.Add(Net("127.0.0.2"), std::nullopt);
  Status s = dynamic.Load("# c\n127.0.0.3 permanent\n127.0.0.4 soon\n", "/s/blocks", kWallNow);
  BOOST_TEST(!s.ok());
  BOOST_TEST(s.message().rfind("/s/blocks:3: ", 0) == 0, s.message());
  // Unchanged after the failed load.
  BOOST_TEST(dynamic.Contains(Ip("127.0.0.2")));
  BOOST_TEST(!dynamic.Contains(Ip("127.0.0.3")));
}

BOOST_AUTO_TEST_SUITE_END()
