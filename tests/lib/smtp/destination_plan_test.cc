// tests/lib/smtp/destination_plan_test.cc — lib/smtp/destination_plan.h with DNS answers
// given by hand: relayhost fail-over, MX order and shuffling, implicit and
// null MX, NXDOMAIN, temporary failures, loops, caps.
#include "lib/smtp/destination_plan.h"

#include <boost/test/unit_test.hpp>
#include <set>
#include <string>
#include <vector>

namespace postern {
namespace {

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

DnsLookupResult Addresses(std::vector<const char*> texts) {
  std::vector<IpAddress> addresses;
  for (const char* text : texts) addresses.push_back(Ip(text));
  return DnsLookupResult::Addresses(addresses);
}

// host AAAA and A records at once.
void AddHost(DnsAnswers* answers, const std::string& host, std::vector<const char*> v6,
             std::vector<const char*> v4) {
  (*answers)[{host, DnsType::kAaaa}] = Addresses(v6);
  (*answers)[{host, DnsType::kA}] = Addresses(v4);
}

DestinationRequest ForDomain(const std::string& domain, uint64_t seed = 0) {
  return DestinationRequest{domain, {}, "mail.postern.test", seed};
}

DestinationRequest ViaRelayhosts(std::vector<std::string> hops) {
  DestinationRequest request = ForDomain("example.test");
  for (const std::string& hop : hops) request.relayhosts.push_back(*NextHop::Parse(hop));
  return request;
}

std::vector<std::string> Names(const std::vector<DnsQuestion>& questions) {
  std::vector<std::string> names;
  for (const DnsQuestion& q : questions)
    names.push_back(q.name + "/" + std::string(DnsTypeName(q.type)));
  return names;
}

std::vector<std::string> Targets(const DestinationPlan& plan) {
  std::vector<std::string> targets;
  for (const Target& t : plan.targets) targets.push_back(t.ToString());
  return targets;
}

// The plan once every question asked has its answer in answers.
DestinationPlan Plan(const DestinationRequest& request, const DnsAnswers& answers) {
  PlanningStep step = PlanDestination(request, answers);
  BOOST_REQUIRE_MESSAGE(step.questions.empty(),
                        "unanswered: " << (step.questions.empty() ? "" : step.questions[0].name));
  return step.plan;
}

void CheckFailure(const DestinationPlan& plan, const std::string& enhanced,
                  const std::string& text) {
  BOOST_TEST(plan.targets.empty());
  BOOST_REQUIRE(plan.failure.has_value());
  BOOST_TEST(plan.failure->code == 0);
  BOOST_TEST(plan.failure->enhanced == enhanced);
  BOOST_TEST(plan.failure->text == text);
}

using V = std::vector<std::string>;

BOOST_AUTO_TEST_SUITE(destination_plan)

BOOST_AUTO_TEST_CASE(mx_hosts_by_preference_with_ipv6_first) {
  DestinationRequest request = ForDomain("example.test");
  DnsAnswers answers;
  BOOST_TEST(Names(PlanDestination(request, answers).questions) == V{"example.test/MX"});
  answers[{"example.test", DnsType::kMx}] =
      DnsLookupResult::Mx({{20, "mx2.example.test"}, {10, "mx1.example.test"}});
  BOOST_TEST(Names(PlanDestination(request, answers).questions) ==
             (V{"mx1.example.test/AAAA", "mx1.example.test/A", "mx2.example.test/AAAA",
                "mx2.example.test/A"}));
  AddHost(&answers, "mx1.example.test", {"2001:db8::1"}, {"192.0.2.1", "192.0.2.11"});
  AddHost(&answers, "mx2.example.test", {}, {"192.0.2.2"});
  DestinationPlan plan = Plan(request, answers);
  BOOST_TEST(plan.ok());
  BOOST_TEST(Targets(plan) ==
             (V{"mx1.example.test[2001:db8::1]:25", "mx1.example.test[192.0.2.1]:25",
                "mx1.example.test[192.0.2.11]:25", "mx2.example.test[192.0.2.2]:25"}));
}

BOOST_AUTO_TEST_CASE(equal_preferences_are_shuffled_by_the_seed_and_the_seed_is_kept) {
  std::set<std::string> firsts;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    DestinationRequest request = ForDomain("example.test", seed);
    DnsAnswers answers;
    answers[{"example.test", DnsType::kMx}] = DnsLookupResult::Mx(
        {{20, "z.example.test"}, {10, "x.example.test"}, {10, "y.example.test"}});
    AddHost(&answers, "x.example.test", {}, {"192.0.2.1"});
    AddHost(&answers, "y.example.test", {}, {"192.0.2.2"});
    AddHost(&answers, "z.example.test", {}, {"192.0.2.3"});
    DestinationPlan plan = Plan(request, answers);
    BOOST_REQUIRE(plan.targets.size() == 3u);
    BOOST_TEST(plan.targets[2].host == "z.example.test");
    firsts.insert(plan.targets[0].host);
    BOOST_TEST((Plan(request, answers) == plan));  // the same seed, the same order
  }
  BOOST_TEST((firsts == std::set<std::string>{"x.example.test", "y.example.test"}));
}

BOOST_AUTO_TEST_CASE(no_mx_records_means_the_domain_itself) {
  DestinationRequest request = ForDomain("example.test");
  DnsAnswers answers;
  answers[{"example.test", DnsType::kMx}] = DnsLookupResult::Mx({});
  BOOST_TEST(Names(PlanDestination(request, answers).questions) ==
             (V{"example.test/AAAA", "example.test/A"}));
  AddHost(&answers, "example.test", {}, {"192.0.2.80"});
  BOOST_TEST(Targets(Plan(request, answers)) == V{"example.test[192.0.2.80]:25"});

  AddHost(&answers, "example.test", {}, {});
  CheckFailure(Plan(request, answers), "5.1.2",
               "Host or domain name not found: example.test has no MX, AAAA or A record");
}

BOOST_AUTO_TEST_CASE(the_mx_port_is_used_for_mx_hosts_and_the_implicit_mx_only) {
  DestinationRequest request = ForDomain("example.test");
  request.mx_port = 2525;
  DnsAnswers answers;
  answers[{"example.test", DnsType::kMx}] = DnsLookupResult::Mx({{10, "mx1.example.test"}});
  AddHost(&answers, "mx1.example.test", {}, {"192.0.2.1"});
  BOOST_TEST(Targets(Plan(request, answers)) == V{"mx1.example.test[192.0.2.1]:2525"});
  answers[{"example.test", DnsType::kMx}] = DnsLookupResult::Mx({});
  AddHost(&answers, "example.test", {}, {"192.0.2.80"});
  BOOST_TEST(Targets(Plan(request, answers)) == V{"example.test[192.0.2.80]:2525"});

  DestinationRequest relayed = ViaRelayhosts({"[192.0.2.9]", "[192.0.2.10]:587"});
  relayed.mx_port = 2525;
  BOOST_TEST(Targets(Plan(relayed, {})) ==
             (V{"192.0.2.9[192.0.2.9]:25", "192.0.2.10[192.0.2.10]:587"}));
}

BOOST_AUTO_TEST_CASE(a_null_mx_fails_without_asking_more) {
  DestinationRequest request = ForDomain("example.test");
  DnsAnswers answers;
  answers[{"example.test", DnsType::kMx}] = DnsLookupResult::Mx({{0, ""}});
  CheckFailure(Plan(request, answers), "5.1.10",
               "Recipient address has null MX: example.test does not accept mail (its MX record "
               "is \".\", RFC 7505)");
  // A "." among other records is not a null MX: it is dropped.
  answers[{"example.test", DnsType::kMx}] = DnsLookupResult::Mx({{0, ""}, {10, "mx.example.test"}});
  AddHost(&answers, "mx.example.test", {}, {"192.0.2.5"});
  BOOST_TEST(Targets(Plan(request, answers)) == V{"mx.example.test[192.0.2.5]:25"});
}

BOOST_AUTO_TEST_CASE(nxdomain_fails_and_dns_trouble_defers) {
  DestinationRequest request = ForDomain("nowhere.test");
  DnsAnswers answers;
  answers[{"nowhere.test", DnsType::kMx}] =
      DnsLookupResult::NoSuchDomain("127.0.0.1:53 answered NXDOMAIN");
  CheckFailure(Plan(request, answers), "5.1.2",
               "Host or domain name not found: nowhere.test does not exist (127.0.0.1:53 "
               "answered NXDOMAIN)");
  answers[{"nowhere.test", DnsType::kMx}] =
      DnsLookupResult::TemporaryFailure("127.0.0.1:53 answered SERVFAIL");
  CheckFailure(Plan(request, answers), "4.4.3",
               "cannot look up the MX records of nowhere.test: 127.0.0.1:53 answered SERVFAIL");
}

BOOST_AUTO_TEST_CASE(mx_hosts_without_addresses) {
  DestinationRequest request = ForDomain("example.test");
  DnsAnswers answers;
  answers[{"example.test", DnsType::kMx}] =
      DnsLookupResult::Mx({{10, "gone.example.test"}, {20, "bare.example.test"}});
  answers[{"gone.example.test", DnsType::kAaaa}] = DnsLookupResult::NoSuchDomain("NXDOMAIN");
  answers[{"gone.example.test", DnsType::kA}] = DnsLookupResult::NoSuchDomain("NXDOMAIN");
  AddHost(&answers, "bare.example.test", {}, {});
  CheckFailure(Plan(request, answers), "5.4.4",
               "no mail exchanger of example.test has an address: gone.example.test does not "
               "exist; bare.example.test has no AAAA or A record");
  // One of them in DNS trouble: perhaps it has an address after all.
  answers[{"bare.example.test", DnsType::kA}] = DnsLookupResult::TemporaryFailure("timed out");
  CheckFailure(Plan(request, answers), "4.4.3",
               "cannot look up addresses: gone.example.test does not exist; "
               "bare.example.test (A: timed out)");
  // AAAA in trouble, A answered: the IPv4 address is tried.
  answers[{"bare.example.test", DnsType::kAaaa}] = DnsLookupResult::TemporaryFailure("SERVFAIL");
  answers[{"bare.example.test", DnsType::kA}] = Addresses({"192.0.2.9"});
  BOOST_TEST(Targets(Plan(request, answers)) == V{"bare.example.test[192.0.2.9]:25"});
}

BOOST_AUTO_TEST_CASE(mx_hosts_named_myhostname_and_those_after_them_are_dropped) {
  DestinationRequest request = ForDomain("example.test");
  DnsAnswers answers;
  answers[{"example.test", DnsType::kMx}] = DnsLookupResult::Mx({{10, "a.example.test"},
                                                                 {20, "mail.postern.test"},
                                                                 {20, "b.example.test"},
                                                                 {30, "c.example.test"}});
  BOOST_TEST(Names(PlanDestination(request, answers).questions) ==
             (V{"a.example.test/AAAA", "a.example.test/A"}));
  AddHost(&answers, "a.example.test", {}, {"192.0.2.1"});
  BOOST_TEST(Targets(Plan(request, answers)) == V{"a.example.test[192.0.2.1]:25"});

  // The best MX is this host: nothing is left.
  answers[{"example.test", DnsType::kMx}] =
      DnsLookupResult::Mx({{10, "MAIL.postern.test"}, {20, "a.example.test"}});
  CheckFailure(Plan(request, answers), "5.4.6", "mail for example.test loops back to myself");
  // A domain without MX that is this host's own name.
  DestinationRequest mine = ForDomain("mail.postern.test");
  DnsAnswers none;
  none[{"mail.postern.test", DnsType::kMx}] = DnsLookupResult::Mx({});
  CheckFailure(Plan(mine, none), "5.4.6", "mail for mail.postern.test loops back to myself");
}

BOOST_AUTO_TEST_CASE(at_most_five_mx_hosts_and_ten_addresses_an_attempt) {
  DestinationRequest request = ForDomain("example.test");
  DnsAnswers answers;
  std::vector<MxRecord> records;
  for (int i = 1; i <= 7; ++i)
    records.push_back({static_cast<uint16_t>(i), "mx" + std::to_string(i) + ".test"});
  answers[{"example.test", DnsType::kMx}] = DnsLookupResult::Mx(records);
  std::vector<DnsQuestion> questions = PlanDestination(request, answers).questions;
  BOOST_TEST(questions.size() == 10u);  // AAAA and A of mx1 ... mx5
  BOOST_TEST(questions.back().name == "mx5.test");
  for (int i = 1; i <= 5; ++i) {
    std::string n = std::to_string(i);
    std::string v4a = "192.0.2." + n, v4b = "198.51.100." + n, v4c = "203.0.113." + n;
    AddHost(&answers, "mx" + n + ".test", {}, {v4a.c_str(), v4b.c_str(), v4c.c_str()});
  }
  DestinationPlan plan = Plan(request, answers);
  BOOST_REQUIRE(plan.targets.size() == 10u);
  BOOST_TEST(plan.targets[9].ToString() == "mx4.test[192.0.2.4]:25");
}

BOOST_AUTO_TEST_CASE(an_address_is_tried_once) {
  DestinationRequest request = ForDomain("example.test");
  DnsAnswers answers;
  answers[{"example.test", DnsType::kMx}] =
      DnsLookupResult::Mx({{10, "a.example.test"}, {20, "b.example.test"}});
  AddHost(&answers, "a.example.test", {}, {"192.0.2.1"});
  AddHost(&answers, "b.example.test", {}, {"192.0.2.1", "192.0.2.2"});
  BOOST_TEST(Targets(Plan(request, answers)) ==
             (V{"a.example.test[192.0.2.1]:25", "b.example.test[192.0.2.2]:25"}));
}

BOOST_AUTO_TEST_CASE(relayhost_entries_in_order_bracketed_without_mx) {
  DestinationRequest request =
      ViaRelayhosts({"[relay.example.net]:587", "backup.example.net:2525", "192.0.2.99"});
  DnsAnswers answers;
  BOOST_TEST(Names(PlanDestination(request, answers).questions) ==
             (V{"relay.example.net/AAAA", "relay.example.net/A", "backup.example.net/MX"}));
  AddHost(&answers, "relay.example.net", {"2001:db8::587"}, {"192.0.2.87"});
  answers[{"backup.example.net", DnsType::kMx}] = DnsLookupResult::Mx({{5, "mx.example.net"}});
  AddHost(&answers, "mx.example.net", {}, {"198.51.100.25"});
  BOOST_TEST(Targets(Plan(request, answers)) ==
             (V{"relay.example.net[2001:db8::587]:587", "relay.example.net[192.0.2.87]:587",
                "mx.example.net[198.51.100.25]:2525", "192.0.2.99[192.0.2.99]:25"}));
}

BOOST_AUTO_TEST_CASE(a_relayhost_that_cannot_be_found_defers) {
  DestinationRequest request = ViaRelayhosts({"[gone.example.net]", "nullmx.example.net"});
  DnsAnswers answers;
  answers[{"gone.example.net", DnsType::kAaaa}] = DnsLookupResult::NoSuchDomain("NXDOMAIN");
  answers[{"gone.example.net", DnsType::kA}] = DnsLookupResult::NoSuchDomain("NXDOMAIN");
  answers[{"nullmx.example.net", DnsType::kMx}] = DnsLookupResult::Mx({{0, ""}});
  CheckFailure(Plan(request, answers), "4.4.4",
               "relayhost [gone.example.net]:25: Host or domain name not found: gone.example.net "
               "does not exist; "
               "relayhost nullmx.example.net: Recipient address has null MX: nullmx.example.net "
               "does not accept mail (its MX record is \".\", RFC 7505)");
  // One entry in DNS trouble makes it a temporary failure.
  answers[{"nullmx.example.net", DnsType::kMx}] = DnsLookupResult::TemporaryFailure("timed out");
  DestinationPlan plan = Plan(request, answers);
  BOOST_REQUIRE(plan.failure.has_value());
  BOOST_TEST(plan.failure->enhanced == "4.4.3");
  // One that works is enough.
  answers[{"nullmx.example.net", DnsType::kMx}] = DnsLookupResult::Mx({});
  AddHost(&answers, "nullmx.example.net", {}, {"192.0.2.10"});
  BOOST_TEST(Targets(Plan(request, answers)) == V{"nullmx.example.net[192.0.2.10]:25"});
}

BOOST_AUTO_TEST_CASE(a_relayhost_whose_mx_is_myself_defers_as_a_loop) {
  DestinationRequest request = ViaRelayhosts({"relay.example.net"});
  DnsAnswers answers;
  answers[{"relay.example.net", DnsType::kMx}] = DnsLookupResult::Mx({{10, "mail.postern.test"}});
  CheckFailure(Plan(request, answers), "4.4.6",
               "relayhost relay.example.net: mail for relay.example.net loops back to myself");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
