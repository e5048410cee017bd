// SPDX-License-Identifier: Apache-2.0

#include "demo_command.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <arrow/api.h>
#include <arrow/util/byte_size.h>
#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "otlp_arrow/convert/span_table_decoder.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/otlp.h"
#include "otlp_arrow/model/workloads.h"
#include "otlp_arrow/storage/parquet_span_writer.h"

namespace otlp_arrow::cli {

namespace {

struct DemoOptions {
  std::string data_dir = "./data";
  int64_t spans = 10000;
  std::string workload = "realistic";
  std::optional<uint64_t> seed;  // realistic workload only; its default is 42
};

struct DemoReport {
  int64_t spans = 0;
  int64_t resources = 0;
  int64_t otlp_bytes = 0;
  int64_t arrow_bytes = 0;
  storage::WriteResult written;
  int64_t rows_before = 0;  // already in the data dir, from earlier runs
  int64_t rows_read = 0;
  double encode_ms = 0;
  double write_ms = 0;
  double read_ms = 0;
};

class Stopwatch {
 public:
  double ElapsedMs() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                     start_)
        .count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

arrow::Result<otlp::ExportTraceServiceRequest> MakeSpans(const DemoOptions& options) {
  if (options.seed.has_value())
    return model::RealisticSpans(options.spans, *options.seed);
  return model::MakeWorkload(options.workload, options.spans);
}

// One string per span: the span with its resource, scope and schema URLs, serialized.
// Equal strings mean equal spans in equal context, whatever the order of rows or files.
void AppendFlattenedSpans(const otlp::ExportTraceServiceRequest& request,
                          std::vector<std::string>* out) {
  for (const auto& resource_spans : request.resource_spans()) {
    for (const auto& scope_spans : resource_spans.scope_spans()) {
      for (const auto& span : scope_spans.spans()) {
        otlp::ResourceSpans single;
        *single.mutable_resource() = resource_spans.resource();
        single.set_schema_url(resource_spans.schema_url());
        auto* scope = single.add_scope_spans();
        *scope->mutable_scope() = scope_spans.scope();
        scope->set_schema_url(scope_spans.schema_url());
        *scope->add_spans() = span;
        out->push_back(otlp::DeterministicBytes(single));
      }
    }
  }
}

arrow::Result<std::vector<std::string>> DecodeFlattened(const arrow::RecordBatch& batch) {
  otlp::ExportTraceServiceRequest request;
  ARROW_RETURN_NOT_OK(convert::DecodeSpanTable(batch, &request));
  std::vector<std::string> spans;
  AppendFlattenedSpans(request, &spans);
  return spans;
}

arrow::Result<std::vector<std::string>> DecodeFlattened(const arrow::Table& table) {
  std::vector<std::string> spans;
  arrow::TableBatchReader reader(table);
  std::shared_ptr<arrow::RecordBatch> batch;
  while (true) {
    ARROW_RETURN_NOT_OK(reader.ReadNext(&batch));
    if (batch == nullptr) break;
    ARROW_ASSIGN_OR_RAISE(auto decoded, DecodeFlattened(*batch));
    spans.insert(spans.end(), std::make_move_iterator(decoded.begin()),
                 std::make_move_iterator(decoded.end()));
  }
  return spans;
}

// The spans read back must be those written plus those of earlier runs: the written ones
// all there (decoded to the same OTLP), and exactly as many rows as before + written.
arrow::Status CheckRoundTrip(const arrow::RecordBatch& written, const arrow::Table& read,
                             int64_t rows_before) {
  if (read.num_rows() != rows_before + written.num_rows()) {
    return arrow::Status::Invalid("read back ", read.num_rows(), " spans, expected ",
                                  rows_before, " from earlier runs + ",
                                  written.num_rows(), " written");
  }
  ARROW_ASSIGN_OR_RAISE(auto expected, DecodeFlattened(written));
  ARROW_ASSIGN_OR_RAISE(auto actual, DecodeFlattened(read));
  std::sort(expected.begin(), expected.end());
  std::sort(actual.begin(), actual.end());
  if (!std::includes(actual.begin(), actual.end(), expected.begin(), expected.end())) {
    return arrow::Status::Invalid(
        "spans read back differ from the spans written (decoded to OTLP)");
  }
  return arrow::Status::OK();
}

std::string Bytes(int64_t bytes) {
  return fmt::format("{:.2f} MiB ({} bytes)", static_cast<double>(bytes) / (1 << 20),
                     bytes);
}

void PrintSummary(const DemoOptions& options, const DemoReport& report) {
  fmt::print("otlp-arrow demo: {} workload, {} spans\n", options.workload, report.spans);
  fmt::print("  spans              {}\n", report.spans);
  fmt::print("  resources          {}\n", report.resources);
  fmt::print("  OTLP protobuf      {}\n", Bytes(report.otlp_bytes));
  fmt::print("  Arrow batch        {}\n", Bytes(report.arrow_bytes));
  fmt::print("  Parquet on disk    {}\n", Bytes(report.written.total_bytes()));
  fmt::print("  encode             {:.1f} ms\n", report.encode_ms);
  fmt::print("  write              {:.1f} ms\n", report.write_ms);
  fmt::print("  read               {:.1f} ms\n", report.read_ms);
  fmt::print("files written ({}):\n", report.written.files.size());
  for (const auto& file : report.written.files) {
    fmt::print("  {} ({} rows, {} bytes)\n", file.path, file.num_rows, file.num_bytes);
  }
  fmt::print("data in {}/spans: {} spans read back", options.data_dir, report.rows_read);
  if (report.rows_before > 0) fmt::print(" ({} from earlier runs)", report.rows_before);
  fmt::print("\nround trip: OK\n");
}

arrow::Status RunDemo(const DemoOptions& options) {
  DemoReport report;
  ARROW_ASSIGN_OR_RAISE(const auto request, MakeSpans(options));
  report.spans = model::CountSpans(request);
  report.resources = request.resource_spans_size();
  report.otlp_bytes = static_cast<int64_t>(request.ByteSizeLong());

  Stopwatch encode_watch;
  ARROW_ASSIGN_OR_RAISE(const auto batch, convert::SpanTableEncoder::Encode(request));
  report.encode_ms = encode_watch.ElapsedMs();
  report.arrow_bytes = arrow::util::TotalBufferSize(*batch);

  // Rows already in the data dir (an earlier demo) are part of what is read back.
  ARROW_ASSIGN_OR_RAISE(const auto before, storage::ReadSpanDataset(options.data_dir));
  report.rows_before = before->num_rows();

  auto writer_options = storage::ParquetSpanWriterOptions::Defaults();
  writer_options.data_dir = options.data_dir;
  spdlog::debug("writing {} spans under {}/spans", batch->num_rows(), options.data_dir);
  Stopwatch write_watch;
  ARROW_ASSIGN_OR_RAISE(report.written,
                        storage::ParquetSpanWriter(writer_options).Write(*batch));
  report.write_ms = write_watch.ElapsedMs();

  Stopwatch read_watch;
  ARROW_ASSIGN_OR_RAISE(const auto read, storage::ReadSpanDataset(options.data_dir));
  report.read_ms = read_watch.ElapsedMs();
  report.rows_read = read->num_rows();

  ARROW_RETURN_NOT_OK(CheckRoundTrip(*batch, *read, report.rows_before));
  PrintSummary(options, report);
  return arrow::Status::OK();
}

}  // namespace

void AddDemoCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<DemoOptions>();
  CLI::App* demo = app.add_subcommand(
      "demo",
      "Make sample traces, convert them to Arrow, write them as Parquet, read them back "
      "and check the round trip");
  demo->add_option("--data-dir", options->data_dir,
                   "Where the Parquet files go (under <dir>/spans/dt=…/hour=…/)")
      ->capture_default_str();
  demo->add_option("--spans", options->spans, "Number of spans to make")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}))
      ->capture_default_str();
  demo->add_option("--workload", options->workload,
                   "Sample traces: realistic (4 services, mixed attributes), seed (the "
                   "design document's test spans) or otel (OTel benchmark spans)")
      ->check(CLI::IsMember({"realistic", "seed", "otel"}))
      ->capture_default_str();
  demo->add_option("--seed", options->seed,
                   "Random seed of the realistic workload (default 42)");
  demo->callback([options, exit_code] {
    if (options->seed.has_value() && options->workload != "realistic") {
      throw CLI::ValidationError("--seed", "applies only to --workload realistic");
    }
    const arrow::Status status = RunDemo(*options);
    if (!status.ok()) spdlog::error("demo failed: {}", status.ToString());
    *exit_code = status.ok() ? 0 : 1;
  });
}

}  // namespace otlp_arrow::cli
