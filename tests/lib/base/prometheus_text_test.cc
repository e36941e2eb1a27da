// tests/lib/base/prometheus_text_test.cc — the Prometheus text format
// (lib/base/prometheus_text.h): families, escaping, values, histograms.
#define BOOST_TEST_DYN_LINK
#include "lib/base/prometheus_text.h"

#include <boost/test/unit_test.hpp>
#include <limits>
#include <string>

namespace postern {
namespace {

BOOST_AUTO_TEST_SUITE(prometheus_text)

BOOST_AUTO_TEST_CASE(a_family_is_help_type_then_its_samples) {
  PrometheusText text;
  text.Family("postern_messages_total", PrometheusText::Type::kCounter, "Messages queued.");
  text.Sample("postern_messages_total", {{"listener", "submission"}}, 3);
  text.Sample("postern_messages_total", {{"listener", "smtp"}, {"x", "y"}}, 0);
  text.Family("postern_up", PrometheusText::Type::kGauge, "Always 1.");
  text.Sample("postern_up", {}, 1);
  BOOST_TEST(text.text() ==
             "# HELP postern_messages_total Messages queued.\n"
             "# TYPE postern_messages_total counter\n"
             "postern_messages_total{listener=\"submission\"} 3\n"
             "postern_messages_total{listener=\"smtp\",x=\"y\"} 0\n"
             "# HELP postern_up Always 1.\n"
             "# TYPE postern_up gauge\n"
             "postern_up 1\n");
}

BOOST_AUTO_TEST_CASE(label_values_and_help_escape_backslash_quote_and_newline) {
  BOOST_TEST(EscapeLabelValue("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  PrometheusText text;
  text.Family("m", PrometheusText::Type::kGauge, "two\nlines \\ here");
  text.Sample("m", {{"l", "\"quoted\""}}, 1);
  BOOST_TEST(text.text() ==
             "# HELP m two\\nlines \\\\ here\n# TYPE m gauge\nm{l=\"\\\"quoted\\\"\"} 1\n");
}

BOOST_AUTO_TEST_CASE(values_are_integers_when_whole_else_exact) {
  BOOST_TEST(FormatMetricValue(0) == "0");
  BOOST_TEST(FormatMetricValue(18446744073709.0) == "18446744073709");
  BOOST_TEST(FormatMetricValue(0.25) == "0.25");
  BOOST_TEST(FormatMetricValue(0.1) == "0.1");  // the shortest text that reads back the same
  BOOST_TEST(std::stod(FormatMetricValue(1.0 / 3)) == 1.0 / 3);
  BOOST_TEST(FormatMetricValue(std::numeric_limits<double>::infinity()) == "+Inf");
  BOOST_TEST(FormatMetricValue(1e300) == "1e+300");
  BOOST_TEST(FormatMetricValue(0.1 + 0.2) == "0.30000000000000004");
}

BOOST_AUTO_TEST_CASE(a_histogram_is_cumulative_with_inf_sum_and_count) {
  Histogram h({1, 2, 4});
  for (double v : {0.5, 1.0, 1.5, 3.0, 9.0}) h.Observe(v);
  BOOST_TEST(h.count() == 5u);
  BOOST_TEST(h.sum() == 15.0);
  PrometheusText text;
  text.HistogramFamily("batch", "Messages per commit.", h);
  BOOST_TEST(text.text() ==
             "# HELP batch Messages per commit.\n"
             "# TYPE batch histogram\n"
             "batch_bucket{le=\"1\"} 2\n"  // 0.5, and 1.0 (le: less or equal)
             "batch_bucket{le=\"2\"} 3\n"
             "batch_bucket{le=\"4\"} 4\n"
             "batch_bucket{le=\"+Inf\"} 5\n"
             "batch_sum 15\n"
             "batch_count 5\n");
}

BOOST_AUTO_TEST_CASE(an_empty_histogram_still_has_every_bucket) {
  PrometheusText text;
  text.HistogramFamily("h", "x", Histogram({0.001}));
  BOOST_TEST(text.text() ==
             "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"0.001\"} 0\n"
             "h_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
