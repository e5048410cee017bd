// SPDX-License-Identifier: Apache-2.0
// End to end over loopback: OTLP requests → OtlpTraceIngest → BatchingSpanExporter →
// FlightSpanExporter → a real FlightSpanReceiver with an in-memory sink.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <arrow/api.h>
#include <gtest/gtest.h>

#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/otlp_json.h"
#include "otlp_arrow/model/workloads.h"
#include "otlp_arrow/pipeline/batching_span_exporter.h"
#include "otlp_arrow/pipeline/flight_span_batch_exporter.h"
#include "otlp_arrow/pipeline/otlp_trace_ingest.h"
#include "otlp_arrow/storage/span_sink.h"
#include "otlp_arrow/transport/flight_span_receiver.h"
#include "pipeline_test_util.h"

namespace otlp_arrow::pipeline {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class MemorySink : public storage::SpanSink {
 public:
  arrow::Status Append(const std::shared_ptr<arrow::RecordBatch>& spans) override {
    std::lock_guard lock(mutex_);
    batches_.push_back(spans);
    return arrow::Status::OK();
  }
  arrow::Status Flush() override { return arrow::Status::OK(); }
  arrow::Status Close() override { return arrow::Status::OK(); }

  std::vector<std::shared_ptr<arrow::RecordBatch>> batches() const {
    std::lock_guard lock(mutex_);
    return batches_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches_;
};

arrow::Result<std::unique_ptr<transport::FlightSpanReceiver>> StartReceiver(
    const std::string& uri, std::shared_ptr<MemorySink> sink) {
  transport::FlightSpanReceiverOptions options;
  options.listen_uri = uri;
  ARROW_ASSIGN_OR_RAISE(auto receiver, transport::FlightSpanReceiver::Make(
                                           options, std::move(sink), nullptr));
  ARROW_RETURN_NOT_OK(receiver->Start());
  return receiver;
}

// Every row of `got`, in order, is the row of `expected` at the same place.
void ExpectSameRows(const std::vector<std::shared_ptr<arrow::RecordBatch>>& got,
                    const std::vector<std::shared_ptr<arrow::RecordBatch>>& expected) {
  ASSERT_FALSE(got.empty());
  ASSERT_OK_AND_ASSIGN(auto got_all, arrow::ConcatenateRecordBatches(got));
  ASSERT_OK_AND_ASSIGN(auto encoded_all, arrow::ConcatenateRecordBatches(expected));
  // The receiver computed the derived time columns the encoder left off.
  ASSERT_OK_AND_ASSIGN(
      auto expected_all,
      convert::ConformToSpanTableSchema(*encoded_all, arrow::default_memory_pool()));
  EXPECT_EQ(got_all->num_rows(), expected_all->num_rows());
  EXPECT_TRUE(got_all->Equals(*expected_all, /*check_metadata=*/false,
                              arrow::EqualOptions::Defaults().nans_equal(true)));
}

TEST(PipelineFlight, SpansArriveAtTheReceiver) {
  auto sink = std::make_shared<MemorySink>();
  ASSERT_OK_AND_ASSIGN(auto receiver, StartReceiver("grpc://127.0.0.1:0", sink));

  transport::FlightSpanExporterOptions flight;
  flight.endpoint = receiver->uri();
  flight.compression = transport::FlightCompression::kZstd;
  ASSERT_OK_AND_ASSIGN(auto flight_exporter, FlightSpanBatchExporter::Make(flight));
  BatchingSpanExporterOptions options;
  options.batch_size = 500;
  options.flush_interval = milliseconds(10);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<BatchingSpanExporter> exporter,
                       BatchingSpanExporter::Make(options, std::move(flight_exporter)));
  auto ingest = *OtlpTraceIngest::Make(exporter);

  std::vector<std::shared_ptr<arrow::RecordBatch>> expected;
  int64_t total = 0;
  for (int i = 0; i < 6; ++i) {
    const auto request = model::RealisticSpans(150 + 10 * i, 100 + i);
    IngestResult result;
    if (i == 3) {
      std::string json;
      ASSERT_OK(model::TraceRequestToJson(request, &json));
      result = ingest->IngestOtlpJson(json);
    } else {
      result = ingest->IngestOtlpProtobuf(request.SerializeAsString());
    }
    ASSERT_TRUE(result.ok()) << result.message;
    total += result.spans;
    ASSERT_OK_AND_ASSIGN(auto batch, convert::SpanTableEncoder::Encode(request));
    expected.push_back(batch);
  }

