// Prometheus registry: exact text exposition output and thread safety.
#include <gtest/gtest.h>

#include <thread>

#include "kvik/server_metrics.h"

namespace kvik::server {
namespace {

TEST(Metrics, CountersAndGaugesRenderWithHelpAndType) {
  MetricsRegistry registry;
  registry.GetCounter("kvik_requests_total", "Requests answered.").Increment();
  registry.GetCounter("kvik_requests_total", "ignored: the family exists").Increment(2);
  Gauge& depth = registry.GetGauge("kvik_queue_depth", "Waiting requests.");
  depth.Set(5);
  depth.Add(-1.5);
  EXPECT_EQ(registry.Render(),
            "# HELP kvik_requests_total Requests answered.\n"
            "# TYPE kvik_requests_total counter\n"
            "kvik_requests_total 3\n"
            "# HELP kvik_queue_depth Waiting requests.\n"
            "# TYPE kvik_queue_depth gauge\n"
            "kvik_queue_depth 3.5\n");
}

TEST(Metrics, LabelledSeriesShareOneFamilyAndEscapeValues) {
  MetricsRegistry registry;
  registry.GetCounter("http_total", "By code.", {{"route", "/v1"}, {"code", "200"}}).Increment(4);
  registry.GetCounter("http_total", "By code.", {{"route", "/v1"}, {"code", "400"}}).Increment();
  registry.GetGauge("odd", "Line\\one\ntwo", {{"v", "a\"b\\c\nd"}}).Set(1);
  EXPECT_EQ(registry.Render(),
            "# HELP http_total By code.\n"
            "# TYPE http_total counter\n"
            "http_total{route=\"/v1\",code=\"200\"} 4\n"
            "http_total{route=\"/v1\",code=\"400\"} 1\n"
            "# HELP odd Line\\\\one\\ntwo\n"
            "# TYPE odd gauge\n"
            "odd{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(Metrics, HistogramBucketsAreCumulativeWithSumAndCount) {
  MetricsRegistry registry;
  Histogram& h = registry.GetHistogram("ttft_seconds", "TTFT.", {0.1, 0.5, 1}, {{"ep", "chat"}});
  for (double v : {0.05, 0.1, 0.3, 2.0}) h.Observe(v);
  EXPECT_EQ(registry.Render(),
            "# HELP ttft_seconds TTFT.\n"
            "# TYPE ttft_seconds histogram\n"
            "ttft_seconds_bucket{ep=\"chat\",le=\"0.1\"} 2\n"
            "ttft_seconds_bucket{ep=\"chat\",le=\"0.5\"} 3\n"
            "ttft_seconds_bucket{ep=\"chat\",le=\"1\"} 3\n"
            "ttft_seconds_bucket{ep=\"chat\",le=\"+Inf\"} 4\n"
            "ttft_seconds_sum{ep=\"chat\"} 2.45\n"
            "ttft_seconds_count{ep=\"chat\"} 4\n");
}

TEST(Metrics, UnlabelledHistogramHasOnlyTheLeLabel) {
  MetricsRegistry registry;
  registry.GetHistogram("h", "H.", {1}).Observe(0.5);
  EXPECT_EQ(registry.Render(),
            "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
            "h_sum 0.5\nh_count 1\n");
}

TEST(Metrics, ValuesUseShortestRoundTripAndSpecialNames) {
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(3), "3");
  EXPECT_EQ(FormatMetricValue(1e21), "1e+21");
  EXPECT_EQ(FormatMetricValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatMetricValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatMetricValue(0.0 / 0.0), "NaN");
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry registry;
  constexpr int kThreads = 4, kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&registry, t] {
      for (int i = 0; i < kPerThread; ++i) {
        registry.GetCounter("c", "C.").Increment();
        registry.GetHistogram("h", "H.", {0.5}).Observe(i % 2 ? 0.25 : 1.0);
        registry.GetCounter("per", "Per thread.", {{"t", std::to_string(t % 2)}}).Increment();
        if (i % 1000 == 0) registry.Render();  // scraping while updating
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::string text = registry.Render();
  EXPECT_NE(text.find("\nc 80000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{le=\"0.5\"} 40000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_count 80000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_sum 50000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("per{t=\"0\"} 40000\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace kvik::server
