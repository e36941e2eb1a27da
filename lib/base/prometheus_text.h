// lib/base/prometheus_text.h — the Prometheus text exposition format (0.0.4).
//
// What `metrics_listen` serves is written with this: master and qmgr each
// write their own families (distinct names) and master joins the two texts.
// Each family is written whole, once: its HELP and TYPE lines, then its
// samples, so a scraper and `promtool check metrics` accept the page.
// Label values are escaped (backslash, double quote, newline); names are
// the caller's constants and are not checked. A Histogram counts
// observations into fixed upper bounds, cumulative when written, with
// the +Inf bucket, _sum and _count the format requires. Pure: no clock, no
// I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace postern {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Histogram {
 public:
  // bounds: the buckets' upper bounds, increasing.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);

  const std::vector<double>& bounds() const { return bounds_; }
  // Observations per bucket, not cumulative; one more than bounds (+Inf).
  const std::vector<uint64_t>& counts() const { return counts_; }
  double sum() const { return sum_; }
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

class PrometheusText {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // Starts a family: its # HELP and # TYPE lines.
  void Family(std::string_view name, Type type, std::string_view help);
  // One sample of the family begun last (a counter's name ends in _total).
  void Sample(std::string_view name, const MetricLabels& labels, double value);
  // The whole histogram family named name: HELP, TYPE, buckets, sum, count.
  void HistogramFamily(std::string_view name, std::string_view help, const Histogram& histogram);
  // Text another writer produced (qmgr's families), appended as it is.
  void Append(std::string_view text) { text_.append(text); }

  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// A label value as the format writes it between double quotes.
std::string EscapeLabelValue(std::string_view value);
// A sample value: integers without a fraction, others shortest exact, +Inf.
std::string FormatMetricValue(double value);

}  // namespace postern
