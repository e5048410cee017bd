// SPDX-License-Identifier: Apache-2.0
// CPU per span of the gateway's own work: OTLP request → span table → queue →
// concatenated export batch. The exporter is a no-op, so Flight and compression (see
// transport_exporter_benchmark) are not in these figures. Process CPU time: the export
// worker's concatenation counts too. The gateway's target is ≤ 1 CPU-second per million
// spans for the whole path.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <arrow/record_batch.h>
#include <benchmark/benchmark.h>

#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/otlp_json.h"
#include "otlp_arrow/model/workloads.h"
#include "otlp_arrow/pipeline/batching_span_exporter.h"
#include "otlp_arrow/pipeline/otlp_trace_ingest.h"

namespace otlp_arrow::pipeline {
namespace {

class NullExporter : public SpanBatchExporter {
 public:
  transport::ExportResult Export(
      const std::shared_ptr<arrow::RecordBatch>& spans) override {
    transport::ExportResult result;
    result.spans_total = result.spans_acknowledged = spans->num_rows();
    return result;
  }
  arrow::Status Shutdown() override { return arrow::Status::OK(); }
};

// state.range(0): spans per request (an SDK's batch is 512 by default).
void BM_IngestOtlpProtobuf(benchmark::State& state) {
  const int64_t spans = state.range(0);
  const std::string request = model::RealisticSpans(spans, 42).SerializeAsString();
  std::shared_ptr<BatchingSpanExporter> exporter =
      BatchingSpanExporter::Make(BatchingSpanExporterOptions{},
                                 std::make_shared<NullExporter>())
          .ValueOrDie();
  auto ingest = *OtlpTraceIngest::Make(exporter);
  for (auto _ : state) {
    IngestResult result = ingest->IngestOtlpProtobuf(request);
    if (!result.ok()) state.SkipWithError(result.message.c_str());
  }
  if (!exporter->Shutdown().ok()) state.SkipWithError("shutdown failed");
  state.SetItemsProcessed(state.iterations() * spans);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(request.size()));
}
BENCHMARK(BM_IngestOtlpProtobuf)->Arg(100)->Arg(512)->Arg(2048)->MeasureProcessCPUTime();

void BM_IngestOtlpJson(benchmark::State& state) {
  const int64_t spans = state.range(0);
  std::string request;
  if (!model::TraceRequestToJson(model::RealisticSpans(spans, 42), &request).ok()) {
    state.SkipWithError("cannot make JSON");
    return;
  }
  std::shared_ptr<BatchingSpanExporter> exporter =
      BatchingSpanExporter::Make(BatchingSpanExporterOptions{},
                                 std::make_shared<NullExporter>())
          .ValueOrDie();
  auto ingest = *OtlpTraceIngest::Make(exporter);
  for (auto _ : state) {
    IngestResult result = ingest->IngestOtlpJson(request);
    if (!result.ok()) state.SkipWithError(result.message.c_str());
  }
  if (!exporter->Shutdown().ok()) state.SkipWithError("shutdown failed");
  state.SetItemsProcessed(state.iterations() * spans);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(request.size()));
}
BENCHMARK(BM_IngestOtlpJson)->Arg(512)->MeasureProcessCPUTime();

// The worker's share: one export batch of 8192 spans concatenated from requests of
// state.range(0) spans.
void BM_ConcatenateExportBatch(benchmark::State& state) {
  const int64_t per_request = state.range(0);
  std::vector<std::shared_ptr<arrow::RecordBatch>> parts;
  for (int64_t spans = 0; spans < 8192; spans += per_request) {
    parts.push_back(convert::SpanTableEncoder::Encode(
                        model::RealisticSpans(per_request, static_cast<uint64_t>(spans)))
                        .ValueOrDie());
  }
  int64_t rows = 0;
  for (auto _ : state) {
    auto batch = arrow::ConcatenateRecordBatches(parts).ValueOrDie();
    rows += batch->num_rows();
    benchmark::DoNotOptimize(batch);
  }
  state.SetItemsProcessed(rows);
}
BENCHMARK(BM_ConcatenateExportBatch)->Arg(100)->Arg(512);

// Encoding alone, for comparison with the ingest figures above.
void BM_EncodeOtlpProtobuf(benchmark::State& state) {
  const int64_t spans = state.range(0);
  const std::string request = model::RealisticSpans(spans, 42).SerializeAsString();
  convert::SpanTableEncoder encoder;
  for (auto _ : state) {
    if (!encoder.AppendOtlpProtobuf(request).ok()) state.SkipWithError("append");
    benchmark::DoNotOptimize(encoder.Finish().ValueOrDie());
  }
  state.SetItemsProcessed(state.iterations() * spans);
}
BENCHMARK(BM_EncodeOtlpProtobuf)->Arg(512);

}  // namespace
}  // namespace otlp_arrow::pipeline

BENCHMARK_MAIN();
