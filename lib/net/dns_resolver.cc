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

Result<std::vector<BindAddress>> ResolverNameservers(event_base* base,
                                                     const ResolverOptions& options,
                                                     const std::string& purpose) {
  Result<EvdnsBasePtr> dns = NewResolver(base, options, purpose);
  if (!dns.ok()) return dns.status();
  std::vector<BindAddress> servers;
  int count = evdns_base_count_nameservers(dns->get());
  for (int i = 0; i < count; ++i) {
    sockaddr_storage storage{};
    auto* sa = reinterpret_cast<sockaddr*>(&storage);
    int length = evdns_base_get_nameserver_addr(dns->get(), i, sa, sizeof storage);
    std::optional<IpAddress> address = IpAddress::FromSockaddr(sa);
    if (length <= 0 || length > static_cast<int>(sizeof storage) || !address) continue;
    uint16_t port =
        ntohs(sa->sa_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
    servers.push_back({*address, port});
  }
  if (servers.empty()) return Status::Error("no nameserver to ask for " + purpose);
  return servers;
}

}  // namespace postern
