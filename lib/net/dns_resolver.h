// lib/net/dns_resolver.h — the evdns resolver of a postern process.
//
// Only smtpd asks DNS (DNSBL zones and client_reverse_lookup, see
// smtpd/client_lookups): through libevent's evdns, from its event loop,
// never blocking, as smtpd_user; no root process parses a DNS reply. The
// nameservers come from dns_nameservers (empty: /etc/resolv.conf, read
// when the resolver is made, before the chroot), so tests point them at a
// responder on loopback and nothing leaves the machine.
#pragma once

#include <event2/dns.h>
#include <event2/event.h>

#include <memory>
#include <string>
#include <vector>

#include "lib/base/status.h"
#include "lib/net/network.h"

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

// The nameservers, in order, that NewResolver's resolver would ask: those of
// options.nameservers, or resolv.conf's (evdns reads it, and asks 127.0.0.1
// when it names none). For code that asks DNS itself what evdns cannot ask
// (lib/net/mx_lookup: MX records), so both choose their servers alike.
Result<std::vector<BindAddress>> ResolverNameservers(event_base* base,
                                                     const ResolverOptions& options,
                                                     const std::string& purpose);

}  // namespace postern
