// lib/tls/tls_resumption_cache.cc — see lib/tls/tls_resumption_cache.h.
#include "lib/tls/tls_resumption_cache.h"

#include <gnutls/gnutls.h>

#include <algorithm>

namespace postern {

std::string TlsResumptionCache::NextHopKey(const std::string& check, const std::string& host,
                                           const std::string& address_and_port) {
  return check + " " + host + " " + address_and_port;
}

void TlsResumptionCache::Keep(const std::string& key, std::string session) {
  if (session.empty()) return;
  auto found = entries_.find(key);
  if (found != entries_.end()) {
    Wipe(&found->second.session);
    found->second = Entry{std::move(session), clock_->Now()};
    return;
  }
  if (entries_.size() >= kMaxEntries) DropLongestKept();
  entries_.emplace(key, Entry{std::move(session), clock_->Now()});
}

std::string TlsResumptionCache::Take(const std::string& key) {
  auto found = entries_.find(key);
  if (found == entries_.end()) return {};
  std::string session = std::move(found->second.session);
  const bool fresh = clock_->Now() - found->second.kept_at <= kKeptFor;
  entries_.erase(found);
  if (fresh) return session;
  Wipe(&session);
  return {};
}

void TlsResumptionCache::Clear() {
  for (auto& [key, entry] : entries_) Wipe(&entry.session);
  entries_.clear();
}

void TlsResumptionCache::Wipe(std::string* session) {
  gnutls_memset(session->data(), 0, session->size());
  session->clear();
}

void TlsResumptionCache::DropLongestKept() {
  auto oldest = std::min_element(
      entries_.begin(), entries_.end(),
      [](const auto& a, const auto& b) { return a.second.kept_at < b.second.kept_at; });
  Wipe(&oldest->second.session);
  entries_.erase(oldest);
}

}  // namespace postern
