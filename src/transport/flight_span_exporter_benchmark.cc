// SPDX-License-Identifier: Apache-2.0
// FlightSpanExporter over loopback to a Flight server that acknowledges every batch and
// stores nothing: the cost of the Flight hop alone (IPC, compression, gRPC, one
// acknowledgement round trip per chunk), by chunk size and compression.
//
//   build/src/transport/transport_exporter_benchmark --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true

#include <memory>
#include <string>

#include <arrow/api.h>
#include <arrow/flight/api.h>
#include <arrow/ipc/writer.h>
#include <benchmark/benchmark.h>

#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/workloads.h"
#include "otlp_arrow/transport/flight_protocol.h"
#include "otlp_arrow/transport/flight_span_exporter.h"

namespace otlp_arrow::transport {
namespace {

namespace flight = arrow::flight;

class AckingServer : public flight::FlightServerBase {
 public:
  arrow::Status DoPut(const flight::ServerCallContext& /*context*/,
                      std::unique_ptr<flight::FlightMessageReader> reader,
                      std::unique_ptr<flight::FlightMetadataWriter> writer) override {
    for (int64_t index = 0;; ++index) {
      ARROW_ASSIGN_OR_RAISE(auto chunk, reader->Next());
      if (chunk.data == nullptr) return arrow::Status::OK();
      const std::string ack = BatchAck{index, chunk.data->num_rows()}.ToJson();
      ARROW_RETURN_NOT_OK(writer->WriteMetadata(arrow::Buffer(ack)));
    }
  }
};

// range(0): spans per export; range(1): batch_size; range(2): FlightCompression.
void Export(benchmark::State& state) {
  AckingServer server;
  auto location = flight::Location::ForGrpcTcp("127.0.0.1", 0).ValueOrDie();
  if (!server.Init(flight::FlightServerOptions(location)).ok()) {
    state.SkipWithError("server did not start");
    return;
  }
  auto options = FlightSpanExporterOptions::Defaults();
  options.endpoint = "grpc://127.0.0.1:" + std::to_string(server.port());
  options.batch_size = state.range(1);
  options.compression = static_cast<FlightCompression>(state.range(2));
  auto exporter = FlightSpanExporter::Make(options).ValueOrDie();
  auto spans = convert::SpanTableEncoder::Encode(model::RealisticSpans(state.range(0)))
                   .ValueOrDie();
  int64_t ipc_bytes = 0;
  if (!arrow::ipc::GetRecordBatchSize(*spans, &ipc_bytes).ok()) {
    state.SkipWithError("size failed");
  }
  for (auto _ : state) {
    auto result = exporter->Export(*spans);
    if (!result.ok()) state.SkipWithError("export failed");
  }
  state.SetItemsProcessed(state.iterations() * spans->num_rows());
  state.SetBytesProcessed(state.iterations() * ipc_bytes);
  (void)exporter->Shutdown();
  (void)server.Shutdown();
}

BENCHMARK(Export)
    ->ArgNames({"spans", "batch_rows", "compression"})
    ->ArgsProduct({{65536}, {1024, 8192, 65536}, {0, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace otlp_arrow::transport

BENCHMARK_MAIN();
