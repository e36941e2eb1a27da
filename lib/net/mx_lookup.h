// lib/net/mx_lookup.h — asks nameservers for MX, A and AAAA records without blocking.
//
// evdns (lib/net/dns_resolver.h) asks only A, AAAA and PTR; relay delivery
// needs MX (RFC 5321 5.1), so this is a small stub resolver of its own on
// the caller's libevent loop. It asks for A and AAAA too, through the same
// code, rather than through evdns: one timeout and fail-over policy for
// every question of a delivery, the same words for every failure, NXDOMAIN
// kept apart from "no records of this type" (which the implicit MX rule
// needs), and no resolv.conf search list appended to a mail exchanger's
// name. It reads no resolv.conf of its own: the servers are those evdns
// would ask (ResolverNameservers), from dns_nameservers or resolv.conf.
//
// Each try goes over a new UDP socket connected to the server (so the
// kernel picks a fresh random source port and drops datagrams from anyone
// else) with a new random query id (lib/base/random.h). A reply that does
// not parse as the answer to that query (another id or question, or
// malformed) is ignored and the try goes on waiting: it may be forged, and
// the real answer may still come. The tries go round the servers in order,
// `attempts` rounds, each try waiting `timeout`; SERVFAIL, REFUSED, any
// other rcode and an ICMP "port unreachable" move on to the next try at
// once. NOERROR (records or none) and NXDOMAIN end the lookup: the server
// that says a name does not exist is believed. A truncated (TC) answer is
// asked again of the same server over TCP, within the same timeout. No
// EDNS0: answers over 512 octets take the TCP path. No cache: each lookup
// asks.
//
// Callbacks run from the event loop, never from inside Lookup(); a callback
// may start new lookups, cancel others, or destroy the MxLookup. Destroying
// it cancels every lookup under way without calling its callback.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lib/base/clock.h"
#include "lib/base/status.h"
#include "lib/net/dns_message.h"
#include "lib/net/network.h"

namespace postern {

struct DnsLookupResult {
  enum class Outcome {
    kAnswer,            // NOERROR: the records (possibly none) of the type asked
    kNoSuchDomain,      // NXDOMAIN: permanent
    kTemporaryFailure,  // no server gave an answer: timeouts, SERVFAIL, REFUSED, ...
  };
  Outcome outcome = Outcome::kTemporaryFailure;
  std::vector<MxRecord> mx;          // for MX
  std::vector<IpAddress> addresses;  // for A and AAAA
  // For a failure, words for the log and a DSN: which server said or did
  // what, e.g. "127.0.0.1:53 answered SERVFAIL; 127.0.0.2:53 did not answer
  // within 5 s". Empty for an answer.
  std::string error;

  static DnsLookupResult Mx(std::vector<MxRecord> records);
  static DnsLookupResult Addresses(std::vector<IpAddress> addresses);
  static DnsLookupResult NoSuchDomain(std::string why);
  static DnsLookupResult TemporaryFailure(std::string why);
  bool operator==(const DnsLookupResult&) const = default;
};

struct MxLookupOptions {
  std::vector<std::string> nameservers;        // dns_nameservers; empty: resolv.conf
  Duration timeout = std::chrono::seconds(5);  // each try
  int attempts = 2;                            // rounds over the servers
};

class MxLookup {
 public:
  using Callback = std::function<void(DnsLookupResult)>;
  using LookupId = uint64_t;

  // Reads resolv.conf now when options.nameservers is empty (before a
  // chroot or privilege drop, like NewResolver).
  static Result<std::unique_ptr<MxLookup>> Create(event_base* base, const MxLookupOptions& options);
  // With the servers given: for tests and for callers that chose them.
  MxLookup(event_base* base, std::vector<BindAddress> servers, Duration timeout, int attempts);
  ~MxLookup();
  MxLookup(const MxLookup&) = delete;
  MxLookup& operator=(const MxLookup&) = delete;

  // Asks for the records of type (kMx, kA or kAaaa) of name; done runs once,
  // later, unless the lookup is cancelled first.
  LookupId Lookup(std::string name, DnsType type, Callback done);
  // Forgets a lookup under way; its callback never runs. An id that has
  // finished or is unknown is ignored.
  void Cancel(LookupId id);
  size_t outstanding() const { return lookups_.size(); }

 private:
  struct Query;
  void Start(Query* query);
  void NextTry(Query* query);
  bool SendUdp(Query* query);
  void StartTcp(Query* query);
  void OnTcpRead(Query* query);
  void Handle(Query* query, const DnsResponse& response);
  void ServerFailed(Query* query, const std::string& why);
  void Finish(Query* query, DnsLookupResult result);

  event_base* base_;
  std::vector<BindAddress> servers_;
  Duration timeout_;
  int attempts_;
  LookupId next_id_ = 1;
  std::map<LookupId, std::unique_ptr<Query>> lookups_;
};

}  // namespace postern
