// master/dnsbl_checker.cc — see master/dnsbl_checker.h.
#include "master/dnsbl_checker.h"

#include "lib/policy/ip_blocks.h"
#include "lib/base/log.h"

namespace postern {

DnsblChecker::~DnsblChecker() {
  // Freeing without failing the requests runs no callback: the Query
  // objects are released with pending_.
  dns_.reset();
}

Status DnsblChecker::Configure(const std::vector<std::string>& nameservers) {
  if (dns_) PANIC("the DNSBL resolver is configured once");
  // Each zone gets at most 2 tries of 2 s: a slow DNSBL delays its clients
  // by that much, never anyone else.
  Result<EvdnsBasePtr> dns = NewResolver(base_, {nameservers, 2, 2}, "block_list zones");
  if (!dns.ok()) return dns.status();
  dns_ = std::move(*dns);
  return Status::Ok();
}

void DnsblChecker::Check(const IpAddress& client, const std::vector<std::string>& zones,
                         Done done) {
  uint64_t id = next_id_++;
  Pending& pending = pending_[id];
  pending.done = std::move(done);
  // One count for this function itself, so that an answer delivered while
  // the queries are still being sent cannot finish the check early.
  pending.outstanding = static_cast<int>(zones.size()) + 1;
  for (const std::string& zone : zones) {
    auto query = std::make_unique<Query>(Query{this, id, DnsblQueryName(client, zone)});
    Query* raw = query.get();
    pending.queries[raw] = std::move(query);
    evdns_request* request = dns_ ? evdns_base_resolve_ipv4(dns_.get(), raw->name.c_str(),
                                                            DNS_QUERY_NO_SEARCH, OnAnswer, raw)
                                  : nullptr;
    if (request == nullptr) {
      LOG_WARNING("DNSBL lookup of %s could not be sent: client let in", raw->name.c_str());
      Finish(id, raw, false);
    }
  }
  Finish(id, nullptr, false);
}

void DnsblChecker::OnAnswer(int result, char type, int count, int, void* addresses,
                            void* query_ptr) {
  auto* query = static_cast<Query*>(query_ptr);
  bool listed = false;
  if (result == DNS_ERR_NONE && type == DNS_IPv4_A) {
    for (int i = 0; i < count; ++i)
      listed = listed || DnsblAnswerLists(static_cast<const uint32_t*>(addresses)[i]);
  } else if (result != DNS_ERR_NOTEXIST) {
    LOG_WARNING("DNSBL lookup of %s failed (%s): client let in", query->name.c_str(),
                evdns_err_to_string(result));
  }
  if (listed) LOG_INFO("DNSBL: %s is listed", query->name.c_str());
  query->checker->Finish(query->check_id, query, listed);
}

void DnsblChecker::Finish(uint64_t check_id, Query* query, bool listed) {
  auto it = pending_.find(check_id);
  if (it == pending_.end()) return;
  Pending& pending = it->second;
  if (query != nullptr) pending.queries.erase(query);
  pending.listed = pending.listed || listed;
  if (--pending.outstanding > 0) return;
  Done done = std::move(pending.done);
  bool any = pending.listed;
  pending_.erase(it);
  done(any);
}

}  // namespace postern
