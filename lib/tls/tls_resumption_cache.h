// lib/tls/tls_resumption_cache.h — TLS sessions the relay client may resume,
// one per next hop.
//
// After a handshake with a next hop, the client keeps what GnuTLS needs to
// resume that session (its session data, with the server's ticket) under
// the next hop's key: the check it passed, the name it was made for, the
// address and port (NextHopKey). The next connection to the same key takes
// it and offers it, so the two ends skip the certificate and the key
// exchange, as Postfix's smtp_tls_session_cache_database does. Taking
// removes: a TLS 1.3 ticket serves one connection (RFC 8446 C.4), and the
// new connection keeps the ticket it gets in turn.
//
// Bounded, since a next hop chooses how big its ticket and certificates
// are: an entry is kept for kKeptFor at most (servers set the ticket's own
// lifetime, and refuse an old one with a full handshake); a session larger
// than kMaxSessionBytes is not kept; at most kMaxEntries next hops and
// kMaxBytes of sessions are remembered, the longest kept going first. The
// session data hold a resumption secret: they are wiped when dropped. Time
// comes from the Clock given, so a test drives the expiry.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

#include "lib/base/clock.h"

namespace postern {

class TlsResumptionCache {
 public:
  static constexpr std::chrono::hours kKeptFor{1};
  static constexpr size_t kMaxEntries = 1000;
  static constexpr size_t kMaxSessionBytes = 64 * 1024;
  static constexpr size_t kMaxBytes = 4 * 1024 * 1024;

  // The key of one next hop: check ("verify" or "none": a session made
  // without a check never resumes under verify), the name the certificate
  // was (or would be) checked against, and the address and port.
  static std::string NextHopKey(const std::string& check, const std::string& host,
                                const std::string& address_and_port);

  // clock must outlive the cache.
  explicit TlsResumptionCache(const Clock* clock) : clock_(clock) {}
  ~TlsResumptionCache() { Clear(); }
  TlsResumptionCache(const TlsResumptionCache&) = delete;
  TlsResumptionCache& operator=(const TlsResumptionCache&) = delete;

  // Keeps session for key, in place of what was kept for it. An empty
  // session, or one larger than kMaxSessionBytes, keeps nothing.
  void Keep(const std::string& key, std::string session);
  // The session kept for key and not older than kKeptFor, now forgotten;
  // empty when there is none.
  std::string Take(const std::string& key);
  // Forgets every session (on reload: the trust or the policy may change).
  void Clear();
  size_t size() const { return entries_.size(); }
  // The bytes of the sessions kept.
  size_t bytes() const { return bytes_; }

 private:
  struct Entry {
    std::string session;
    TimePoint kept_at;
  };
  using Entries = std::unordered_map<std::string, Entry>;
  // Wipes and forgets the entry.
  void Drop(Entries::iterator entry);
  void DropLongestKept();

  const Clock* clock_;
  Entries entries_;
  size_t bytes_ = 0;
};

}  // namespace postern
