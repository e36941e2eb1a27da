// lib/net/dns_resolver.cc — see lib/net/dns_resolver.h.
#include "lib/net/dns_resolver.h"

namespace postern {

Result<EvdnsBasePtr> NewResolver(event_base* base, const ResolverOptions& options,
                                 const std::string& purpose) {
  int flags = EVDNS_BASE_DISABLE_WHEN_INACTIVE;
  if (options.nameservers.empty()) flags |= EVDNS_BASE_INITIALIZE_NAMESERVERS;
  EvdnsBasePtr dns(evdns_base_new(base, flags));
  if (!dns) return Status::Error("cannot create the DNS resolver for " + purpose);
  for (const std::string& server : options.nameservers) {
    if (int rc = evdns_base_nameserver_ip_add(dns.get(), server.c_str()); rc != 0)
      return Status::Error("dns_nameservers: cannot use \"" + server +
                           "\" as a nameserver (evdns error " + std::to_string(rc) + ")");
  }
  evdns_base_set_option(dns.get(), "timeout:", std::to_string(options.timeout_seconds).c_str());
  evdns_base_set_option(dns.get(), "attempts:", std::to_string(options.attempts).c_str());
  return dns;
}

}  // namespace postern
