// lib/tls/tls_resumption_cache.cc — see lib/tls/tls_resumption_cache.h.
#include "lib/tls/tls_resumption_cache.h"

#include <gnutls/gnutls.h>

#include <algorithm>

namespace postern {

std::string TlsResumptionCache::NextHopKey(const std::string& check, const std::string& host,
                                           const std::string& address_and_port) {
  return check + " " + host + " " + address_and_port;
}

namespace {

void Wipe(std::string* session) {
  gnutls_memset(session->data(), 0, session->size());
  session->clear();
}

}  // namespace

void TlsResumptionCache::Keep(const std::string& key, std::string session) {
  if (session.empty() || session.size() > kMaxSessionBytes) return;
  if (auto found = entries_.find(key); found != entries_.end()) Drop(found);
  while (!entries_.empty() &&
         (entries_.size() >= kMaxEntries || bytes_ + session.size() > kMaxBytes)) {
    DropLongestKept();
  }
  bytes_ += session.size();
  entries_.emplace(key, Entry{std::move(session), clock_->Now()});
}

std::string TlsResumptionCache::Take(const std::string& key) {
  auto found = entries_.find(key);
  if (found == entries_.end()) return {};
  const bool fresh = clock_->Now() - found->second.kept_at <= kKeptFor;
  std::string session;
  if (fresh) session.swap(found->second.session);
  bytes_ -= session.size();
  Drop(found);
  return session;
}

void TlsResumptionCache::Clear() {
  while (!entries_.empty()) Drop(entries_.begin());
}

void TlsResumptionCache::Drop(Entries::iterator entry) {
  bytes_ -= entry->second.session.size();
  Wipe(&entry->second.session);
  entries_.erase(entry);
}

void TlsResumptionCache::DropLongestKept() {
  Drop(std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
    return a.second.kept_at < b.second.kept_at;
  }));
}

}  // namespace postern