  const ShutdownReport report = exporter->Shutdown(seconds(30));
  EXPECT_TRUE(report.ok()) << report.ToString();
  EXPECT_TRUE(report.exporter_status.ok()) << report.exporter_status.ToString();
  ExpectSameRows(sink->batches(), expected);
  EXPECT_EQ(receiver->Stats().spans_stored, total);

  const auto stats = exporter->Stats();
  EXPECT_EQ(stats.spans_exported, total);
  EXPECT_EQ(stats.spans_send_failed + stats.spans_dropped_at_shutdown, 0);
  EXPECT_GE(stats.batches_exported, 2);  // 1050 spans, at most 500 per export
  // Bytes as the transport counted them: zstd makes the wire smaller than the Arrow data.
  EXPECT_GT(stats.bytes_sent_compressed, 0);
  EXPECT_GT(stats.bytes_sent_raw, stats.bytes_sent_compressed);
  EXPECT_EQ(stats.export_latency_seconds.count,
            static_cast<uint64_t>(stats.batches_exported + stats.export_failures));
  ASSERT_OK(receiver->Shutdown());
}

TEST(PipelineFlight, EverySpanArrivesOnceAfterTheReceiverComesBack) {
  // A free port, then nobody listening on it.
  auto first_sink = std::make_shared<MemorySink>();
  ASSERT_OK_AND_ASSIGN(auto first, StartReceiver("grpc://127.0.0.1:0", first_sink));
  const std::string uri = first->uri();
  ASSERT_OK(first->Shutdown());
  first.reset();

  transport::FlightSpanExporterOptions flight;
  flight.endpoint = uri;
  flight.max_retries = 0;  // let the batching layer do the retrying
  flight.timeout = seconds(5);
  ASSERT_OK_AND_ASSIGN(auto flight_exporter, FlightSpanBatchExporter::Make(flight));
  BatchingSpanExporterOptions options;
  options.flush_interval = milliseconds(5);
  options.initial_backoff = milliseconds(20);
  options.max_backoff = milliseconds(100);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<BatchingSpanExporter> exporter,
                       BatchingSpanExporter::Make(options, std::move(flight_exporter)));
  auto ingest = *OtlpTraceIngest::Make(exporter);

  std::vector<std::shared_ptr<arrow::RecordBatch>> expected;
  for (int i = 0; i < 3; ++i) {
    const auto request = testing::NamedRequest(40, "outage" + std::to_string(i));
    const IngestResult result = ingest->IngestOtlpProtobuf(request.SerializeAsString());
    ASSERT_TRUE(result.ok()) << result.message;
    ASSERT_OK_AND_ASSIGN(auto batch, convert::SpanTableEncoder::Encode(request));
    expected.push_back(batch);
  }
  // Nobody listens: the flush cannot complete, and the spans stay queued.
  EXPECT_FALSE(exporter->ForceFlush(milliseconds(300)));
  auto stats = exporter->Stats();
  EXPECT_GT(stats.export_failures, 0);
  EXPECT_EQ(stats.queue_spans, 120);
  EXPECT_EQ(stats.spans_send_failed, 0);

  auto sink = std::make_shared<MemorySink>();
  ASSERT_OK_AND_ASSIGN(auto receiver, StartReceiver(uri, sink));
  EXPECT_TRUE(exporter->ForceFlush(seconds(30)));
  ExpectSameRows(sink->batches(), expected);

  const ShutdownReport report = exporter->Shutdown(seconds(10));
  EXPECT_TRUE(report.ok()) << report.ToString();
  stats = exporter->Stats();
  EXPECT_EQ(stats.spans_exported, 120);
  EXPECT_EQ(receiver->Stats().spans_stored, 120);
  ASSERT_OK(receiver->Shutdown());
}

}  // namespace
}  // namespace otlp_arrow::pipeline
