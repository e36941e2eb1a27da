// master/dnsbl_checker.h — master's asynchronous DNSBL lookups (RFC 5782).
//
// Owns master's evdns resolver. For a new client it asks every DNSBL zone of
// the listener at once, without blocking master's event loop, and reports
// once whether any zone listed the client. A lookup that fails or times out
// counts as "not listed" (fail open) and is logged. Never touches the
// client's socket: the caller keeps it until the answer arrives.
#pragma once

#include <event2/dns.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lib/net/dns_resolver.h"
#include "lib/net/network.h"
#include "lib/base/status.h"

namespace postern {

class DnsblChecker {
 public:
  using Done = std::function<void(bool listed)>;

  explicit DnsblChecker(event_base* base) : base_(base) {}
  ~DnsblChecker();  // drops unfinished checks without calling their Done

  // Creates the resolver, once (at master's start: a reload keeps it, as
  // freeing it could race with answers already received): nameservers as
  // ADDRESS[:PORT], or empty for those of /etc/resolv.conf.
  Status Configure(const std::vector<std::string>& nameservers);

  // Queries client under every zone (zones not empty) and calls done once,
  // possibly before Check returns.
  void Check(const IpAddress& client, const std::vector<std::string>& zones, Done done);

 private:
  struct Query {
    DnsblChecker* checker;
    uint64_t check_id;
    std::string name;
  };
  struct Pending {
    int outstanding = 0;
    bool listed = false;
    Done done;
    std::map<Query*, std::unique_ptr<Query>> queries;
  };

  static void OnAnswer(int result, char type, int count, int ttl, void* addresses, void* query);
  void Finish(uint64_t check_id, Query* query, bool listed);

  event_base* base_;
  EvdnsBasePtr dns_;
  std::map<uint64_t, Pending> pending_;
  uint64_t next_id_ = 1;
};

}  // namespace postern
