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

#include <benchmark/benchmark.h>

#include "otlp_arrow/model/otlp_json.h"
#include "otlp_arrow/model/workloads.h"
#include "otlp_arrow/pipeline/batching_span_exporter.h"
#include "otlp_arrow/pipeline/otlp_trace_ingest.h"

namespace otlp_arrow::pipeline {
namespace {

class NullExporter : public SpanBatchExporter {
 public:
  arrow::Result<transport::ExportResult> Export(
      const std::shared_ptr<arrow::RecordBatch>& spans) override {
    transport::ExportResult result;
    result.success = true;
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
  OtlpTraceIngest ingest(exporter);
  for (auto _ : state) {
    IngestResult result = ingest.IngestOtlpProtobuf(request);
    if (!result.ok()) state.SkipWithError(result.message.c_str());
  }
  exporter->Shutdown();
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
  OtlpTraceIngest ingest(exporter);
  for (auto _ : state) {
    IngestResult result = ingest.IngestOtlpJson(request);
    if (!result.ok()) state.SkipWithError(result.message.c_str());
  }
  exporter->Shutdown();
  state.SetItemsProcessed(state.iterations() * spans);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(request.size()));
}
BENCHMARK(BM_IngestOtlpJson)->Arg(512)->MeasureProcessCPUTime();

}  // namespace
}  // namespace otlp_arrow::pipeline
