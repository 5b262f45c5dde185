// Prometheus registry and text exposition (format 0.0.4); see kvik/server_metrics.h.
#include <algorithm>
#include <cassert>
#include <cctype>
#include <charconv>
#include <cmath>
#include <deque>
#include <tuple>

#include "kvik/server_metrics.h"

namespace kvik::server {
namespace {

enum Type { kCounter = 0, kGauge = 1, kHistogram = 2 };
const char* kTypeNames[] = {"counter", "gauge", "histogram"};

// HELP text escapes backslash and newline; label values also escape the double quote.
std::string Escape(std::string_view text, bool quote) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string LabelText(const MetricLabels& labels, const std::string& extra_name = "",
                      const std::string& extra_value = "") {
  std::string out;
  for (const auto& [name, value] : labels) {
    out += (out.empty() ? "" : ",") + name + "=\"" + Escape(value, true) + "\"";
  }
  if (!extra_name.empty())
    out += (out.empty() ? "" : ",") + extra_name + "=\"" + extra_value + "\"";
  return out.empty() ? "" : "{" + out + "}";
}

[[maybe_unused]] bool ValidName(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  });
}

}  // namespace

void Counter::Increment(double amount) {
  assert(amount >= 0 && "a counter only goes up");
  value_.fetch_add(amount, std::memory_order_relaxed);
}

void Gauge::Add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      bucket_counts_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  assert(std::is_sorted(upper_bounds_.begin(), upper_bounds_.end()));
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) bucket_counts_[i] = 0;
}

void Histogram::Observe(double value) {
  // Prometheus buckets are "less than or equal": value == bound counts in that bucket.
  size_t bucket =
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin();
  bucket_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(upper_bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    total += bucket_counts_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

std::vector<double> LatencyBucketsSeconds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

struct MetricsRegistry::Family {
  std::string name, help;
  int type = kCounter;
  // deques: growing them keeps references to earlier series valid.
  std::deque<std::pair<MetricLabels, Counter>> counters;
  std::deque<std::pair<MetricLabels, Gauge>> gauges;
  std::deque<std::pair<MetricLabels, Histogram>> histograms;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::FamilyFor(const std::string& name,
                                                    const std::string& help, int type) {
  assert(ValidName(name) && "invalid Prometheus metric name");
  for (auto& family : families_) {
    if (family->name == name) {
      assert(family->type == type && "a metric name registered twice with different types");
      return *family;
    }
  }
  families_.push_back(std::make_unique<Family>());
  families_.back()->name = name;
  families_.back()->help = help;
  families_.back()->type = type;
  return *families_.back();
}

Counter& MetricsRegistry::GetCounter(const std::string& name, const std::string& help,
                                     const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  Family& family = FamilyFor(name, help, kCounter);
  for (auto& [series_labels, counter] : family.counters) {
    if (series_labels == labels) return counter;
  }
  return family.counters
      .emplace_back(std::piecewise_construct, std::forward_as_tuple(labels),
                    std::forward_as_tuple())
      .second;
}

Gauge& MetricsRegistry::GetGauge(const std::string& name, const std::string& help,
                                 const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  Family& family = FamilyFor(name, help, kGauge);
  for (auto& [series_labels, gauge] : family.gauges) {
    if (series_labels == labels) return gauge;
  }
  return family.gauges
      .emplace_back(std::piecewise_construct, std::forward_as_tuple(labels),
                    std::forward_as_tuple())
      .second;
}

Histogram& MetricsRegistry::GetHistogram(const std::string& name, const std::string& help,
                                         const std::vector<double>& upper_bounds,
                                         const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  Family& family = FamilyFor(name, help, kHistogram);
  for (auto& [series_labels, histogram] : family.histograms) {
    if (series_labels == labels) return histogram;
  }
  return family.histograms
      .emplace_back(std::piecewise_construct, std::forward_as_tuple(labels),
                    std::forward_as_tuple(upper_bounds))
      .second;
}

std::string MetricsRegistry::Render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& family : families_) {
    const std::string& name = family->name;
    out += "# HELP " + name + " " + Escape(family->help, false) + "\n";
    out += "# TYPE " + name + " " + kTypeNames[family->type] + "\n";
    for (const auto& [labels, counter] : family->counters) {
      out += name + LabelText(labels) + " " + FormatMetricValue(counter.value()) + "\n";
    }
    for (const auto& [labels, gauge] : family->gauges) {
      out += name + LabelText(labels) + " " + FormatMetricValue(gauge.value()) + "\n";
    }
    for (const auto& [labels, histogram] : family->histograms) {
      std::vector<uint64_t> counts = histogram.CumulativeCounts();
      const auto& bounds = histogram.upper_bounds();
      for (size_t i = 0; i < counts.size(); ++i) {
        std::string le = i < bounds.size() ? FormatMetricValue(bounds[i]) : "+Inf";
        out +=
            name + "_bucket" + LabelText(labels, "le", le) + " " + std::to_string(counts[i]) + "\n";
      }
      out += name + "_sum" + LabelText(labels) + " " + FormatMetricValue(histogram.sum()) + "\n";
      out += name + "_count" + LabelText(labels) + " " + std::to_string(counts.back()) + "\n";
    }
  }
  return out;
}

}  // namespace kvik::server
