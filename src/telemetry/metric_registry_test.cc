// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/telemetry/metric_registry.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace otlp_arrow::telemetry {
namespace {

using ::testing::HasSubstr;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

auto Constant(double v) {
  return [v] { return v; };
}

TEST(MetricRegistry, EmptyRendersNothing) {
  MetricRegistry registry;
  EXPECT_EQ(registry.Render(), "");
}

TEST(MetricRegistry, CounterFamilyWithSeveralSeries) {
  MetricRegistry registry;
  std::atomic<int64_t> grpc{12};
  ASSERT_TRUE(registry
                  .AddCounter({"otlp_arrow_spans_received_total",
                               "Spans received, by protocol.",
                               "",
                               {{"protocol", "grpc"}}},
                              [&] { return static_cast<double>(grpc.load()); })
                  .ok());
  ASSERT_TRUE(
      registry
          .AddGauge({"otlp_arrow_queue_spans", "Spans in the export queue.", "", {}},
                    Constant(7))
          .ok());
  // A series of the first family registered after another family still renders in its
  // family's block.
  ASSERT_TRUE(registry
                  .AddCounter({"otlp_arrow_spans_received_total",
                               "Spans received, by protocol.",
                               "",
                               {{"protocol", "http"}}},
                              Constant(3))
                  .ok());
  EXPECT_EQ(registry.Render(),
            "# HELP otlp_arrow_spans_received_total Spans received, by protocol.\n"
            "# TYPE otlp_arrow_spans_received_total counter\n"
            "otlp_arrow_spans_received_total{protocol=\"grpc\"} 12\n"
            "otlp_arrow_spans_received_total{protocol=\"http\"} 3\n"
            "# HELP otlp_arrow_queue_spans Spans in the export queue.\n"
            "# TYPE otlp_arrow_queue_spans gauge\n"
            "otlp_arrow_queue_spans 7\n");
  // Values are read at each render, not at registration.
  grpc = 20;
  EXPECT_THAT(registry.Render(),
              HasSubstr("otlp_arrow_spans_received_total{protocol=\"grpc\"} 20\n"));
}

TEST(MetricRegistry, LabelsSortedByNameAndValuesEscaped) {
  MetricRegistry registry;
  ASSERT_TRUE(registry
                  .AddGauge({"g",
                             "Help with a back\\slash and a\nnew line and \"quotes\".",
                             "",
                             {{"path", "C:\\dir\n\"x\""}, {"a", "ü"}}},
                            Constant(1))
                  .ok());
  // HELP escapes backslash and line feed but not quotes; label values all three.
  EXPECT_EQ(registry.Render(),
            "# HELP g Help with a back\\\\slash and a\\nnew line and \"quotes\".\n"
            "# TYPE g gauge\n"
            "g{a=\"ü\",path=\"C:\\\\dir\\n\\\"x\\\"\"} 1\n");
}

TEST(MetricRegistry, ValuesRoundTrip) {
  const std::vector<std::pair<double, std::string>> cases = {
      {0, "0"},
      {-0.5, "-0.5"},
      {0.1, "0.1"},
      {1.0 / 3, "0.3333333333333333"},
      {123456789, "123456789"},
      {9007199254740993.0, "9007199254740992"},  // 2^53 + 1 is not a double
      {1e21, "1e+21"},
      {5e-324, "5e-324"},
      {kInf, "+Inf"},
      {-kInf, "-Inf"},
      {kNaN, "NaN"},
  };
  for (const auto& [value, text] : cases) {
    MetricRegistry registry;
    ASSERT_TRUE(registry.AddGauge({"v", "A value.", "", {}}, Constant(value)).ok());
    EXPECT_EQ(registry.Render(), "# HELP v A value.\n# TYPE v gauge\nv " + text + "\n")
        << value;
    if (std::isfinite(value)) {
      // strtod, not stod: stod throws on the subnormal 5e-324.
      EXPECT_EQ(std::strtod(text.c_str(), nullptr), value) << text;
    }
  }
}

TEST(MetricRegistry, HistogramCumulativeBucketsSumAndCount) {
  MetricRegistry registry;
  Histogram histogram({0.005, 0.25, 1});
  // Binary fractions, so that the sum is exact; 0.25 is on a bound, which is inclusive.
  for (double v : {0.00390625, 0.25, 0.125, 0.5, 0.75, 3.0}) histogram.Observe(v);
  ASSERT_TRUE(registry
                  .AddHistogram({"otlp_arrow_export_duration_seconds",
                                 "Export latency.",
                                 "seconds",
                                 {{"exporter", "flight"}}},
                                [&] { return histogram.Snapshot(); })
                  .ok());
  // A histogram series without labels has only `le` in braces.
  ASSERT_TRUE(registry
                  .AddHistogram({"h", "Empty.", "", {}},
                                [] {
                                  return HistogramSnapshot{{2.5}, {0, 0}, 0, 0};
                                })
                  .ok());
  EXPECT_EQ(
      registry.Render(),
      "# HELP otlp_arrow_export_duration_seconds Export latency.\n"
      "# TYPE otlp_arrow_export_duration_seconds histogram\n"
      "otlp_arrow_export_duration_seconds_bucket{exporter=\"flight\",le=\"0.005\"} 1\n"
      "otlp_arrow_export_duration_seconds_bucket{exporter=\"flight\",le=\"0.25\"} 3\n"
      "otlp_arrow_export_duration_seconds_bucket{exporter=\"flight\",le=\"1\"} 5\n"
      "otlp_arrow_export_duration_seconds_bucket{exporter=\"flight\",le=\"+Inf\"} 6\n"
      "otlp_arrow_export_duration_seconds_sum{exporter=\"flight\"} 4.62890625\n"
      "otlp_arrow_export_duration_seconds_count{exporter=\"flight\"} 6\n"
      "# HELP h Empty.\n"
      "# TYPE h histogram\n"
      "h_bucket{le=\"2.5\"} 0\n"
      "h_bucket{le=\"+Inf\"} 0\n"
      "h_sum 0\n"
      "h_count 0\n");
}

TEST(MetricRegistry, HistogramCountIsTheInfBucket) {
  // A snapshot taken while an observation was in flight: counted, not yet in a bucket.
  MetricRegistry registry;
  ASSERT_TRUE(registry
                  .AddHistogram({"h", "Racy.", "", {}},
                                [] {
                                  return HistogramSnapshot{{1}, {2, 1}, 9, 4};
                                })
                  .ok());
  EXPECT_THAT(registry.Render(),
              HasSubstr("h_bucket{le=\"+Inf\"} 3\nh_sum 9\nh_count 3\n"));
}

TEST(MetricRegistry, MalformedHistogramSnapshotIsLeftOut) {
  MetricRegistry registry;
  ASSERT_TRUE(registry
                  .AddHistogram({"bad", "Counts do not match bounds.", "", {{"k", "1"}}},
                                [] {
                                  return HistogramSnapshot{{1, 2}, {1, 1}, 1, 2};
                                })
                  .ok());
  ASSERT_TRUE(registry
                  .AddHistogram({"bad", "Counts do not match bounds.", "", {{"k", "2"}}},
                                [] {
                                  return HistogramSnapshot{{2, 1}, {1, 1, 1}, 1, 2};
                                })
                  .ok());
  ASSERT_TRUE(registry
                  .AddHistogram({"bad", "Counts do not match bounds.", "", {{"k", "3"}}},
                                [] {
                                  return HistogramSnapshot{{1}, {1, 0}, 1, 1};
                                })
                  .ok());
  const std::string text = registry.Render();
  EXPECT_THAT(text, Not(HasSubstr("k=\"1\"")));
  EXPECT_THAT(text, Not(HasSubstr("k=\"2\"")));
  EXPECT_THAT(text, HasSubstr("bad_count{k=\"3\"} 1\n"));
}

TEST(MetricRegistry, InvalidNamesAndLabelsAreRefused) {
  MetricRegistry registry;
  auto gauge = [&](MetricDesc desc) {
    return registry.AddGauge(std::move(desc), Constant(1));
  };
  EXPECT_TRUE(gauge({"", "h", "", {}}).IsInvalid());
  EXPECT_TRUE(gauge({"1abc", "h", "", {}}).IsInvalid());
  EXPECT_TRUE(gauge({"a-b", "h", "", {}}).IsInvalid());
  EXPECT_TRUE(gauge({"a b", "h", "", {}}).IsInvalid());
  EXPECT_TRUE(gauge({"ünits", "h", "", {}}).IsInvalid());
  EXPECT_TRUE(gauge({"ok", "", "", {}}).IsInvalid()) << "empty help";
  EXPECT_TRUE(gauge({"ok", "bad \xff utf-8", "", {}}).IsInvalid());
  EXPECT_TRUE(gauge({"ok", "h", "", {{"1a", "v"}}}).IsInvalid());
  EXPECT_TRUE(gauge({"ok", "h", "", {{"a-b", "v"}}}).IsInvalid());
  EXPECT_TRUE(gauge({"ok", "h", "", {{"__name__", "v"}}}).IsInvalid());
  EXPECT_TRUE(gauge({"ok", "h", "", {{"", "v"}}}).IsInvalid());
  EXPECT_TRUE(gauge({"ok", "h", "", {{"a", "1"}, {"a", "2"}}}).IsInvalid());
  EXPECT_TRUE(gauge({"ok", "h", "", {{"a", "\xc0\xaf"}}}).IsInvalid()) << "overlong";
  EXPECT_TRUE(gauge({"ok", "h", "", {{"a", "\xed\xa0\x80"}}}).IsInvalid()) << "surrogate";
  EXPECT_TRUE(gauge({"ok", "h", "", {{"a", "\xe2\x82"}}}).IsInvalid()) << "truncated";
  EXPECT_TRUE(gauge({"ok_bytes", "h", "seconds", {}}).IsInvalid()) << "unit suffix";
  EXPECT_TRUE(gauge({"ok_bytes", "h", "by tes", {}}).IsInvalid());
  EXPECT_TRUE(registry.AddGauge({"ok", "h", "", {}}, nullptr).IsInvalid());
  EXPECT_TRUE(registry.AddCounter({"requests", "h", "", {}}, Constant(1)).IsInvalid())
      << "a counter's name ends in _total";
  EXPECT_TRUE(registry.AddCounter({"_total", "h", "", {}}, Constant(1)).IsInvalid());
  EXPECT_TRUE(registry.AddCounter({"cpu_seconds_total", "h", "bytes", {}}, Constant(1))
                  .IsInvalid());
  EXPECT_TRUE(registry
                  .AddHistogram({"h_seconds", "h", "", {{"le", "1"}}},
                                [] { return HistogramSnapshot{}; })
                  .IsInvalid());
  // Nothing of the refused registrations is rendered.
  EXPECT_EQ(registry.Render(), "");

  // What is valid: colons, digits after the first character, a unit that is the suffix,
  // labels starting with one underscore, any UTF-8 value.
  EXPECT_TRUE(gauge({"ns:sub_2_bytes", "h", "bytes", {{"_a1", "✓ \"q\""}}}).ok());
  EXPECT_TRUE(
      registry.AddCounter({"cpu_seconds_total", "h", "seconds", {}}, Constant(1)).ok());
}

TEST(MetricRegistry, FamilyConflictsAreRefused) {
  MetricRegistry registry;
  ASSERT_TRUE(registry.AddGauge({"g", "Help.", "", {{"k", "a"}}}, Constant(1)).ok());
  EXPECT_TRUE(
      registry.AddGauge({"g", "Help.", "", {{"k", "a"}}}, Constant(2)).IsAlreadyExists());
  EXPECT_TRUE(
      registry.AddGauge({"g", "Other help.", "", {{"k", "b"}}}, Constant(2)).IsInvalid());
  EXPECT_TRUE(
      registry.AddGauge({"g", "Help.", "", {{"j", "b"}}}, Constant(2)).IsInvalid())
      << "other label names";
  EXPECT_TRUE(registry.AddGauge({"g", "Help.", "", {}}, Constant(2)).IsInvalid());
  EXPECT_TRUE(registry.AddCounter({"c_total", "Help.", "", {}}, Constant(2)).ok());
  EXPECT_TRUE(registry.AddGauge({"c_total", "Help.", "", {}}, Constant(2)).IsInvalid())
      << "other type";

  // A histogram's samples must not collide with another family's, in either order.
  ASSERT_TRUE(registry.AddGauge({"x_count", "Help.", "", {}}, Constant(1)).ok());
  EXPECT_TRUE(
      registry.AddHistogram({"x", "Help.", "", {}}, [] { return HistogramSnapshot{}; })
          .IsInvalid());
  ASSERT_TRUE(
      registry.AddHistogram({"y", "Help.", "", {}}, [] { return HistogramSnapshot{}; })
          .ok());
  EXPECT_TRUE(registry.AddGauge({"y_bucket", "Help.", "", {}}, Constant(1)).IsInvalid());
  EXPECT_TRUE(registry.AddGauge({"y_sum", "Help.", "", {}}, Constant(1)).IsInvalid());
}

TEST(MetricRegistry, SameLabelsInAnotherOrderAreTheSameSeries) {
  MetricRegistry registry;
  ASSERT_TRUE(
      registry.AddGauge({"g", "Help.", "", {{"a", "1"}, {"b", "2"}}}, Constant(1)).ok());
  EXPECT_TRUE(registry.AddGauge({"g", "Help.", "", {{"b", "2"}, {"a", "1"}}}, Constant(1))
                  .IsAlreadyExists());
}

TEST(MetricRegistry, UnregisterRemovesSeriesThenFamily) {
  MetricRegistry registry;
  ASSERT_TRUE(registry.AddGauge({"g", "Help.", "", {{"k", "a"}}}, Constant(1)).ok());
  ASSERT_TRUE(registry.AddGauge({"g", "Help.", "", {{"k", "b"}}}, Constant(2)).ok());
  ASSERT_TRUE(registry
                  .AddHistogram({"h", "Help.", "", {}},
                                [] {
                                  return HistogramSnapshot{{}, {0}, 0, 0};
                                })
                  .ok());
  EXPECT_TRUE(registry.Unregister("g", {{"k", "c"}}).IsKeyError());
  EXPECT_TRUE(registry.Unregister("nope", {}).IsKeyError());
  ASSERT_TRUE(registry.Unregister("g", {{"k", "a"}}).ok());
  EXPECT_EQ(registry.Render(),
            "# HELP g Help.\n# TYPE g gauge\ng{k=\"b\"} 2\n"
            "# HELP h Help.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\n"
            "h_count 0\n");
  ASSERT_TRUE(registry.Unregister("g", {{"k", "b"}}).ok());
  ASSERT_TRUE(registry.Unregister("h", {}).ok());
  EXPECT_EQ(registry.Render(), "");
  // The family's names are free again, with another type and another sample layout.
  EXPECT_TRUE(registry.AddCounter({"g_total", "Help.", "", {}}, Constant(1)).ok());
  EXPECT_TRUE(registry.AddGauge({"h_count", "Other.", "", {}}, Constant(1)).ok());
  EXPECT_TRUE(registry.AddGauge({"g", "Other.", "", {}}, Constant(1)).ok());
}

TEST(MetricRegistry, ConcurrentRegistrationRenderingAndUnregistration) {
  MetricRegistry registry;
  constexpr int kThreads = 4;
  constexpr int kSeries = 200;
  std::atomic<bool> stop{false};
  // After Unregister() returns, the series' callback must not run: each callback checks
  // that its series is still alive.
  std::vector<std::atomic<bool>> alive(kThreads * kSeries);
  std::atomic<int> calls_after_unregister{0};
  std::thread renderer([&] {
    while (!stop.load()) {
      const std::string text = registry.Render();
      ASSERT_TRUE(text.empty() || text.back() == '\n');
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kSeries; ++i) {
        const int id = t * kSeries + i;
        alive[id] = true;
        ASSERT_TRUE(registry
                        .AddCounter({"events_total",
                                     "Events.",
                                     "",
                                     {{"thread", std::to_string(t)},
                                      {"series", std::to_string(i)}}},
                                    [&, id] {
                                      if (!alive[id].load()) ++calls_after_unregister;
                                      return 1.0;
                                    })
                        .ok());
        if (i % 2 == 0) {
          ASSERT_TRUE(registry
                          .Unregister("events_total", {{"series", std::to_string(i)},
                                                       {"thread", std::to_string(t)}})
                          .ok());
          alive[id] = false;
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  stop = true;
  renderer.join();
  EXPECT_EQ(calls_after_unregister.load(), 0);
  const std::string text = registry.Render();
  int samples = 0;
  for (size_t at = 0; (at = text.find("events_total{", at)) != std::string::npos; ++at) {
    ++samples;
  }
  EXPECT_EQ(samples, kThreads * kSeries / 2);
}

}  // namespace
}  // namespace otlp_arrow::telemetry
