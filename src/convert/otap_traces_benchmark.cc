// SPDX-License-Identifier: Apache-2.0
// OTAP traces → span table: decode (IPC, ids, checks) and AppendTo of one
// BatchArrowRecords of N spans made in the Go producer's layout (zstd IPC bodies), for
// the realistic workload (resources, scopes, ~15 attributes of mixed types, events on
// 20% of spans, links on 5%) and the OpenTelemetry benchmark workload.
//
//   build/src/convert/otap_traces_benchmark --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
//
// Steady: the stream already holds the schemas and dictionaries (a BAR of the same
// values came before), as on a long-lived stream; First: a fresh stream, whose first BAR
// carries schemas and whole dictionaries.

#include <benchmark/benchmark.h>

#include "otap_test_producer.h"
#include "otlp_arrow/convert/otap_traces_decoder.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/workloads.h"

namespace otlp_arrow::convert {
namespace {

struct Bars {
  explicit Bars(const char* workload, int64_t n) {
    const auto request = model::MakeWorkload(workload, n).ValueOrDie();
    testing::OtapTestProducer producer;
    first = producer.Produce(request);
    steady = producer.Produce(request);
  }
  testing::OtapBar first, steady;
};

void Steady(benchmark::State& state, const char* workload) {
  const Bars bars(workload, state.range(0));
  auto decoder = OtapTraceStreamDecoder::Make().ValueOrDie();
  if (!decoder->Decode(bars.first.Views()).ok()) state.SkipWithError("decode failed");
  const auto payloads = bars.steady.Views();
  SpanTableEncoder encoder;
  for (auto _ : state) {
    auto traces = decoder->Decode(payloads);
    if (!traces.ok() || !(*traces)->AppendTo(&encoder).ok()) {
      state.SkipWithError("decode failed");
      break;
    }
    auto batch = encoder.Finish();
    benchmark::DoNotOptimize(batch);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void SteadyDecodeOnly(benchmark::State& state, const char* workload) {
  const Bars bars(workload, state.range(0));
  auto decoder = OtapTraceStreamDecoder::Make().ValueOrDie();
  if (!decoder->Decode(bars.first.Views()).ok()) state.SkipWithError("decode failed");
  const auto payloads = bars.steady.Views();
  for (auto _ : state) {
    auto traces = decoder->Decode(payloads);
    if (!traces.ok()) {
      state.SkipWithError("decode failed");
      break;
    }
    benchmark::DoNotOptimize(traces);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void First(benchmark::State& state, const char* workload) {
  const Bars bars(workload, state.range(0));
  const auto payloads = bars.first.Views();
  SpanTableEncoder encoder;
  for (auto _ : state) {
    auto decoder = OtapTraceStreamDecoder::Make().ValueOrDie();
    auto traces = decoder->Decode(payloads);
    if (!traces.ok() || !(*traces)->AppendTo(&encoder).ok()) {
      state.SkipWithError("decode failed");
      break;
    }
    auto batch = encoder.Finish();
    benchmark::DoNotOptimize(batch);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

BENCHMARK_CAPTURE(Steady, realistic, "realistic")->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK_CAPTURE(Steady, otel, "otel")->Arg(1000)->Arg(10000);
BENCHMARK_CAPTURE(SteadyDecodeOnly, realistic, "realistic")->Arg(1000)->Arg(10000);
BENCHMARK_CAPTURE(First, realistic, "realistic")->Arg(1000)->Arg(10000);

}  // namespace
}  // namespace otlp_arrow::convert

BENCHMARK_MAIN();
