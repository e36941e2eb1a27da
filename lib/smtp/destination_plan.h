// lib/smtp/destination_plan.h — where mail for a domain goes: the addresses to try, in order.
//
// Pure: a function of the request and the DNS answers gathered so far
// (lib/smtp/destination_lookup drives it over lib/net/mx_lookup). Each call
// either names the questions still to ask (all at once, so they go out in
// parallel) or gives the plan. Two rounds at most: MX records, then the
// AAAA and A records of the hosts they name.
//
// The decisions, after RFC 5321 5.1 and Postfix's smtp(8):
// - With relayhost, its entries in the order written (fail-over): "[host]"
//   by the host's own AAAA/A records, "host" by its MX records, an IP
//   address as it is; each entry at its own port. Every failure to find a
//   relayhost's address defers (4.4.3 for DNS trouble, 4.4.4 for a name
//   that does not exist or has no address or a null MX, 4.4.6 for a
//   loop), never bounces: a wrong relayhost is the operator's to mend, and
//   maximal_queue_lifetime bounds the wait. The plan fails only when no
//   entry gives an address; the text names each entry's problem.
// - Without relayhost, the recipient domain's MX records: by preference,
//   equal preferences in a random order (shuffle_seed: the same seed gives
//   the same order, so both rounds agree), names that are not host names
//   (and a "." among other records) dropped.
//   * No MX records: the domain itself, preference 0 (implicit MX).
//   * A single MX "." (RFC 7505 null MX): fail, 5.1.10.
//   * NXDOMAIN: fail, 5.1.2 "Host or domain name not found".
//   * A temporary DNS failure anywhere before an address is found: defer, 4.4.3.
//   * Loops (as Postfix): the first MX host named myhostname (without case)
//     and every host of its preference or a less preferred one are
//     dropped; when that leaves none, fail, 5.4.6 "mail for DOMAIN loops
//     back to myself". The implicit MX counts: a domain without MX named
//     myhostname loops. Only names are compared, not addresses.
//   * No host with an address: fail, 5.4.4 (5.1.2 for an implicit MX: the
//     domain has neither MX nor address records), unless a lookup failed
//     temporarily (defer, 4.4.3).
// - Each host's addresses: IPv6 (AAAA) first, then IPv4 (A), each in the
//   DNS's order. An unreachable IPv6 route fails a connect at once; a host
//   whose AAAA lookup fails temporarily is still tried over IPv4. An
//   address already in the plan (same address and port) is not repeated.
// - Caps per delivery attempt (Postfix's smtp_mx_address_limit counts
//   addresses, 5): at most kMaxMxHosts hosts of one MX list and
//   kMaxTargets addresses in all; a destination that needs more is tried
//   again later, from the top.
// - Failures carry a Diagnostic of postern's own (code 0), the shape the
//   SMTP client gives a recipient: "5..." fails the recipients, "4..."
//   defers them. The words come from lookup results and validated host
//   names: printable ASCII, fit for a log line and a DSN.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lib/net/mx_lookup.h"
#include "lib/net/network.h"
#include "lib/smtp/client_session.h"
#include "lib/smtp/next_hop.h"

namespace postern {

constexpr size_t kMaxMxHosts = 5;
constexpr size_t kMaxTargets = 10;

// One address to connect to.
struct Target {
  std::string host;  // the MX host, the relayhost's name, or the address itself (for TLS, logs)
  IpAddress address;
  uint16_t port = 25;
  // Postfix's relay= form: "mx1.example.net[192.0.2.25]:25".
  std::string ToString() const;
  bool operator==(const Target&) const = default;
};

struct DestinationPlan {
  std::vector<Target> targets;        // in the order to try; empty when failure is set
  std::optional<Diagnostic> failure;  // code 0: "5..." fail the recipients, "4..." defer
  bool ok() const { return !failure.has_value(); }
  bool operator==(const DestinationPlan&) const = default;
};

struct DnsQuestion {
  std::string name;
  DnsType type = DnsType::kMx;
  auto operator<=>(const DnsQuestion&) const = default;
};
using DnsAnswers = std::map<DnsQuestion, DnsLookupResult>;

struct DestinationRequest {
  std::string domain;               // the recipients' domain, lower case
  std::vector<NextHop> relayhosts;  // empty: the domain's MX records
  std::string myhostname;           // an MX host of this name is a loop
  uint64_t shuffle_seed = 0;        // orders equally preferred MX hosts
  uint16_t mx_port = 25;            // the port of the domain's MX hosts (relay_tcp_port)
};

struct PlanningStep {
  // Not yet answered: ask them all, add the answers, and plan again.
  std::vector<DnsQuestion> questions;
  DestinationPlan plan;  // when questions is empty
};

PlanningStep PlanDestination(const DestinationRequest& request, const DnsAnswers& answers);

}  // namespace postern
