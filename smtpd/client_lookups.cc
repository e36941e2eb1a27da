// smtpd/client_lookups.cc — see smtpd/client_lookups.h.
#include "smtpd/client_lookups.h"

#include <event2/dns.h>
#include <netinet/in.h>

#include <cstring>
#include <vector>

#include "lib/base/log.h"

namespace postern {

ClientLookups::~ClientLookups() {
  // Freeing without failing the requests runs no callback: the Query
  // objects are released with pending_.
  dnsbl_dns_.reset();
  reverse_dns_.reset();
}

Status ClientLookups::Configure(const Config& config) {
  bool any_zone = false;
  for (const ListenerConfig& listener : config.listeners)
    any_zone = any_zone || (listener.role == Role::kGateway && !DnsblZones(listener).empty());
  if (any_zone) {
    Result<EvdnsBasePtr> dns =
        NewResolver(base_, {config.dns_nameservers, 2, 2}, "block_list zones");
    if (!dns.ok()) return dns.status();
    dnsbl_dns_ = std::move(*dns);
  }
  if (config.client_reverse_lookup) {
    Result<EvdnsBasePtr> dns =
        NewResolver(base_, {config.dns_nameservers, 3, 2}, "client reverse lookups");
    if (!dns.ok()) return dns.status();
    reverse_dns_ = std::move(*dns);
  }
  return Status::Ok();
}

ClientLookups::Query* ClientLookups::NewQuery(uint64_t lookup_id, Pending& pending,
                                              std::string name) {
  auto query = std::make_unique<Query>(Query{this, lookup_id, std::move(name)});
  Query* raw = query.get();
  pending.queries[raw] = std::move(query);
  return raw;
}

void ClientLookups::Begin(const ListenerConfig& listener, const IpAddress& client, Done done) {
  uint64_t id = next_id_++;
  std::vector<std::string> names = DnsblQueries(listener, client);
  Pending& pending = pending_[id];
  pending.client = client.Unmapped();
  pending.verdict = DnsblVerdict(names.size());
  pending.done = std::move(done);
  // The verdict counts every zone from the start, so no answer can finish
  // the lookup before the last query is sent; pending is not used after a
  // send, as an answer may have finished it.
  for (std::string& name : names) {
    Query* query = NewQuery(id, pending, std::move(name));
    evdns_request* request = dnsbl_dns_
                                 ? evdns_base_resolve_ipv4(dnsbl_dns_.get(), query->name.c_str(),
                                                           DNS_QUERY_NO_SEARCH, OnDnsblReply, query)
                                 : nullptr;
    if (request == nullptr) {
      LOG_WARNING("DNSBL lookup of %s could not be sent: client let in", query->name.c_str());
      DnsblAnswered(id, query, DnsblAnswer::kFailed);
    }
  }
  if (names.empty()) AfterDnsbl(id);
}

void ClientLookups::OnDnsblReply(int result, char type, int count, int, void* addresses,
                                 void* query_ptr) {
  auto* query = static_cast<Query*>(query_ptr);
  std::vector<uint32_t> a_records;
  if (result == DNS_ERR_NONE && type == DNS_IPv4_A) {
    const auto* records = static_cast<const uint32_t*>(addresses);
    a_records.assign(records, records + count);
  }
  DnsblAnswer answer = ClassifyDnsblReply(result, a_records);
  if (answer == DnsblAnswer::kFailed)
    LOG_WARNING("DNSBL lookup of %s failed (%s): client let in", query->name.c_str(),
                evdns_err_to_string(result));
  if (answer == DnsblAnswer::kListed) LOG_INFO("DNSBL: %s is listed", query->name.c_str());
  query->owner->DnsblAnswered(query->lookup_id, query, answer);
}

void ClientLookups::DnsblAnswered(uint64_t lookup_id, Query* query, DnsblAnswer answer) {
  auto it = pending_.find(lookup_id);
  if (it == pending_.end()) return;
  it->second.queries.erase(query);
  it->second.verdict.Add(answer);
  if (it->second.verdict.done()) AfterDnsbl(lookup_id);
}

void ClientLookups::AfterDnsbl(uint64_t lookup_id) {
  auto it = pending_.find(lookup_id);
  if (it == pending_.end()) return;
  Pending& pending = it->second;
  if (pending.verdict.listed() || !reverse_dns_) {
    Finish(lookup_id, Outcome{pending.verdict.listed(), ""});
    return;
  }
  Query* query = NewQuery(lookup_id, pending, pending.client.ToString());
  evdns_request* request = nullptr;
  if (pending.client.family == AF_INET) {
    in_addr in;
    memcpy(&in, pending.client.bytes.data(), 4);
    request = evdns_base_resolve_reverse(reverse_dns_.get(), &in, 0, OnReverseReply, query);
  } else {
    in6_addr in6;
    memcpy(&in6, pending.client.bytes.data(), 16);
    request = evdns_base_resolve_reverse_ipv6(reverse_dns_.get(), &in6, 0, OnReverseReply, query);
  }
  if (request == nullptr) {
    // libevent returns nothing only when it could not allocate the request,
    // before any callback: the session starts without a name.
    LOG_WARNING("reverse lookup for %s could not be queued", query->name.c_str());
    Finish(lookup_id, Outcome{});
  }
}

void ClientLookups::OnReverseReply(int result, char type, int count, int, void* addresses,
                                   void* query_ptr) {
  auto* query = static_cast<Query*>(query_ptr);
  Outcome outcome;
  if (result == DNS_ERR_NONE && type == DNS_PTR && count > 0)
    outcome.hostname = *static_cast<char**>(addresses);
  query->owner->Finish(query->lookup_id, std::move(outcome));
}

void ClientLookups::Finish(uint64_t lookup_id, Outcome outcome) {
  auto it = pending_.find(lookup_id);
  if (it == pending_.end()) return;
  Done done = std::move(it->second.done);
  pending_.erase(it);
  done(outcome);
}

}  // namespace postern
