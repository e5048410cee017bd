// SPDX-License-Identifier: Apache-2.0
// Span table encode (OTLP → RecordBatch) and decode (RecordBatch → OTLP) at 100/1K/10K
// spans, for the design document's test spans and the OpenTelemetry benchmark workload.
//
//   build/src/convert/span_table_benchmark --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true  (one line)

#include <benchmark/benchmark.h>
#include <google/protobuf/arena.h>

#include "otlp_arrow/convert/span_table_decoder.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/workloads.h"

namespace otlp_arrow::convert {
namespace {

// The gateway encodes requests it has just parsed off the wire, into an arena: the
// messages lie in memory in parse order. Benchmark that, not the scattered heap of the
// generator.
struct ParsedRequest {
  explicit ParsedRequest(const otlp::ExportTraceServiceRequest& source) {
    request =
        google::protobuf::Arena::CreateMessage<otlp::ExportTraceServiceRequest>(&arena);
    request->ParseFromString(source.SerializeAsString());
  }
  google::protobuf::Arena arena;
  otlp::ExportTraceServiceRequest* request;
};

void Encode(benchmark::State& state, const char* workload) {
  const ParsedRequest parsed(model::MakeWorkload(workload, state.range(0)).ValueOrDie());
  const auto& request = *parsed.request;
  SpanTableEncoder encoder;
  for (auto _ : state) {
    auto status = encoder.Append(request);
    auto batch = encoder.Finish();
    if (!status.ok() || !batch.ok()) state.SkipWithError("encode failed");
    benchmark::DoNotOptimize(batch);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// OTLP bytes → span table with no protobuf objects: what the gateway does with a request.
void EncodeWire(benchmark::State& state, const char* workload) {
  const std::string bytes =
      model::MakeWorkload(workload, state.range(0)).ValueOrDie().SerializeAsString();
  SpanTableEncoder encoder;
  for (auto _ : state) {
    auto status = encoder.AppendOtlpProtobuf(bytes);
    auto batch = encoder.Finish();
    if (!status.ok() || !batch.ok()) state.SkipWithError("encode failed");
    benchmark::DoNotOptimize(batch);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// Decoding into one message that is cleared and reused, as a server thread would:
// protobuf keeps cleared elements and string capacity, so steady state allocates almost
// nothing.
void DecodeReused(benchmark::State& state, const char* workload) {
  const auto request = model::MakeWorkload(workload, state.range(0)).ValueOrDie();
  const auto batch = SpanTableEncoder::Encode(request).ValueOrDie();
  otlp::ExportTraceServiceRequest out;
  for (auto _ : state) {
    out.Clear();
    if (!DecodeSpanTable(*batch, &out).ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void Decode(benchmark::State& state, const char* workload) {
  const auto request = model::MakeWorkload(workload, state.range(0)).ValueOrDie();
  const auto batch = SpanTableEncoder::Encode(request).ValueOrDie();
  for (auto _ : state) {
    // An arena, as a receiver would use: protobuf objects are bump-allocated and freed at
    // once.
    google::protobuf::Arena arena;
    auto* out =
        google::protobuf::Arena::CreateMessage<otlp::ExportTraceServiceRequest>(&arena);
    if (!DecodeSpanTable(*batch, out).ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// Reference points: what libprotobuf itself needs to build (parse) or read (serialize)
// the same OTLP messages. Decoding to protobuf objects cannot beat building them.
void ProtobufParse(benchmark::State& state, const char* workload) {
  const auto bytes =
      model::MakeWorkload(workload, state.range(0)).ValueOrDie().SerializeAsString();
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto* out =
        google::protobuf::Arena::CreateMessage<otlp::ExportTraceServiceRequest>(&arena);
    if (!out->ParseFromString(bytes)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void ProtobufSerialize(benchmark::State& state, const char* workload) {
  const ParsedRequest parsed(model::MakeWorkload(workload, state.range(0)).ValueOrDie());
  std::string bytes;
  for (auto _ : state) {
    bytes.clear();
    parsed.request->SerializeToString(&bytes);
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void Validate(benchmark::State& state, const char* workload) {
  const auto request = model::MakeWorkload(workload, state.range(0)).ValueOrDie();
  const auto batch = SpanTableEncoder::Encode(request).ValueOrDie();
  for (auto _ : state) {
    if (!ValidateSpanTable(*batch).ok()) state.SkipWithError("validate failed");
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

BENCHMARK_CAPTURE(Encode, seed, "seed")->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK_CAPTURE(Encode, otel, "otel")->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK_CAPTURE(Encode, realistic, "realistic")->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK_CAPTURE(EncodeWire, seed, "seed")->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK_CAPTURE(EncodeWire, otel, "otel")->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK_CAPTURE(EncodeWire, realistic, "realistic")->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK_CAPTURE(Decode, seed, "seed")->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK_CAPTURE(Decode, otel, "otel")->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK_CAPTURE(Decode, realistic, "realistic")->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK_CAPTURE(DecodeReused, seed, "seed")->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK_CAPTURE(DecodeReused, otel, "otel")->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK_CAPTURE(DecodeReused, realistic, "realistic")->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK_CAPTURE(ProtobufParse, seed, "seed")->Arg(10000);
BENCHMARK_CAPTURE(ProtobufParse, otel, "otel")->Arg(10000);
BENCHMARK_CAPTURE(ProtobufSerialize, seed, "seed")->Arg(10000);
BENCHMARK_CAPTURE(ProtobufSerialize, otel, "otel")->Arg(10000);
BENCHMARK_CAPTURE(Validate, seed, "seed")->Arg(10000);
BENCHMARK_CAPTURE(Validate, otel, "otel")->Arg(10000);

}  // namespace
}  // namespace otlp_arrow::convert

BENCHMARK_MAIN();
