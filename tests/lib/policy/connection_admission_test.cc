// tests/lib/policy/connection_admission_test.cc — master's per-connection decisions.
#define BOOST_TEST_DYN_LINK
#include "lib/policy/connection_admission.h"

#include <boost/test/unit_test.hpp>

using namespace postern;

namespace {

ListenerConfig Listener(const std::string& name, std::vector<std::string> networks) {
  ListenerConfig l;
  l.name = name;
  for (const auto& n : networks) l.remote_networks.push_back(*Network::Parse(n));
  l.max_connections = 5000;
  l.max_connections_per_source = 20;
  return l;
}

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

// The default of max_server_connections.
const ServerLimits kServer{5000};

const char kPerSource[] =
    "421 4.3.2 The maximum number of concurrent connections has exceeded a limit, closing "
    "transmission channel\r\n";
const char kPerServer[] =
    "421 4.3.2 The maximum number of concurrent server connections has exceeded a limit, "
    "closing transmission channel\r\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(connection_admission)

BOOST_AUTO_TEST_CASE(binding_not_configured_when_no_network_matches) {
  ListenerConfig internal = Listener("internal", {"10.0.0.0/8"});
  ConnectionTable table;
  Admission a = AdmitConnection({&internal}, Ip("192.0.2.1"), table, kServer);
  BOOST_TEST(a.listener == nullptr);
  BOOST_TEST(a.refusal == "421 4.3.2 Service not available\r\n");
}

BOOST_AUTO_TEST_CASE(most_specific_listener_wins) {
  ListenerConfig everyone = Listener("everyone", {"0.0.0.0/0", "::/0"});
  ListenerConfig lan = Listener("lan", {"127.0.0.0/8"});
  ListenerConfig host = Listener("host", {"127.0.0.3/32"});
  ConnectionTable table;
  BOOST_TEST(AdmitConnection({&everyone, &lan, &host}, Ip("127.0.0.3"), table, kServer).listener ==
             &host);
  BOOST_TEST(AdmitConnection({&everyone, &lan, &host}, Ip("127.0.0.2"), table, kServer).listener ==
             &lan);
  BOOST_TEST(AdmitConnection({&host, &lan, &everyone}, Ip("192.0.2.9"), table, kServer).listener ==
             &everyone);
  BOOST_TEST(AdmitConnection({&lan, &everyone}, Ip("::1"), table, kServer).listener == &everyone);
}

BOOST_AUTO_TEST_CASE(per_source_limit_counts_one_address) {
  ListenerConfig l = Listener("smtp", {"0.0.0.0/0"});
  l.max_connections_per_source = 2;
  ConnectionTable table;
  table.Add(1, "smtp", Ip("127.0.0.2"));
  BOOST_TEST(AdmitConnection({&l}, Ip("127.0.0.2"), table, kServer).listener == &l);
  table.Add(2, "smtp", Ip("127.0.0.2"));
  Admission refused = AdmitConnection({&l}, Ip("127.0.0.2"), table, kServer);
  BOOST_TEST(refused.listener == nullptr);
  BOOST_TEST(refused.refusal == kPerSource);
  // Another source is not affected.
  BOOST_TEST(AdmitConnection({&l}, Ip("127.0.0.3"), table, kServer).listener == &l);
  // A closed connection frees its slot.
  table.Remove(1);
  BOOST_TEST(AdmitConnection({&l}, Ip("127.0.0.2"), table, kServer).listener == &l);
}

BOOST_AUTO_TEST_CASE(mapped_ipv6_counts_as_its_ipv4_source) {
  ListenerConfig l = Listener("smtp", {"0.0.0.0/0"});
  l.max_connections_per_source = 1;
  ConnectionTable table;
  table.Add(1, "smtp", Ip("::ffff:127.0.0.2"));
  BOOST_TEST(AdmitConnection({&l}, Ip("127.0.0.2"), table, kServer).refusal == kPerSource);
}

BOOST_AUTO_TEST_CASE(listener_limit_counts_all_sources) {
  ListenerConfig l = Listener("smtp", {"0.0.0.0/0"});
  l.max_connections = 2;
  ConnectionTable table;
  table.Add(1, "smtp", Ip("127.0.0.2"));
  table.Add(2, "smtp", Ip("127.0.0.3"));
  table.Add(3, "other", Ip("127.0.0.4"));
  Admission refused = AdmitConnection({&l}, Ip("127.0.0.5"), table, kServer);
  BOOST_TEST(refused.refusal == kPerServer);
  BOOST_TEST(table.CountForListener("smtp") == 2u);
  BOOST_TEST(table.CountForListener("other") == 1u);
}

BOOST_AUTO_TEST_CASE(zero_switches_limits_off) {
  ListenerConfig l = Listener("smtp", {"0.0.0.0/0"});
  l.max_connections = 0;
  l.max_connections_per_source = 0;
  ConnectionTable table;
  for (uint64_t i = 0; i < 100; ++i) table.Add(i, "smtp", Ip("127.0.0.2"));
  BOOST_TEST(AdmitConnection({&l}, Ip("127.0.0.2"), table, ServerLimits{0}).listener == &l);
}

BOOST_AUTO_TEST_CASE(server_limit_counts_every_listener) {
  // MS-OXSMTP 3.2.7: "an SMTP server has exceeded 5000 concurrent inbound
  // connections" — two listeners together, not 5000 each.
  ListenerConfig smtp = Listener("smtp", {"0.0.0.0/0"});
  ListenerConfig submission = Listener("submission", {"0.0.0.0/0"});
  ConnectionTable table;
  const ServerLimits three{3};
  table.Add(1, "smtp", Ip("127.0.0.2"));
  table.Add(2, "submission", Ip("127.0.0.3"));
  BOOST_TEST(AdmitConnection({&smtp}, Ip("127.0.0.4"), table, three).listener == &smtp);
  table.Add(3, "smtp", Ip("127.0.0.4"));
  for (const ListenerConfig* l : {&smtp, &submission}) {
    Admission refused = AdmitConnection({l}, Ip("127.0.0.5"), table, three);
    BOOST_TEST(refused.listener == nullptr);
    BOOST_TEST(refused.refusal == kPerServer);
  }
  // A closed connection on either listener frees a slot for both.
  table.Remove(2);
  BOOST_TEST(AdmitConnection({&smtp}, Ip("127.0.0.5"), table, three).listener == &smtp);
  BOOST_TEST(AdmitConnection({&submission}, Ip("127.0.0.5"), table, three).listener == &submission);
}

BOOST_AUTO_TEST_CASE(server_limit_applies_whatever_the_listener_allows) {
  ListenerConfig l = Listener("smtp", {"0.0.0.0/0"});
  l.max_connections = 0;  // the listener sets no cap of its own
  ConnectionTable table;
  table.Add(1, "smtp", Ip("127.0.0.2"));
  table.Add(2, "smtp", Ip("127.0.0.3"));
  BOOST_TEST(AdmitConnection({&l}, Ip("127.0.0.4"), table, ServerLimits{2}).refusal == kPerServer);
  // A lower cap given by master (say, what its descriptors allow) is the one in force.
  BOOST_TEST(AdmitConnection({&l}, Ip("127.0.0.4"), table, ServerLimits{3}).listener == &l);
  BOOST_TEST(AdmitConnection({&l}, Ip("127.0.0.4"), table, ServerLimits{1}).refusal == kPerServer);
}

BOOST_AUTO_TEST_CASE(per_source_limit_counts_every_listener) {
  // MS-OXSMTP 3.2.7: "exceeded 20 inbound connections for an IP address".
  ListenerConfig smtp = Listener("smtp", {"0.0.0.0/0"});
  ListenerConfig submission = Listener("submission", {"0.0.0.0/0"});
  smtp.max_connections_per_source = 2;
  submission.max_connections_per_source = 3;
  ConnectionTable table;
  table.Add(1, "smtp", Ip("127.0.0.2"));
  table.Add(2, "submission", Ip("127.0.0.2"));
  BOOST_TEST(table.CountForSource(Ip("127.0.0.2")) == 2u);
  // The limit of the listener reached applies to the count over both.
  BOOST_TEST(AdmitConnection({&smtp}, Ip("127.0.0.2"), table, kServer).refusal == kPerSource);
  BOOST_TEST(AdmitConnection({&submission}, Ip("127.0.0.2"), table, kServer).listener ==
             &submission);
  table.Add(3, "submission", Ip("::ffff:127.0.0.2"));
  BOOST_TEST(AdmitConnection({&submission}, Ip("127.0.0.2"), table, kServer).refusal == kPerSource);
}

BOOST_AUTO_TEST_CASE(removing_unknown_ids_is_harmless) {
  ConnectionTable table;
  table.Remove(42);
  table.Add(1, "smtp", Ip("127.0.0.2"));
  table.Remove(1);
  table.Remove(1);
  BOOST_TEST(table.size() == 0u);
  BOOST_TEST(table.CountForSource(Ip("127.0.0.2")) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
