// smtpd/client_lookups.h — the DNS a worker asks about a new client before its banner.
//
// master runs as root and parses no network input, so the lookups of a
// connection are the worker's, as smtpd_user in its chroot: first the
// client's A record under every DNSBL zone of a gateway listener, all at
// once (IPAddressNotAllowed, MS-OXSMTP 3.2.7; RFC 5782), then, unless a zone
// listed the client and with client_reverse_lookup, its PTR for the
// Received: field. The decisions are lib/policy/ip_blocks' (DnsblQueries,
// ClassifyDnsblReply, DnsblVerdict); this owns the resolvers and the
// lookups under way. The resolvers are made before the chroot (resolv.conf
// is read then, when dns_nameservers is empty); their UDP sockets need no
// file afterwards. Never blocks; never touches the client's socket.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "lib/base/status.h"
#include "lib/config/config.h"
#include "lib/net/dns_resolver.h"
#include "lib/net/network.h"
#include "lib/policy/ip_blocks.h"

namespace postern {

class ClientLookups {
 public:
  struct Outcome {
    bool listed = false;   // a DNSBL zone lists the client: refuse it
    std::string hostname;  // the PTR answer; empty when unknown or not asked
  };
  using Done = std::function<void(const Outcome&)>;

  explicit ClientLookups(event_base* base) : base_(base) {}
  ~ClientLookups();  // drops unfinished lookups without calling their Done

  // Makes the resolvers config needs, before the chroot: one for the DNSBL
  // zones of gateway listeners (2 tries of 2 s a zone: a slow zone delays
  // its clients by that much, nobody else) and one for client_reverse_lookup
  // (2 tries of 3 s), both asking dns_nameservers (empty: resolv.conf).
  Status Configure(const Config& config);

  // Looks client up for listener and calls done once, possibly before
  // Begin returns (at once when nothing is to be asked).
  void Begin(const ListenerConfig& listener, const IpAddress& client, Done done);

  // Lookups begun and not done yet.
  size_t size() const { return pending_.size(); }

 private:
  // One request to evdns; its address is the callback's argument.
  struct Query {
    ClientLookups* owner;
    uint64_t lookup_id;
    std::string name;  // for the log
  };
  struct Pending {
    IpAddress client;
    DnsblVerdict verdict{0};
    Done done;
    std::map<Query*, std::unique_ptr<Query>> queries;
  };

  static void OnDnsblReply(int result, char type, int count, int ttl, void* addresses, void* query);
  static void OnReverseReply(int result, char type, int count, int ttl, void* addresses,
                             void* query);
  Query* NewQuery(uint64_t lookup_id, Pending& pending, std::string name);
  // Takes query's answer; null query: an answer that was never sent.
  void DnsblAnswered(uint64_t lookup_id, Query* query, DnsblAnswer answer);
  // Once every zone has answered: refuses, or asks for the PTR, or is done.
  void AfterDnsbl(uint64_t lookup_id);
  void Finish(uint64_t lookup_id, Outcome outcome);

  event_base* base_;
  EvdnsBasePtr dnsbl_dns_;    // null when no gateway listener names a zone
  EvdnsBasePtr reverse_dns_;  // null unless client_reverse_lookup
  std::map<uint64_t, Pending> pending_;
  uint64_t next_id_ = 1;
};

}  // namespace postern
