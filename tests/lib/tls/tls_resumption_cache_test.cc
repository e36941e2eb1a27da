// tests/lib/tls/tls_resumption_cache_test.cc — TlsResumptionCache: one
// session per next hop, taken once, kept for an hour at most, at most
// kMaxEntries next hops and kMaxBytes of sessions, on a fake clock.
#define BOOST_TEST_DYN_LINK
#include "lib/tls/tls_resumption_cache.h"

#include <boost/test/unit_test.hpp>
#include <string>

#include "lib/base/clock.h"

namespace postern {
namespace {

std::string HopKey(int n) {
  return TlsResumptionCache::NextHopKey("none", "mx" + std::to_string(n) + ".example.test",
                                        "192.0.2." + std::to_string(n % 250) + ":25");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tls_resumption_cache)

BOOST_AUTO_TEST_CASE(a_session_is_taken_once_by_its_own_next_hop) {
  FakeClock clock;
  TlsResumptionCache cache(&clock);
  const std::string verified =
      TlsResumptionCache::NextHopKey("verify", "mx.example.test", "mx.example.test[192.0.2.1]:25");
  const std::string unchecked =
      TlsResumptionCache::NextHopKey("none", "mx.example.test", "mx.example.test[192.0.2.1]:25");
  const std::string other_port =
      TlsResumptionCache::NextHopKey("verify", "mx.example.test", "mx.example.test[192.0.2.1]:587");
  cache.Keep(verified, "session one");
  BOOST_TEST(cache.Take(unchecked).empty());
  BOOST_TEST(cache.Take(other_port).empty());
  BOOST_TEST(cache.Take(verified) == "session one");
  BOOST_TEST(cache.Take(verified).empty());
  BOOST_TEST(cache.size() == 0u);
}

BOOST_AUTO_TEST_CASE(the_latest_session_replaces_the_one_kept) {
  FakeClock clock;
  TlsResumptionCache cache(&clock);
  cache.Keep(HopKey(1), "older");
  cache.Keep(HopKey(1), "newer");
  cache.Keep(HopKey(1), "");  // a connection that got no ticket keeps nothing
  BOOST_TEST(cache.size() == 1u);
  BOOST_TEST(cache.Take(HopKey(1)) == "newer");
}

BOOST_AUTO_TEST_CASE(a_session_older_than_an_hour_is_not_offered) {
  FakeClock clock;
  TlsResumptionCache cache(&clock);
  cache.Keep(HopKey(1), "fresh enough");
  cache.Keep(HopKey(2), "too old");
  clock.Advance(TlsResumptionCache::kKeptFor);
  BOOST_TEST(cache.Take(HopKey(1)) == "fresh enough");
  clock.Advance(std::chrono::seconds(1));
  BOOST_TEST(cache.Take(HopKey(2)).empty());
  BOOST_TEST(cache.size() == 0u);
  BOOST_TEST(cache.bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_full_cache_forgets_the_longest_kept) {
  FakeClock clock;
  TlsResumptionCache cache(&clock);
  for (size_t n = 0; n < TlsResumptionCache::kMaxEntries; ++n) {
    cache.Keep(HopKey(static_cast<int>(n)), "session " + std::to_string(n));
    clock.Advance(std::chrono::milliseconds(1));
  }
  cache.Keep(HopKey(0), "session 0, renewed");  // now the most recent
  clock.Advance(std::chrono::milliseconds(1));
  cache.Keep(HopKey(-1), "one more");
  BOOST_TEST(cache.size() == TlsResumptionCache::kMaxEntries);
  BOOST_TEST(cache.Take(HopKey(1)).empty());  // the longest kept went
  BOOST_TEST(cache.Take(HopKey(0)) == "session 0, renewed");
  BOOST_TEST(cache.Take(HopKey(2)) == "session 2");
  BOOST_TEST(cache.Take(HopKey(-1)) == "one more");
}

BOOST_AUTO_TEST_CASE(the_sessions_kept_stay_within_their_bytes) {
  FakeClock clock;
  TlsResumptionCache cache(&clock);
  cache.Keep(HopKey(1), std::string(TlsResumptionCache::kMaxSessionBytes + 1, 's'));
  BOOST_TEST(cache.size() == 0u);  // one session too big is not kept
  const size_t big = TlsResumptionCache::kMaxSessionBytes;
  const size_t fit = TlsResumptionCache::kMaxBytes / big;
  for (size_t n = 0; n <= fit; ++n) {
    cache.Keep(HopKey(static_cast<int>(n)), std::string(big, 'a' + n % 26));
    clock.Advance(std::chrono::milliseconds(1));
    BOOST_TEST(cache.bytes() <= TlsResumptionCache::kMaxBytes);
  }
  BOOST_TEST(cache.size() == fit);
  BOOST_TEST(cache.Take(HopKey(0)).empty());  // the longest kept made room
  BOOST_TEST(cache.Take(HopKey(static_cast<int>(fit))) == std::string(big, 'a' + fit % 26));
  BOOST_TEST(cache.bytes() == (fit - 1) * big);
  cache.Keep(HopKey(1), "small");  // replacing counts the new size only
  BOOST_TEST(cache.bytes() == (fit - 2) * big + 5);
  cache.Clear();
  BOOST_TEST(cache.bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(clear_forgets_every_session) {
  FakeClock clock;
  TlsResumptionCache cache(&clock);
  cache.Keep(HopKey(1), "one");
  cache.Keep(HopKey(2), "two");
  cache.Clear();
  BOOST_TEST(cache.size() == 0u);
  BOOST_TEST(cache.Take(HopKey(1)).empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
