// tests/lib/queue/queue_metrics_test.cc — qmgr's families for metrics_listen
// (lib/queue/queue_metrics.h): deliveries by transport and status, the
// queue by state, commit batches and times.
#define BOOST_TEST_DYN_LINK
#include "lib/queue/queue_metrics.h"

#include <boost/test/unit_test.hpp>
#include <string>

namespace postern {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

BOOST_AUTO_TEST_SUITE(queue_metrics)

BOOST_AUTO_TEST_CASE(every_delivery_series_exists_from_the_start) {
  QueueMetrics metrics;
  PrometheusText text;
  metrics.Write(&text, QueueDepth{});
  for (const char* transport : {"maildir", "smtp"})
    for (const char* status : {"sent", "deferred", "bounced"})
      BOOST_TEST(Has(text.text(), std::string("postern_deliveries_total{transport=\"") + transport +
                                      "\",status=\"" + status + "\"} 0"),
                 text.text());
}

BOOST_AUTO_TEST_CASE(attempts_commits_and_depth_are_written) {
  QueueMetrics metrics;
  metrics.Attempted(true, Verdict::kDelivered);
  metrics.Attempted(false, Verdict::kRelayed);
  metrics.Attempted(false, Verdict::kRelayedNoDsn);
  metrics.Attempted(false, Verdict::kDeferred);
  metrics.Attempted(true, Verdict::kFailed);
  metrics.Committed(3, std::chrono::microseconds(700));
  metrics.Committed(1, std::chrono::milliseconds(30));
  metrics.Committed(0, std::chrono::microseconds(50));  // outcomes only: no batch
  PrometheusText text;
  metrics.Write(&text, QueueDepth{.pending = 4, .deferred = 3, .held = 2, .in_delivery = 1});
  const std::string& t = text.text();
  BOOST_TEST(Has(t, "postern_deliveries_total{transport=\"maildir\",status=\"sent\"} 1"), t);
  BOOST_TEST(Has(t, "postern_deliveries_total{transport=\"smtp\",status=\"sent\"} 2"), t);
  BOOST_TEST(Has(t, "postern_deliveries_total{transport=\"smtp\",status=\"deferred\"} 1"), t);
  BOOST_TEST(Has(t, "postern_deliveries_total{transport=\"maildir\",status=\"bounced\"} 1"), t);
  BOOST_TEST(Has(t, "postern_queue_messages{state=\"pending\"} 4"), t);
  BOOST_TEST(Has(t, "postern_queue_messages{state=\"in_delivery\"} 1"), t);
  BOOST_TEST(Has(t, "postern_commit_batch_messages_bucket{le=\"1\"} 1"), t);
  BOOST_TEST(Has(t, "postern_commit_batch_messages_bucket{le=\"2\"} 1"), t);
  BOOST_TEST(Has(t, "postern_commit_batch_messages_bucket{le=\"4\"} 2"), t);
  BOOST_TEST(Has(t, "postern_commit_batch_messages_count 2"), t);
  BOOST_TEST(Has(t, "postern_commit_batch_messages_sum 4"), t);
  BOOST_TEST(Has(t, "postern_commit_seconds_bucket{le=\"0.0001\"} 1"), t);
  BOOST_TEST(Has(t, "postern_commit_seconds_bucket{le=\"0.001\"} 2"), t);
  BOOST_TEST(Has(t, "postern_commit_seconds_bucket{le=\"0.025\"} 2"), t);
  BOOST_TEST(Has(t, "postern_commit_seconds_bucket{le=\"0.05\"} 3"), t);
  BOOST_TEST(Has(t, "postern_commit_seconds_count 3"), t);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
