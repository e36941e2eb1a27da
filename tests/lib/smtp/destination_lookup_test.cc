// tests/lib/smtp/destination_lookup_test.cc — lib/smtp/destination_lookup.h: a
// destination's plan found over a fake DNS server on 127.0.0.1 (MX, then
// AAAA and A of the exchanger), a failure, and cancelling.
#include "lib/smtp/destination_lookup.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tests/lib/net/fake_dns_server.h"

namespace postern {
namespace {

using namespace std::string_literals;

// example.test MX 10 mx1.example.test; mx1.example.test AAAA ::1 and A
// 127.0.0.1; no answer at all for silent.test; anything else NXDOMAIN.
std::vector<std::string> ExampleZone(const FakeDnsServer::Query& q) {
  std::string name = DnsQuestionName(q);
  int type = DnsQuestionType(q);
  const std::string fixed = "\xc0\x0c"s;
  if (name == "example.test" && type == 15)
    return {DnsReply(q, 0, 1,
                     fixed + "\x00\x0f\x00\x01\x00\x00\x0e\x10\x00\x14\x00\x0a"
                             "\x03mx1\x07"
                             "example\x04test\x00"s)};
  if (name == "mx1.example.test" && type == 28)
    return {DnsReply(
        q, 0, 1,
        fixed + "\x00\x1c\x00\x01\x00\x00\x0e\x10\x00\x10"s + std::string(15, '\0') + "\x01")};
  if (name == "mx1.example.test" && type == 1)
    return {DnsReply(q, 0, 1, fixed + "\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\x7f\x00\x00\x01"s)};
  if (name == "silent.test") return {};
  return {DnsReply(q, 3)};
}

struct Fixture {
  Fixture()
      : base(event_base_new()),
        server(base.get(), ExampleZone),
        dns(base.get(), {server.address()}, std::chrono::seconds(2), 1),
        lookup(base.get(), &dns, [] { return uint64_t{7}; }) {}

  DestinationPlan Find(const std::string& domain) {
    std::optional<DestinationPlan> plan;
    lookup.Find({domain, {}, "mail.postern.test", 0},
                [&plan](DestinationPlan p) { plan = std::move(p); });
    BOOST_TEST(!plan.has_value());  // never from inside Find()
    for (int i = 0; i < 100 && !plan; ++i) event_base_loop(base.get(), EVLOOP_ONCE);
    BOOST_REQUIRE(plan.has_value());
    return *plan;
  }

  EventBasePtr base;
  FakeDnsServer server;
  MxLookup dns;
  DestinationLookup lookup;
};

BOOST_FIXTURE_TEST_SUITE(destination_lookup, Fixture)

BOOST_AUTO_TEST_CASE(mx_then_the_exchangers_addresses) {
  DestinationPlan plan = Find("example.test");
  BOOST_REQUIRE_MESSAGE(plan.ok(), (plan.ok() ? "" : plan.failure->ToString()));
  BOOST_REQUIRE(plan.targets.size() == 2u);
  BOOST_TEST(plan.targets[0].ToString() == "mx1.example.test[::1]:25");
  BOOST_TEST(plan.targets[1].ToString() == "mx1.example.test[127.0.0.1]:25");
  // One MX question, then AAAA and A together.
  BOOST_TEST(server.queries.size() == 3u);
  BOOST_TEST(lookup.outstanding() == 0u);
}

BOOST_AUTO_TEST_CASE(a_domain_that_does_not_exist) {
  DestinationPlan plan = Find("nowhere.test");
  BOOST_REQUIRE(plan.failure.has_value());
  BOOST_TEST(plan.failure->enhanced == "5.1.2");
  BOOST_TEST(plan.failure->text == "Host or domain name not found: nowhere.test does not exist (" +
                                       server.address().ToString() + " answered NXDOMAIN)");
}

BOOST_AUTO_TEST_CASE(a_relayhost_address_needs_no_dns_and_still_answers_from_the_loop) {
  std::optional<DestinationPlan> plan;
  lookup.Find({"example.test", {*NextHop::Parse("[127.0.0.1]:2526")}, "mail.postern.test", 0},
              [&plan](DestinationPlan p) { plan = std::move(p); });
  BOOST_TEST(!plan.has_value());
  event_base_loop(base.get(), EVLOOP_NONBLOCK);
  BOOST_REQUIRE(plan.has_value());
  BOOST_REQUIRE(plan->targets.size() == 1u);
  BOOST_TEST(plan->targets[0].ToString() == "127.0.0.1[127.0.0.1]:2526");
  BOOST_TEST(server.queries.empty());
}

BOOST_AUTO_TEST_CASE(a_cancelled_search_never_calls_back) {
  bool called = false;
  DestinationLookup::SearchId id = lookup.Find({"silent.test", {}, "mail.postern.test", 0},
                                               [&called](DestinationPlan) { called = true; });
  for (int i = 0; i < 5 && server.queries.empty(); ++i)
    event_base_loop(base.get(), EVLOOP_NONBLOCK);
  BOOST_TEST(server.queries.size() == 1u);  // the MX question is out
  BOOST_TEST(dns.outstanding() == 1u);
  lookup.Cancel(id);
  BOOST_TEST(dns.outstanding() == 0u);
  BOOST_TEST(lookup.outstanding() == 0u);
  for (int i = 0; i < 5; ++i) event_base_loop(base.get(), EVLOOP_NONBLOCK);
  BOOST_TEST(!called);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
