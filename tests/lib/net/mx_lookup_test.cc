// tests/lib/net/mx_lookup_test.cc — lib/net/mx_lookup.h against fake DNS servers on
// 127.0.0.1 in the test's own event loop: answers, NXDOMAIN, SERVFAIL and
// timeouts that move on to the next server, forged replies, TC then TCP,
// cancelling; and the server list taken from dns_nameservers.
#include "lib/net/mx_lookup.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lib/net/dns_resolver.h"
#include "lib/net/event_handles.h"
#include "tests/lib/net/fake_dns_server.h"

namespace postern {
namespace {

using namespace std::string_literals;
using std::chrono::milliseconds;

// example.test MX 10 mx1.example.test, MX 20 mx2.example.test (the
// question's name is at offset 12).
const std::string kTwoMx =
    "\xc0\x0c\x00\x0f\x00\x01\x00\x00\x0e\x10\x00\x08\x00\x0a\x03mx1\xc0\x0c"
    "\xc0\x0c\x00\x0f\x00\x01\x00\x00\x0e\x10\x00\x08\x00\x14\x03mx2\xc0\x0c"s;
// The question's name A 192.0.2.25.
const std::string kOneA = "\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x19"s;

struct Fixture {
  Fixture() : base(event_base_new()) {}

  MxLookup& Make(std::vector<BindAddress> servers, milliseconds timeout = milliseconds(2000),
                 int attempts = 1) {
    lookup = std::make_unique<MxLookup>(base.get(), std::move(servers), timeout, attempts);
    return *lookup;
  }

  // Looks name up and runs the loop until the answer (or 5 s).
  DnsLookupResult Run(const std::string& name, DnsType type) {
    std::optional<DnsLookupResult> result;
    lookup->Lookup(name, type, [&result](DnsLookupResult r) { result = std::move(r); });
    BOOST_TEST(!result.has_value());  // never from inside Lookup()
    auto start = std::chrono::steady_clock::now();
    while (!result && std::chrono::steady_clock::now() - start < std::chrono::seconds(5))
      event_base_loop(base.get(), EVLOOP_ONCE);
    elapsed = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
    BOOST_REQUIRE(result.has_value());
    return *result;
  }

