// lib/net/dns_resolver.h — the evdns resolver of a postern process.
//
// master (DNSBL zones) and smtpd (client_reverse_lookup) ask DNS through
// libevent's evdns, from their event loop, never blocking. Both take their
// nameservers from dns_nameservers (empty: /etc/resolv.conf), so tests point
// them at a responder on loopback and nothing leaves the machine.
#pragma once

#include <event2/dns.h>
#include <event2/event.h>

#include <memory>
#include <string>
#include <vector>

#include "lib/base/status.h"

namespace postern {

// Frees without failing outstanding requests: no callback runs during
// teardown.
struct EvdnsBaseDeleter {
  void operator()(evdns_base* base) const { evdns_base_free(base, 0); }
};
using EvdnsBasePtr = std::unique_ptr<evdns_base, EvdnsBaseDeleter>;

struct ResolverOptions {
  std::vector<std::string> nameservers;  // "127.0.0.1:5353"; empty: resolv.conf
  int timeout_seconds = 2;
  int attempts = 2;
};

// purpose ("block_list zones") names the resolver in errors.
Result<EvdnsBasePtr> NewResolver(event_base* base, const ResolverOptions& options,
                                 const std::string& purpose);

}  // namespace postern
