// SPDX-License-Identifier: Apache-2.0
// telemetry_exposition_dump: a fixed set of metrics (every feature of the exposition plus
// the process metrics) for tests/interop/test_prometheus_exposition.py.
//
//   telemetry_exposition_dump          prints the exposition to stdout
//   telemetry_exposition_dump --serve  serves it: prints "health_port=N metrics_port=M",
//                                      then serves until stdin closes

#include <cstdio>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

#include "otlp_arrow/telemetry/histogram.h"
#include "otlp_arrow/telemetry/metric_registry.h"
#include "otlp_arrow/telemetry/operations_server.h"
#include "otlp_arrow/telemetry/process_metrics.h"

namespace otlp_arrow::telemetry {
namespace {

arrow::Status RegisterFixedMetrics(MetricRegistry* registry, const Histogram* histogram) {
  auto constant = [](double v) { return [v] { return v; }; };
  ARROW_RETURN_NOT_OK(registry->AddCounter({"otlp_arrow_spans_received_total",
                                            "Spans received, by protocol.",
                                            "",
                                            {{"protocol", "grpc"}}},
                                           constant(1234)));
  ARROW_RETURN_NOT_OK(registry->AddCounter({"otlp_arrow_spans_received_total",
                                            "Spans received, by protocol.",
                                            "",
                                            {{"protocol", "http"}}},
                                           constant(56)));
  ARROW_RETURN_NOT_OK(
      registry->AddCounter({"otlp_arrow_test_escapes_total",
                            "Help with a back\\slash\nand a second line.",
                            "",
                            {{"value", "back\\slash \"quoted\" new\nline \xc3\xbc"}}},
                           constant(1)));
  const double inf = std::numeric_limits<double>::infinity();
  for (const auto& [name, value] : std::initializer_list<std::pair<const char*, double>>{
           {"inf", inf},
           {"minus_inf", -inf},
           {"nan", std::numeric_limits<double>::quiet_NaN()},
           {"third", 1.0 / 3},
           {"tiny", 5e-324},
           {"huge", 1.7976931348623157e308},
           {"negative", -2.5},
           {"integer", 9007199254740992.0}}) {
    ARROW_RETURN_NOT_OK(registry->AddGauge({"otlp_arrow_test_values",
                                            "Values that must parse back exactly.",
                                            "",
                                            {{"case", name}}},
                                           constant(value)));
  }
  ARROW_RETURN_NOT_OK(
      registry->AddHistogram({"otlp_arrow_export_duration_seconds",
                              "Export latency.",
                              "seconds",
                              {{"exporter", "flight"}}},
                             [histogram] { return histogram->Snapshot(); }));
  ARROW_RETURN_NOT_OK(registry->AddHistogram(
      {"otlp_arrow_test_unlabelled", "A histogram without labels.", "", {}}, [] {
        return HistogramSnapshot{{1, 2}, {1, 0, 2}, 7.5, 3};
      }));
  return RegisterProcessMetrics(registry);
}

int Main(int argc, char** argv) {
  const bool serve = argc > 1 && std::string_view(argv[1]) == "--serve";
  auto registry = std::make_shared<MetricRegistry>();
  Histogram histogram;  // LatencySecondsBounds()
  for (double v : {0.0005, 0.001, 0.003, 0.02, 0.02, 0.7, 100.0}) histogram.Observe(v);
  if (auto status = RegisterFixedMetrics(registry.get(), &histogram); !status.ok()) {
    std::cerr << status.ToString() << "\n";
    return 1;
  }
  if (!serve) {
    std::cout << registry->Render();
    return 0;
  }
  auto server = OperationsServer::Make(
      {.health_address = "127.0.0.1:0", .metrics_address = "127.0.0.1:0"}, registry);
  if (!server.ok()) {
    std::cerr << server.status().ToString() << "\n";
    return 1;
  }
  if (auto status = (*server)->Start(); !status.ok()) {
    std::cerr << status.ToString() << "\n";
    return 1;
  }
  std::cout << "health_port=" << (*server)->health_port()
            << " metrics_port=" << (*server)->metrics_port() << std::endl;
  // Serve until the test closes our stdin, so that it cannot outlive the test.
  for (int c; (c = std::getchar()) != EOF;) {
  }
  (*server)->SetDraining(true);
  (*server)->Stop();
  return 0;
}

}  // namespace
}  // namespace otlp_arrow::telemetry

int main(int argc, char** argv) { return otlp_arrow::telemetry::Main(argc, argv); }
