// tests/lib/policy/traffic_counters_test.cc — master's running totals for
// metrics_listen (lib/policy/traffic_counters.h): by listener and reply,
// bounded, written as Prometheus families.
#define BOOST_TEST_DYN_LINK
#include "lib/policy/traffic_counters.h"

#include <boost/test/unit_test.hpp>
#include <string>

namespace postern {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

BOOST_AUTO_TEST_SUITE(traffic_counters)

BOOST_AUTO_TEST_CASE(sessions_and_refusals_add_up_per_listener_and_reply) {
  TrafficCounters counters;
  counters.Connected("submission");
  counters.Connected("submission");
  counters.Connected("smtp");
  counters.RefusedAtConnect("smtp", "421 4.3.2 Service not available\r\n");
  counters.RefusedAtConnect("smtp", "550 5.7.1 External client with IP address 192.0.2.1 ...\r\n");
  counters.RefusedAtConnect("smtp", "421 4.3.2 Service not available\r\n");
  counters.Add({.listener = "submission",
                .messages = 2,
                .rejections = 3,
                .bytes = 2048,
                .refused = {{"RCPT", 550, "5.1.1", 2}, {"MAIL", 530, "5.7.0", 1}}});
  counters.Add({.listener = "submission",
                .messages = 1,
                .rejections = 1,
                .bytes = 100,
                .refused = {{"RCPT", 550, "5.1.1", 1}}});
  PrometheusText text;
  counters.Write(&text, {{"smtp", 0}, {"submission", 4}});
  const std::string& t = text.text();
  BOOST_TEST(Has(t, "postern_connections_total{listener=\"smtp\"} 1"), t);
  BOOST_TEST(Has(t, "postern_connections_total{listener=\"submission\"} 2"), t);
  BOOST_TEST(Has(t, "postern_messages_total{listener=\"submission\"} 3"), t);
  BOOST_TEST(Has(t, "postern_message_bytes_total{listener=\"submission\"} 2148"), t);
  BOOST_TEST(Has(t,
                 "postern_rejections_total{listener=\"submission\",command=\"RCPT\",code="
                 "\"550\",enhanced=\"5.1.1\"} 3"),
             t);
  BOOST_TEST(Has(t,
                 "postern_rejections_total{listener=\"submission\",command=\"MAIL\",code="
                 "\"530\",enhanced=\"5.7.0\"} 1"),
             t);
  BOOST_TEST(Has(t,
                 "postern_rejections_total{listener=\"smtp\",command=\"CONNECT\",code="
                 "\"421\",enhanced=\"4.3.2\"} 2"),
             t);
  BOOST_TEST(Has(t,
                 "postern_rejections_total{listener=\"smtp\",command=\"CONNECT\",code="
                 "\"550\",enhanced=\"5.7.1\"} 1"),
             t);
  BOOST_TEST(Has(t, "postern_sessions{listener=\"submission\"} 4"), t);
  BOOST_TEST(Has(t, "# TYPE postern_rejections_total counter"), t);
  BOOST_TEST(Has(t, "# TYPE postern_sessions gauge"), t);
}

BOOST_AUTO_TEST_CASE(a_refusal_that_is_no_reply_line_still_counts) {
  TrafficCounters counters;
  counters.RefusedAtConnect("smtp", "garbage");
  counters.RefusedAtConnect("smtp", "421 no enhanced code\r\n");
  PrometheusText text;
  counters.Write(&text, {});
  BOOST_TEST(Has(text.text(),
                 "postern_rejections_total{listener=\"smtp\",command=\"CONNECT\","
                 "code=\"0\",enhanced=\"\"} 1"),
             text.text());
  BOOST_TEST(Has(text.text(),
                 "postern_rejections_total{listener=\"smtp\",command=\"CONNECT\","
                 "code=\"421\",enhanced=\"\"} 1"),
             text.text());
}

BOOST_AUTO_TEST_CASE(series_are_bounded_whatever_a_worker_sends) {
  TrafficCounters counters;
  for (size_t i = 0; i < 3 * TrafficCounters::kMaxSeries; ++i) {
    const std::string name = "l" + std::to_string(i);
    counters.Add({.listener = name,
                  .messages = 1,
                  .rejections = 1,
                  .bytes = 1,
                  .refused = {{"RCPT", 550, std::to_string(i % 1000) + ".0", 1}}});
  }
  PrometheusText text;
  counters.Write(&text, {});
  size_t lines = 0;
  for (char c : text.text()) lines += c == '\n';
  // Three families of at most kMaxSeries listeners, one of at most
  // kMaxSeries rejections, HELP and TYPE lines.
  BOOST_TEST(lines <= 4 * TrafficCounters::kMaxSeries + 10);
  BOOST_TEST(Has(text.text(), "postern_messages_total{listener=\"l0\"} 1"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
