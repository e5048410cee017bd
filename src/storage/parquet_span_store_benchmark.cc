// SPDX-License-Identifier: Apache-2.0
// What the receiver's storage costs per span, by part: Arrow's Parquet writer on span
// tables with the store's writer properties (the whole table, the same uncompressed, the
// flat columns alone), and ParquetSpanStore::Append as a whole (validation, write-ahead
// log, hour partitions, Parquet). The counter `cpu_s_per_1M` is CPU-seconds per million
// spans, the unit of issue #3's receiver target.
//
//   build/src/storage/storage_benchmark --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true

#include <array>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <arrow/api.h>
#include <arrow/io/memory.h>
#include <arrow/util/compression.h>
#include <benchmark/benchmark.h>
#include <parquet/arrow/writer.h>
#include <parquet/properties.h>

#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/workloads.h"
#include "otlp_arrow/storage/parquet_span_store.h"
#include "parquet_files_internal.h"
#include "row_group_dictionaries_internal.h"

namespace otlp_arrow::storage {
namespace {

constexpr int64_t kSpansPerBatch = 8192;
// One row group of the store's default size.
constexpr int kBatchesPerFile = 16;
// "random": model::RandomSpans, whose strings differ from batch to batch as high-
// cardinality attribute values (URLs, statements, user ids) do in real traffic; the
// other workloads repeat the same few strings, so their batches' dictionaries coincide.
constexpr std::array<std::string_view, 4> kWorkloads = {"seed", "otel", "realistic",
                                                        "random"};

std::shared_ptr<arrow::RecordBatch> Batch(int64_t workload, uint64_t seed = 42) {
  const std::string_view name = kWorkloads[static_cast<size_t>(workload)];
  auto request = name == "realistic" ? model::RealisticSpans(kSpansPerBatch, seed)
                 : name == "random"
                     ? model::RandomSpans(kSpansPerBatch, seed)
                     : model::MakeWorkload(name, kSpansPerBatch).ValueOrDie();
  return convert::SpanTableEncoder::Encode(request).ValueOrDie();
}

// Batches as a receiver gets them: each encoded on its own, so each has dictionaries of
// its own. The realistic workload always names its attributes in the same order, so
// every batch would have the same dictionaries; here batch i rotates each span's
// attributes by i mod 8, as spans made by different instrumentations order them
// differently.
std::vector<std::shared_ptr<arrow::RecordBatch>> DistinctBatches(int64_t workload) {
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  for (uint64_t seed = 0; seed < kBatchesPerFile; ++seed) {
    if (kWorkloads[static_cast<size_t>(workload)] != "realistic") {
      batches.push_back(Batch(workload, seed));
      continue;
    }
    auto request = model::RealisticSpans(kSpansPerBatch, seed);
    for (auto& rs : *request.mutable_resource_spans()) {
      for (auto& ss : *rs.mutable_scope_spans()) {
        for (auto& span : *ss.mutable_spans()) {
          auto* attributes = span.mutable_attributes();
          for (uint64_t r = 0; r < seed % 8 && attributes->size() > 1; ++r) {
            for (int i = 0; i + 1 < attributes->size(); ++i)
              attributes->SwapElements(i, i + 1);
          }
        }
      }
    }
    batches.push_back(convert::SpanTableEncoder::Encode(request).ValueOrDie());
  }
  return batches;
}

void CountSpans(benchmark::State& state, int64_t spans_per_iteration) {
  const auto spans = static_cast<double>(state.iterations() * spans_per_iteration);
  state.SetItemsProcessed(static_cast<int64_t>(spans));
  // CPU time / (spans / 1e6): a rate (per CPU second), inverted.
  state.counters["cpu_s_per_1M"] = benchmark::Counter(
      spans / 1e6, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

enum ParquetVariant : int64_t {
  kWholeTable = 0,               // one batch written kBatchesPerFile times
  kUncompressed = 1,             // the same, no compression
  kFlatColumnsOnly = 2,          // the same without the nested columns
  kDistinctBatches = 3,          // distinct batches, as they come
  kDistinctBatchesPrepared = 4,  // distinct batches through RowGroupDictionaries
};

// range(0): workload index; range(1): ParquetVariant. Writes one file of
// kBatchesPerFile batches into memory: Arrow's Parquet writer alone, no disk.
void ParquetWrite(benchmark::State& state) {
  auto batch = Batch(state.range(0));
  const auto variant = static_cast<ParquetVariant>(state.range(1));
  const bool distinct =
      variant == kDistinctBatches || variant == kDistinctBatchesPrepared;
  const auto batches = distinct ? DistinctBatches(state.range(0))
                                : std::vector<std::shared_ptr<arrow::RecordBatch>>{};
  std::shared_ptr<parquet::WriterProperties> properties =
      internal::MakeWriterProperties(/*zstd_level=*/3, /*max_row_group_rows=*/128 * 1024,
                                     /*dictionary_encoding=*/true);
  if (variant == kUncompressed) {
    properties = parquet::WriterProperties::Builder(*properties)
                     .compression(arrow::Compression::UNCOMPRESSED)
                     ->compression_level(arrow::util::kUseDefaultCompressionLevel)
                     ->build();
  }
  if (variant == kFlatColumnsOnly) {
    namespace column = convert::column;
    for (const std::string_view name :
         {column::kAttributes, column::kEvents, column::kLinks,
          column::kResourceAttributes, column::kScopeAttributes}) {
      const int index = batch->schema()->GetFieldIndex(std::string(name));
      batch = batch->RemoveColumn(index).ValueOrDie();
    }
  }
  int64_t file_bytes = 0;
  int64_t columns_remapped = 0;
  int64_t columns_decoded = 0;
  for (auto _ : state) {
    auto sink = arrow::io::BufferOutputStream::Create().ValueOrDie();
    auto writer = parquet::arrow::FileWriter::Open(
                      *batch->schema(), arrow::default_memory_pool(), sink, properties,
                      internal::MakeArrowWriterProperties())
                      .ValueOrDie();
    internal::RowGroupDictionaries dictionaries(128 * 1024);
    for (int i = 0; i < kBatchesPerFile; ++i) {
      arrow::Status status;
      if (variant == kDistinctBatchesPrepared) {
        status = dictionaries.Write(*batches[i], writer.get());
      } else {
        status = writer->WriteRecordBatch(distinct ? *batches[i] : *batch);
      }
      if (!status.ok()) state.SkipWithError(status.ToString().c_str());
    }
    columns_remapped = dictionaries.columns_remapped();
    columns_decoded = dictionaries.columns_decoded();
    const arrow::Status status = writer->Close();
    if (!status.ok()) state.SkipWithError(status.ToString().c_str());
    file_bytes = sink->Finish().ValueOrDie()->size();
  }
  CountSpans(state, kSpansPerBatch * kBatchesPerFile);
  if (variant == kDistinctBatchesPrepared) {
    state.counters["columns_remapped"] = static_cast<double>(columns_remapped);
    state.counters["columns_decoded"] = static_cast<double>(columns_decoded);
  }
  state.counters["file_bytes_per_span"] =
      static_cast<double>(file_bytes) / (kSpansPerBatch * kBatchesPerFile);
}

// range(0): workload index. The store as the receiver uses it, fed distinct batches,
// durability "os" (the WAL write reaches the page cache; no fdatasync, whose cost is the
// device's).
void StoreAppend(benchmark::State& state) {
  const auto batches = DistinctBatches(state.range(0));
  const auto dir = std::filesystem::temp_directory_path() /
                   ("otlp-arrow-store-benchmark-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto options = ParquetSpanStoreOptions::Defaults();
  options.data_dir = dir.string();
  options.durability = WalDurability::kFlushToOs;
  auto store = ParquetSpanStore::Open(options).ValueOrDie();
  size_t next = 0;
  for (auto _ : state) {
    if (!store->Append(batches[next]).ok()) state.SkipWithError("append failed");
    next = (next + 1) % batches.size();
  }
  if (!store->Close().ok()) state.SkipWithError("close failed");
  store.reset();
  std::filesystem::remove_all(dir);
  CountSpans(state, kSpansPerBatch);
}

void ParquetWriteArgs(benchmark::internal::Benchmark* benchmark) {
  benchmark->ArgNames({"workload", "variant"});
  for (int64_t workload = 0; workload < static_cast<int64_t>(kWorkloads.size());
       ++workload) {
    for (int64_t variant : {kWholeTable, kUncompressed, kFlatColumnsOnly,
                            kDistinctBatches, kDistinctBatchesPrepared}) {
      benchmark->Args({workload, variant});
    }
  }
}

BENCHMARK(ParquetWrite)->Apply(ParquetWriteArgs)->Unit(benchmark::kMillisecond);
BENCHMARK(StoreAppend)
    ->MeasureProcessCPUTime()
    ->ArgName("workload")
    ->DenseRange(0, static_cast<int64_t>(kWorkloads.size()) - 1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace otlp_arrow::storage

BENCHMARK_MAIN();