  EventBasePtr base;
  std::unique_ptr<MxLookup> lookup;
  milliseconds elapsed{0};
};

// An address on which nothing listens: the kernel answers port unreachable.
BindAddress ClosedPort() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return {*IpAddress::Parse("127.0.0.1"), ntohs(address.sin_port)};
}

BOOST_FIXTURE_TEST_SUITE(mx_lookup, Fixture)

BOOST_AUTO_TEST_CASE(an_mx_answer) {
  FakeDnsServer server(base.get(), [](const FakeDnsServer::Query& q) {
    return std::vector<std::string>{DnsReply(q, 0, 2, kTwoMx)};
  });
  Make({server.address()});
  DnsLookupResult result = Run("Example.test", DnsType::kMx);
  BOOST_TEST((result.outcome == DnsLookupResult::Outcome::kAnswer));
  BOOST_TEST(
      (result.mx == std::vector<MxRecord>{{10, "mx1.example.test"}, {20, "mx2.example.test"}}));
  // The query: one question, example.test MX IN, RD set.
  BOOST_REQUIRE(server.queries.size() == 1u);
  BOOST_TEST(server.queries[0].bytes.substr(2) ==
             "\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
             "\x07"
             "Example\x04test\x00\x00\x0f\x00\x01"s);
}

BOOST_AUTO_TEST_CASE(no_records_of_the_type_is_an_empty_answer_not_a_failure) {
  FakeDnsServer server(base.get(), [](const FakeDnsServer::Query& q) {
    return std::vector<std::string>{DnsReply(q, 0)};
  });
  Make({server.address()});
  DnsLookupResult result = Run("example.test", DnsType::kMx);
  BOOST_TEST((result == DnsLookupResult::Mx({})));
}

BOOST_AUTO_TEST_CASE(nxdomain_is_permanent_and_asks_no_other_server) {
  FakeDnsServer first(base.get(), [](const FakeDnsServer::Query& q) {
    return std::vector<std::string>{DnsReply(q, 3)};
  });
  FakeDnsServer second(base.get(), [](const FakeDnsServer::Query& q) {
    return std::vector<std::string>{DnsReply(q, 0, 1, kOneA)};
  });
  Make({first.address(), second.address()});
  DnsLookupResult result = Run("nowhere.test", DnsType::kA);
  BOOST_TEST((result.outcome == DnsLookupResult::Outcome::kNoSuchDomain));
  BOOST_TEST(result.error == first.address().ToString() + " answered NXDOMAIN");
  BOOST_TEST(second.queries.empty());
}

BOOST_AUTO_TEST_CASE(servfail_moves_on_to_the_next_server_at_once) {
  FakeDnsServer first(base.get(), [](const FakeDnsServer::Query& q) {
    return std::vector<std::string>{DnsReply(q, 2)};
  });
  FakeDnsServer second(base.get(), [](const FakeDnsServer::Query& q) {
    return std::vector<std::string>{DnsReply(q, 0, 1, kOneA)};
  });
  Make({first.address(), second.address()}, milliseconds(3000));
  DnsLookupResult result = Run("mx1.example.test", DnsType::kA);
  BOOST_TEST((result.outcome == DnsLookupResult::Outcome::kAnswer));
  BOOST_REQUIRE(result.addresses.size() == 1u);
  BOOST_TEST(result.addresses[0].ToString() == "192.0.2.25");
  BOOST_TEST(elapsed.count() < 1000);
}

BOOST_AUTO_TEST_CASE(a_silent_server_times_out_and_the_next_one_answers) {
  FakeDnsServer silent(base.get(),
                       [](const FakeDnsServer::Query&) { return std::vector<std::string>{}; });
  FakeDnsServer second(base.get(), [](const FakeDnsServer::Query& q) {
    return std::vector<std::string>{DnsReply(q, 0, 2, kTwoMx)};
  });
  Make({silent.address(), second.address()}, milliseconds(200));
  DnsLookupResult result = Run("example.test", DnsType::kMx);
  BOOST_TEST((result.outcome == DnsLookupResult::Outcome::kAnswer));
  BOOST_TEST(result.mx.size() == 2u);
  BOOST_TEST(elapsed.count() >= 200);
  BOOST_TEST(silent.queries.size() == 1u);
}

BOOST_AUTO_TEST_CASE(every_server_failing_every_attempt_is_a_temporary_failure_that_says_why) {
  FakeDnsServer silent(base.get(),
                       [](const FakeDnsServer::Query&) { return std::vector<std::string>{}; });
  FakeDnsServer servfail(base.get(), [](const FakeDnsServer::Query& q) {
    return std::vector<std::string>{DnsReply(q, 2)};
  });
  Make({silent.address(), servfail.address()}, milliseconds(100), 2);
  DnsLookupResult result = Run("example.test", DnsType::kMx);
  BOOST_TEST((result.outcome == DnsLookupResult::Outcome::kTemporaryFailure));
  BOOST_TEST(result.error == silent.address().ToString() + " did not answer within 100 ms; " +
                                 servfail.address().ToString() + " answered SERVFAIL");
  // Two rounds over both servers.
  BOOST_TEST(silent.queries.size() == 2u);
  BOOST_TEST(servfail.queries.size() == 2u);
  // Each try has its own id.
  BOOST_TEST(silent.queries[0].bytes.substr(0, 2) != silent.queries[1].bytes.substr(0, 2));
}

BOOST_AUTO_TEST_CASE(port_unreachable_moves_on_without_waiting) {
  FakeDnsServer server(base.get(), [](const FakeDnsServer::Query& q) {
    return std::vector<std::string>{DnsReply(q, 0, 1, kOneA)};
  });
  Make({ClosedPort(), server.address()}, milliseconds(3000));
  DnsLookupResult result = Run("mx1.example.test", DnsType::kA);
  BOOST_TEST((result.outcome == DnsLookupResult::Outcome::kAnswer));
  BOOST_TEST(elapsed.count() < 1000);
}

BOOST_AUTO_TEST_CASE(a_reply_with_another_id_is_ignored_and_the_real_one_taken) {
  FakeDnsServer server(base.get(), [](const FakeDnsServer::Query& q) {
    // A forged answer first (another id, an address of the forger's), then the server's.
    std::string forged_record = "\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xcb\x00\x71\x66"s;
    return std::vector<std::string>{DnsReply(q, 0, 1, forged_record, false, 1), "garbage"s,
                                    DnsReply(q, 0, 1, kOneA)};
  });
  Make({server.address()});
  DnsLookupResult result = Run("mx1.example.test", DnsType::kA);
  BOOST_REQUIRE(result.addresses.size() == 1u);
  BOOST_TEST(result.addresses[0].ToString() == "192.0.2.25");
}

BOOST_AUTO_TEST_CASE(a_truncated_answer_is_asked_again_over_tcp) {
  FakeDnsServer server(base.get(), [](const FakeDnsServer::Query& q) {
    if (!q.tcp) return std::vector<std::string>{DnsReply(q, 0, 0, "", true)};
    return std::vector<std::string>{DnsReply(q, 0, 2, kTwoMx)};
  });
  Make({server.address()});
  DnsLookupResult result = Run("example.test", DnsType::kMx);
  BOOST_TEST((result.outcome == DnsLookupResult::Outcome::kAnswer));
  BOOST_TEST(result.mx.size() == 2u);
  BOOST_REQUIRE(server.queries.size() == 2u);
  BOOST_TEST(!server.queries[0].tcp);
  BOOST_TEST(server.queries[1].tcp);
}

BOOST_AUTO_TEST_CASE(a_server_that_fails_over_tcp_moves_on) {
  FakeDnsServer first(base.get(), [](const FakeDnsServer::Query& q) {
    if (!q.tcp) return std::vector<std::string>{DnsReply(q, 0, 0, "", true)};
    return std::vector<std::string>{"\x00"s};  // not a DNS message
  });
  FakeDnsServer second(base.get(), [](const FakeDnsServer::Query& q) {
    return std::vector<std::string>{DnsReply(q, 0, 1, kOneA)};
  });
  Make({first.address(), second.address()});
  DnsLookupResult result = Run("mx1.example.test", DnsType::kA);
  BOOST_TEST((result.outcome == DnsLookupResult::Outcome::kAnswer));
  BOOST_TEST(second.queries.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_name_that_cannot_be_asked_does_not_exist) {
  Make({ClosedPort()});
  DnsLookupResult result = Run("a..test", DnsType::kMx);
  BOOST_TEST((result.outcome == DnsLookupResult::Outcome::kNoSuchDomain));
  BOOST_TEST(result.error.find("empty label") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_cancelled_lookup_never_calls_back_nor_does_a_destroyed_one) {
  FakeDnsServer server(base.get(), [](const FakeDnsServer::Query& q) {
    return std::vector<std::string>{DnsReply(q, 0, 1, kOneA)};
  });
  Make({server.address()});
  int calls = 0;
  MxLookup::LookupId first =
      lookup->Lookup("a.test", DnsType::kA, [&calls](DnsLookupResult) { ++calls; });
  lookup->Lookup("b.test", DnsType::kA, [&calls](DnsLookupResult) { ++calls; });
  lookup->Cancel(first);
  BOOST_TEST(lookup->outstanding() == 1u);
  lookup.reset();
  for (int i = 0; i < 5; ++i) event_base_loop(base.get(), EVLOOP_NONBLOCK);
  BOOST_TEST(calls == 0);
}

BOOST_AUTO_TEST_CASE(a_callback_may_destroy_the_lookup) {
  FakeDnsServer server(base.get(), [](const FakeDnsServer::Query& q) {
    return std::vector<std::string>{DnsReply(q, 0, 1, kOneA)};
  });
  Make({server.address()});
  int calls = 0;
  auto destroy = [this, &calls](DnsLookupResult) {
    ++calls;
    lookup.reset();
  };
  lookup->Lookup("a.test", DnsType::kA, destroy);
  lookup->Lookup("b.test", DnsType::kA, destroy);
  for (int i = 0; i < 50 && calls == 0; ++i) event_base_loop(base.get(), EVLOOP_ONCE);
  for (int i = 0; i < 5; ++i) event_base_loop(base.get(), EVLOOP_NONBLOCK);
  BOOST_TEST(calls == 1);
}

BOOST_AUTO_TEST_CASE(the_servers_are_those_of_dns_nameservers) {
  Result<std::vector<BindAddress>> servers =
      ResolverNameservers(base.get(), {{"127.0.0.1:5353", "[::1]:53"}, 2, 2}, "MX lookups");
  BOOST_REQUIRE_MESSAGE(servers.ok(), servers.status().message());
  BOOST_REQUIRE(servers->size() == 2u);
  BOOST_TEST((*servers)[0].ToString() == "127.0.0.1:5353");
  BOOST_TEST((*servers)[1].ToString() == "[::1]:53");
  BOOST_TEST(!ResolverNameservers(base.get(), {{"no.such"}, 2, 2}, "MX lookups").ok());
  BOOST_TEST(MxLookup::Create(base.get(), {{"127.0.0.1:5353"}}).ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
