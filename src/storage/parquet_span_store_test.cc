// SPDX-License-Identifier: Apache-2.0
// ParquetSpanStore: every acknowledged span readable exactly once, through rotation,
// queries, simulated crashes, torn WAL tails and a real kill -9.

#include "otlp_arrow/storage/parquet_span_store.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/api.h>
#include <arrow/util/compression.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>

#include "../convert/span_table_test_util.h"
#include "otlp_arrow/common/clock.h"
#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_decoder.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/workloads.h"
#include "otlp_arrow/storage/parquet_span_writer.h"
#include "parquet_files_internal.h"
#include "parquet_span_store_testing_internal.h"
#include "write_ahead_log.h"

namespace otlp_arrow::storage {
namespace {

namespace fs = std::filesystem;
using testing::Canonical;
using testing::ExactBytes;

using testing::k2026;
using testing::kHourNs;

std::shared_ptr<arrow::RecordBatch> Encode(
    const otlp::ExportTraceServiceRequest& request) {
  return testing::EncodeOrFail(request);
}

// Every span as resource + scope + span bytes: equal multisets mean the same spans, in
// any order and grouping.
using SpanSet = std::multiset<std::string>;

SpanSet SpansOf(const otlp::ExportTraceServiceRequest& request) {
  SpanSet spans;
  const otlp::ExportTraceServiceRequest canonical = Canonical(request);
  for (const auto& rs : canonical.resource_spans()) {
    const std::string resource = ExactBytes(rs.resource()) + "|" + rs.schema_url();
    for (const auto& ss : rs.scope_spans()) {
      const std::string scope = ExactBytes(ss.scope()) + "|" + ss.schema_url();
      for (const auto& span : ss.spans()) {
        spans.insert(resource + "|" + scope + "|" + ExactBytes(span));
      }
    }
  }
  return spans;
}

otlp::ExportTraceServiceRequest Decode(const std::shared_ptr<arrow::Table>& table) {
  return testing::DecodeOrFail(*table);
}

// Span `i` starts at `base + i * step` (and ends 1 µs later).
void SetStartTimes(otlp::ExportTraceServiceRequest* request, uint64_t base,
                   uint64_t step = 1) {
  uint64_t i = 0;
  for (auto& rs : *request->mutable_resource_spans()) {
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (auto& span : *ss.mutable_spans()) {
        span.set_start_time_unix_nano(base + i * step);
        span.set_end_time_unix_nano(base + i * step + 1000);
        ++i;
      }
    }
  }
}

// 16 bytes: `batch` then `span`, big-endian.
std::string TraceId(uint64_t batch, uint64_t span) {
  std::string id(16, '\0');
  for (int i = 0; i < 8; ++i) {
    id[7 - i] = static_cast<char>(batch >> (8 * i));
    id[15 - i] = static_cast<char>(span >> (8 * i));
  }
  return id;
}

// A batch of `count` spans whose trace ids say (batch_index, span index).
std::shared_ptr<arrow::RecordBatch> NumberedBatch(uint64_t batch_index, int count) {
  auto request = model::SeedSpans(count);
  SetStartTimes(&request, k2026 + (batch_index % 3) * kHourNs + batch_index, 1000);
  uint64_t j = 0;
  for (auto& span :
       *request.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans()) {
    span.set_trace_id(TraceId(batch_index, j++));
  }
  return Encode(request);
}

class ParquetSpanStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    data_dir_ =
        fs::temp_directory_path() /
        ("otlp-arrow-store-test-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(data_dir_);
  }
  void TearDown() override { fs::remove_all(data_dir_); }

  // Deterministic by default: no rotation by age during a test.
  ParquetSpanStoreOptions Options() const {
    auto options = ParquetSpanStoreOptions::Defaults();
    options.data_dir = data_dir_.string();
    options.max_file_age = std::chrono::hours(1);
    return options;
  }

  std::unique_ptr<ParquetSpanStore> OpenStore(const ParquetSpanStoreOptions& options) {
    auto store = ParquetSpanStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *std::move(store) : nullptr;
  }

  static std::shared_ptr<arrow::Table> ScanTable(ParquetSpanStore* store,
                                                 const SpanQuery& query = {}) {
    auto reader = store->Scan(query);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    if (!reader.ok()) return nullptr;
    EXPECT_TRUE((*reader)->schema()->Equals(*convert::SpanTableSchema()));
    auto table = (*reader)->ToTable();
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    return table.ok() ? *table : nullptr;
  }

  static int64_t CountRows(ParquetSpanStore* store, const SpanQuery& query = {}) {
    const auto table = ScanTable(store, query);
    return table == nullptr ? -1 : table->num_rows();
  }

  std::vector<fs::path> FilesEndingWith(const std::string& suffix) const {
    std::vector<fs::path> out;
    if (!fs::exists(data_dir_)) return out;
    for (const auto& entry : fs::recursive_directory_iterator(data_dir_)) {
      const std::string path = entry.path().string();
      if (entry.is_regular_file() && path.size() >= suffix.size() &&
          path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
        out.push_back(entry.path());
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // Every listed file opens and reads completely, and the rows add up.
  static int64_t ExpectEveryListedFileReadable(ParquetSpanStore* store) {
    auto files = store->ListFiles();
    EXPECT_TRUE(files.ok()) << files.status().ToString();
    if (!files.ok()) return -1;
    int64_t rows = 0;
    for (const auto& file : *files) {
      auto input = arrow::io::ReadableFile::Open(file.path);
      EXPECT_TRUE(input.ok()) << file.path;
      if (!input.ok()) continue;
      auto reader = parquet::arrow::OpenFile(*input, arrow::default_memory_pool());
      EXPECT_TRUE(reader.ok()) << file.path << ": " << reader.status().ToString();
      if (!reader.ok()) continue;
      std::shared_ptr<arrow::Table> table;
      const auto status = (*reader)->ReadTable(&table);
      EXPECT_TRUE(status.ok()) << file.path << ": " << status.ToString();
      if (!status.ok()) continue;
      EXPECT_EQ(table->num_rows(), file.num_rows) << file.path;
      EXPECT_EQ(file.num_bytes, static_cast<int64_t>(fs::file_size(file.path)));
      rows += file.num_rows;
    }
    return rows;
  }

  fs::path data_dir_;
};

TEST_F(ParquetSpanStoreTest, DefaultOptions) {
  const auto options = ParquetSpanStoreOptions::Defaults();
  EXPECT_EQ(options.data_dir, "./data");
  EXPECT_EQ(options.durability, WalDurability::kFsync);
  EXPECT_EQ(options.max_file_bytes, 128 * 1024 * 1024);
  EXPECT_EQ(options.max_file_age, std::chrono::seconds(60));
  EXPECT_EQ(options.zstd_level, 3);
  EXPECT_EQ(options.max_row_group_rows, 128 * 1024);
  EXPECT_TRUE(options.flush_before_scan);
}

TEST_F(ParquetSpanStoreTest, ScanReturnsEverySpanAppended) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  SpanSet expected;
  int64_t rows = 0;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const auto realistic = model::RealisticSpans(400, seed);
    const auto random = model::RandomSpans(300, seed);  // several hours, extreme times
    for (const auto* request : {&realistic, &random}) {
      ASSERT_TRUE(store->Append(Encode(*request)).ok());
      const SpanSet spans = SpansOf(*request);
      expected.insert(spans.begin(), spans.end());
      rows += model::CountSpans(*request);
    }
  }
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_TRUE(FilesEndingWith(".tmp").empty());

  const auto table = ScanTable(store.get());
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->num_rows(), rows);
  EXPECT_EQ(SpansOf(Decode(table)), expected);

  auto files = store->ListFiles();
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_GT(files->size(), 1u);  // one per hour present
  int64_t listed_rows = 0;
  for (const auto& file : *files) listed_rows += file.num_rows;
  EXPECT_EQ(listed_rows, rows);
  EXPECT_EQ(ExpectEveryListedFileReadable(store.get()), rows);
  ASSERT_TRUE(store->Close().ok());
  EXPECT_TRUE(FilesEndingWith(".wal").empty());  // a clean close leaves no WAL
  EXPECT_TRUE(store->Close().ok());              // idempotent
  EXPECT_EQ(CountRows(store.get()), rows);       // still readable
}

TEST_F(ParquetSpanStoreTest, StatsCountAppendsAndPublishedFiles) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Stats().batches_appended, 0);
  ASSERT_TRUE(store->Append(Encode(model::RealisticSpans(200, 1))).ok());
  ASSERT_TRUE(store->Append(Encode(model::RealisticSpans(300, 2))).ok());
  auto stats = store->Stats();
  EXPECT_EQ(stats.batches_appended, 2);
  EXPECT_EQ(stats.rows_appended, 500);
  EXPECT_GT(stats.wal_bytes_appended, 0);
  EXPECT_EQ(stats.files_published, 0);  // still open until the flush
  ASSERT_TRUE(store->Flush().ok());
  stats = store->Stats();
  const auto files = store->ListFiles();
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(stats.files_published, static_cast<int64_t>(files->size()));
  EXPECT_GT(stats.file_bytes_published, 0);
  EXPECT_EQ(stats.publish_failures, 0);
}

TEST_F(ParquetSpanStoreTest, ListFilesKnowsStartTimeBounds) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  auto request = model::SeedSpans(1000);
  // 2.5 hours: three hour folders.
  SetStartTimes(&request, k2026 + kHourNs / 2, kHourNs / 400);
  ASSERT_TRUE(store->Append(Encode(request)).ok());
  ASSERT_TRUE(store->Flush().ok());
  auto files = store->ListFiles();
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->size(), 3u);
  const uint64_t step = kHourNs / 400;
  const uint64_t first = k2026 + kHourNs / 2;
  const uint64_t last = first + 999 * step;
  EXPECT_EQ((*files)[0].start_time_min_unix_nano, first);
  EXPECT_EQ((*files)[0].start_time_max_unix_nano, first + 199 * step);
  EXPECT_EQ((*files)[1].start_time_min_unix_nano, k2026 + kHourNs);
  EXPECT_EQ((*files)[2].start_time_max_unix_nano, last);
  EXPECT_NE((*files)[0].path.find("/spans/dt=2026-01-01/hour=00/part-s"),
            std::string::npos)
      << (*files)[0].path;
  EXPECT_EQ((*files)[0].num_rows + (*files)[1].num_rows + (*files)[2].num_rows, 1000);
}

TEST_F(ParquetSpanStoreTest, TimeRangeAndTraceIdQueriesReturnExactlyTheirSpans) {
  auto options = Options();
  options.max_row_group_rows = 100;  // row groups to prune inside files too
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  const uint64_t step = kHourNs / 400;
  const uint64_t base = k2026 + kHourNs / 2;
  // Two appends, published separately: several files per hour.
  std::vector<uint64_t> starts;
  std::vector<std::string> trace_ids;
  for (int part = 0; part < 2; ++part) {
    auto request = model::SeedSpans(500);
    SetStartTimes(&request, base + part * 500 * step, step);
    for (const auto& span : request.resource_spans(0).scope_spans(0).spans()) {
      starts.push_back(span.start_time_unix_nano());
      trace_ids.push_back(span.trace_id());
    }
    ASSERT_TRUE(store->Append(Encode(request)).ok());
    ASSERT_TRUE(store->Flush().ok());
  }

  const auto expected_count = [&](std::optional<uint64_t> min,
                                  std::optional<uint64_t> max,
                                  std::optional<std::string> trace_id) {
    int64_t count = 0;
    for (size_t i = 0; i < starts.size(); ++i) {
      if (min && starts[i] < *min) continue;
      if (max && starts[i] >= *max) continue;
      if (trace_id && trace_ids[i] != *trace_id) continue;
      ++count;
    }
    return count;
  };
  const std::vector<std::pair<std::optional<uint64_t>, std::optional<uint64_t>>> ranges =
      {{std::nullopt, std::nullopt},
       {base + 100 * step, base + 101 * step},  // one span
       {base + 150 * step, base + 750 * step},  // across hours and files
       {std::nullopt, k2026 + kHourNs},         // the first hour
       {k2026 + 2 * kHourNs, std::nullopt},     // the last hour
       {base + 999 * step, std::nullopt},       // the very last span
       {base + 1000 * step, std::nullopt},      // after everything
       {0, base}};                              // before everything
  for (const auto& [min, max] : ranges) {
    SCOPED_TRACE("range [" + (min ? std::to_string(*min) : "-") + ", " +
                 (max ? std::to_string(*max) : "-") + ")");
    SpanQuery query;
    query.start_time_min_unix_nano = min;
    query.start_time_max_unix_nano = max;
    const auto table = ScanTable(store.get(), query);
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(table->num_rows(), expected_count(min, max, std::nullopt));
    // Every returned span is in the range.
    const auto start_column = table->GetColumnByName("start_time_unix_nano");
    for (const auto& chunk : start_column->chunks()) {
      const auto& values = static_cast<const arrow::UInt64Array&>(*chunk);
      for (int64_t i = 0; i < values.length(); ++i) {
        if (min) {
          EXPECT_GE(values.Value(i), *min);
        }
        if (max) {
          EXPECT_LT(values.Value(i), *max);
        }
      }
    }
  }

  // Seed spans: span i has trace id [i as u8; 16], so a trace has 1000 / 256 spans.
  for (uint8_t id : {0, 7, 255}) {
    SpanQuery query;
    query.trace_id = std::string(16, static_cast<char>(id));
    const auto table = ScanTable(store.get(), query);
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(table->num_rows(),
              expected_count(std::nullopt, std::nullopt, query.trace_id));
    const auto decoded = Decode(table);
    for (const auto& rs : decoded.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) EXPECT_EQ(span.trace_id(), *query.trace_id);
      }
    }
    query.start_time_min_unix_nano = base + 500 * step;
    EXPECT_EQ(
        CountRows(store.get(), query),
        expected_count(query.start_time_min_unix_nano, std::nullopt, query.trace_id));
  }
  SpanQuery unknown;
  unknown.trace_id = std::string(16, '\x7f');
  unknown.trace_id->back() = 1;
  EXPECT_EQ(CountRows(store.get(), unknown), 0);
  SpanQuery bad;
  bad.trace_id = "short";
  EXPECT_TRUE(store->Scan(bad).status().IsInvalid());
}

TEST_F(ParquetSpanStoreTest, RotatesBySize) {
  auto options = Options();
  options.max_file_bytes = 24 * 1024;
  options.max_row_group_rows = 200;  // flushed row groups make the size estimate exact
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  for (uint64_t seed = 0; seed < 10; ++seed) {
    ASSERT_TRUE(store->Append(Encode(model::RealisticSpans(400, seed))).ok());
  }
  ASSERT_TRUE(store->Flush().ok());
  auto files = store->ListFiles();
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_GT(files->size(), 2u);
  EXPECT_LT(files->size(), 10u + 1u);
  EXPECT_EQ(ExpectEveryListedFileReadable(store.get()), 4000);
  EXPECT_EQ(CountRows(store.get()), 4000);
}

TEST_F(ParquetSpanStoreTest, RotatesByAge) {
  auto options = Options();
  options.max_file_age = std::chrono::milliseconds(0);  // every Append publishes
  options.flush_before_scan = false;
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(store->Append(NumberedBatch(3 * i, 10)).ok());  // same hour every time
    auto files = store->ListFiles();
    ASSERT_TRUE(files.ok());
    EXPECT_EQ(files->size(), static_cast<size_t>(i));
    EXPECT_EQ(CountRows(store.get()), 10 * i);  // visible without Flush
  }
}

// The age of open files follows the store's clock: nothing is published before
// max_file_age, and the background thread publishes without another call after it.
TEST_F(ParquetSpanStoreTest, BackgroundThreadPublishesFilesThatGrewOld) {
  auto clock = std::make_shared<common::ManualClock>();
  auto options = Options();
  options.max_file_age = std::chrono::seconds(60);
  options.flush_before_scan = false;
  options.clock = clock;
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(clock->AwaitWaiters(1));  // the background thread waits for a generation
  ASSERT_TRUE(store->Append(NumberedBatch(0, 10)).ok());
  clock->Advance(std::chrono::seconds(59));
  ASSERT_TRUE(clock->AwaitWaiters(1));
  EXPECT_EQ(CountRows(store.get()), 0);  // not old enough
  clock->Advance(std::chrono::seconds(1));
  // No other call: the background thread must publish. Bounded wait, in real time.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  size_t files = 0;
  while (files == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto listed = store->ListFiles();
    ASSERT_TRUE(listed.ok());
    files = listed->size();
  }
  EXPECT_EQ(files, 1u);
  EXPECT_EQ(CountRows(store.get()), 10);
  ASSERT_TRUE(store->Close().ok());
}

TEST_F(ParquetSpanStoreTest, InvalidBatchIsRefusedAndNothingIsWritten) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  // With the derived columns whether or not the encoder computes them.
  const auto batch = convert::ConformToSpanTableSchema(*Encode(model::RealisticSpans(50)),
                                                       arrow::default_memory_pool())
                         .ValueOrDie();

  auto without_trace_id = batch->RemoveColumn(0);
  ASSERT_TRUE(without_trace_id.ok());
  auto status = store->Append(*without_trace_id);
  EXPECT_TRUE(status.IsInvalid()) << status.ToString();

  // A span id of the wrong width cannot even be built: use a bad enum instead.
  const int kind = batch->schema()->GetFieldIndex("kind");
  arrow::Int32Builder kinds;
  for (int64_t i = 0; i < batch->num_rows(); ++i) ASSERT_TRUE(kinds.Append(99).ok());
  auto bad_kinds = kinds.Finish();
  ASSERT_TRUE(bad_kinds.ok());
  auto with_bad_kind = batch->SetColumn(kind, batch->schema()->field(kind), *bad_kinds);
  ASSERT_TRUE(with_bad_kind.ok());
  status = store->Append(*with_bad_kind);
  EXPECT_TRUE(status.IsInvalid()) << status.ToString();
  EXPECT_NE(status.message().find("kind"), std::string::npos) << status.ToString();

  // start_time that disagrees with start_time_unix_nano would land in the wrong folder.
  const int start_time = batch->schema()->GetFieldIndex("start_time");
  arrow::TimestampBuilder times(batch->schema()->field(start_time)->type(),
                                arrow::default_memory_pool());
  for (int64_t i = 0; i < batch->num_rows(); ++i) ASSERT_TRUE(times.Append(5).ok());
  auto bad_times = times.Finish();
  ASSERT_TRUE(bad_times.ok());
  auto with_bad_times =
      batch->SetColumn(start_time, batch->schema()->field(start_time), *bad_times);
  ASSERT_TRUE(with_bad_times.ok());
  status = store->Append(*with_bad_times);
  EXPECT_TRUE(status.IsInvalid()) << status.ToString();

  EXPECT_TRUE(store->Append(nullptr).IsInvalid());
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_TRUE(FilesEndingWith(".parquet").empty());
  EXPECT_TRUE(FilesEndingWith(".tmp").empty());
  // The WAL holds only the empty segment header.
  const auto segments = FilesEndingWith(".wal");
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_EQ(fs::file_size(segments[0]), 8u);
  EXPECT_EQ(CountRows(store.get()), 0);

  // An empty batch is fine and stores nothing.
  EXPECT_TRUE(store->Append(Encode(otlp::ExportTraceServiceRequest())).ok());
  ASSERT_TRUE(store->Close().ok());
  EXPECT_TRUE(store->Append(batch).IsIOError());  // closed
}

TEST_F(ParquetSpanStoreTest, SecondStoreOnTheSameDataDirIsRefused) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  auto second = ParquetSpanStore::Open(Options());
  EXPECT_TRUE(second.status().IsIOError()) << second.status().ToString();
  ASSERT_TRUE(store->Close().ok());
  auto third = ParquetSpanStore::Open(Options());
  EXPECT_TRUE(third.ok()) << third.status().ToString();
}

TEST_F(ParquetSpanStoreTest, CrashBeforeFlushLosesNothingAndDuplicatesNothing) {
  for (const bool abandon : {true, false}) {
    SCOPED_TRACE(abandon ? "Abandon" : "destructor");
    fs::remove_all(data_dir_);
    SpanSet expected;
    {
      auto store = OpenStore(Options());
      ASSERT_NE(store, nullptr);
      for (uint64_t seed = 0; seed < 4; ++seed) {
        const auto request = model::RandomSpans(150, seed);
        ASSERT_TRUE(store->Append(Encode(request)).ok());
        const SpanSet spans = SpansOf(request);
        expected.insert(spans.begin(), spans.end());
        if (seed == 1) {  // one generation published, one left open
          ASSERT_TRUE(store->Flush().ok());
        }
      }
      auto small = model::SeedSpans(5);
      SetStartTimes(&small, k2026);
      ASSERT_TRUE(store->Append(Encode(small)).ok());
      const SpanSet small_spans = SpansOf(small);
      expected.insert(small_spans.begin(), small_spans.end());
      if (abandon) {
        internal::ParquetSpanStoreTesting::Abandon(*store);
        EXPECT_FALSE(FilesEndingWith(".parquet.tmp").empty());  // what a crash leaves
      }
    }  // destroyed without Flush() or Close()
    auto store = OpenStore(Options());
    ASSERT_NE(store, nullptr);
    EXPECT_GE(store->recovery_report().segments_replayed, 1);
    EXPECT_EQ(store->recovery_report().torn_bytes_dropped, 0);
    if (abandon) {
      EXPECT_GE(store->recovery_report().temporary_files_removed, 1);
    } else {  // the destructor removes its temporary files itself
      EXPECT_EQ(store->recovery_report().temporary_files_removed, 0);
    }
    EXPECT_TRUE(FilesEndingWith(".tmp").empty());
    const auto table = ScanTable(store.get());
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(table->num_rows(), static_cast<int64_t>(expected.size()));
    EXPECT_EQ(SpansOf(Decode(table)), expected);
    EXPECT_EQ(ExpectEveryListedFileReadable(store.get()),
              static_cast<int64_t>(expected.size()));
  }
}

// A receiver hands the batch it validated and the stream it received (compressed, the
// derived columns left off as on the wire): the WAL logs that stream as it is, and a
// replay after a crash brings the same spans back.
TEST_F(ParquetSpanStoreTest, AppendValidatedLogsTheReceivedStreamAsItIs) {
  const auto request = model::RandomSpans(300, 5);
  const auto batch = Encode(request);
  auto options = arrow::ipc::IpcWriteOptions::Defaults();
  options.codec = arrow::util::Codec::Create(arrow::Compression::ZSTD).ValueOrDie();
  const auto on_the_wire = convert::WithoutDerivedTimeColumns(*batch);
  auto sink = arrow::io::BufferOutputStream::Create().ValueOrDie();
  auto writer =
      arrow::ipc::MakeStreamWriter(sink, on_the_wire->schema(), options).ValueOrDie();
  ASSERT_TRUE(writer->WriteRecordBatch(*on_the_wire).ok());
  ASSERT_TRUE(writer->Close().ok());
  const auto stream = sink->Finish().ValueOrDie();
  {
    auto store = OpenStore(Options());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->AppendValidated(batch, stream).ok());
    EXPECT_EQ(store->Stats().wal_bytes_appended, stream->size());
    const auto segments = FilesEndingWith(".wal");
    ASSERT_EQ(segments.size(), 1u);
    // Segment header, record header, the stream.
    EXPECT_EQ(fs::file_size(segments[0]), static_cast<uintmax_t>(16 + stream->size()));
    internal::ParquetSpanStoreTesting::Abandon(*store);
  }
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->recovery_report().records_replayed, 1);
  const auto table = ScanTable(store.get());
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(SpansOf(Decode(table)), SpansOf(request));
}

TEST_F(ParquetSpanStoreTest, SegmentLeftAfterItsFilesWerePublishedIsNotStoredTwice) {
  auto request = model::RandomSpans(500, 3);  // several hours
  fs::path saved_segment;
  {
    auto store = OpenStore(Options());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Append(Encode(request)).ok());
    const auto segments = FilesEndingWith(".wal");
    ASSERT_EQ(segments.size(), 1u);
    saved_segment = data_dir_ / "saved-segment";
    fs::copy_file(segments[0], saved_segment);
    ASSERT_TRUE(store->Flush().ok());
    // A crash between the renames and the removal of the segment, recreated: the
    // segment is back, and so is one of the files as a leftover.
    internal::ParquetSpanStoreTesting::Abandon(*store);
    fs::rename(saved_segment, segments[0]);
  }
  const auto published = FilesEndingWith(".parquet");
  ASSERT_GT(published.size(), 1u);
  fs::remove(published.back());  // as if the crash came before its rename
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  const auto& report = store->recovery_report();
  EXPECT_EQ(report.segments_replayed, 2);  // the restored one and the empty next one
  EXPECT_EQ(report.records_replayed, 1);
  EXPECT_GT(report.rows_already_published, 0);
  EXPECT_GT(report.rows_written, 0);
  EXPECT_EQ(report.rows_already_published + report.rows_written, 500);
  const auto table = ScanTable(store.get());
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->num_rows(), 500);
  EXPECT_EQ(SpansOf(Decode(table)), SpansOf(request));
}

TEST_F(ParquetSpanStoreTest, TornWalTailDropsOnlyTheLastRecord) {
  for (const int64_t cut : {1, 5, 100}) {
    SCOPED_TRACE("cut " + std::to_string(cut));
    fs::remove_all(data_dir_);
    std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
    {
      auto store = OpenStore(Options());
      ASSERT_NE(store, nullptr);
      for (uint64_t i = 0; i < 3; ++i) {
        batches.push_back(NumberedBatch(i, 40));
        ASSERT_TRUE(store->Append(batches.back()).ok());
      }
      internal::ParquetSpanStoreTesting::Abandon(*store);
    }
    const auto segments = FilesEndingWith(".wal");
    ASSERT_EQ(segments.size(), 1u);
    fs::resize_file(segments[0], fs::file_size(segments[0]) - cut);
    auto store = OpenStore(Options());
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->recovery_report().records_replayed, 2);
    EXPECT_GT(store->recovery_report().torn_bytes_dropped, 0);
    EXPECT_EQ(CountRows(store.get()), 80);
    for (uint64_t i = 0; i < 3; ++i) {
      SpanQuery query;
      query.trace_id = TraceId(i, 7);
      EXPECT_EQ(CountRows(store.get(), query), i < 2 ? 1 : 0) << "batch " << i;
    }
  }
}

TEST_F(ParquetSpanStoreTest, CorruptWalRecordEndsTheGoodRecords) {
  {
    auto store = OpenStore(Options());
    ASSERT_NE(store, nullptr);
    for (uint64_t i = 0; i < 3; ++i)
      ASSERT_TRUE(store->Append(NumberedBatch(i, 40)).ok());
    internal::ParquetSpanStoreTesting::Abandon(*store);
  }
  const auto segments = FilesEndingWith(".wal");
  ASSERT_EQ(segments.size(), 1u);
  // Flip a byte in the last record's payload: the checksum catches it.
  const auto size = fs::file_size(segments[0]);
  std::fstream file(segments[0], std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(static_cast<std::streamoff>(size - 16));
  char byte = 0;
  file.read(&byte, 1);
  file.seekp(static_cast<std::streamoff>(size - 16));
  byte = static_cast<char>(byte ^ 0x5a);
  file.write(&byte, 1);
  file.close();
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->recovery_report().records_replayed, 2);
  EXPECT_EQ(CountRows(store.get()), 80);
}

TEST_F(ParquetSpanStoreTest, LeftoverTemporaryFileIsRemovedAtOpen) {
  {
    auto store = OpenStore(Options());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Append(NumberedBatch(0, 20)).ok());
    ASSERT_TRUE(store->Close().ok());
  }
  const auto published = FilesEndingWith(".parquet");
  ASSERT_EQ(published.size(), 1u);
  const fs::path leftover = published[0].parent_path() / "part-s99.parquet.tmp";
  std::ofstream(leftover) << "PAR1 half a file";
  const fs::path other_hour = data_dir_ / "spans/dt=2026-01-02/hour=05";
  fs::create_directories(other_hour);
  std::ofstream(other_hour / "part-crashed.parquet.tmp") << "PAR1";

  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->recovery_report().temporary_files_removed, 2);
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_TRUE(FilesEndingWith(".tmp").empty());
  EXPECT_EQ(ExpectEveryListedFileReadable(store.get()), 20);
  EXPECT_EQ(CountRows(store.get()), 20);
}

TEST_F(ParquetSpanStoreTest, ReopenedStoreKeepsAppendingWithoutNameClashes) {
  for (int round = 0; round < 3; ++round) {
    auto store = OpenStore(Options());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Append(NumberedBatch(round, 30)).ok());      // hours 0, 1, 2
    ASSERT_TRUE(store->Append(NumberedBatch(round + 3, 30)).ok());  // same hours again
    ASSERT_TRUE(store->Close().ok());
  }
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->recovery_report().segments_replayed, 0);
  EXPECT_EQ(CountRows(store.get()), 180);
}

TEST_F(ParquetSpanStoreTest, ConcurrentAppendsAreAllStoredOnce) {
  auto options = Options();
  options.durability = WalDurability::kFlushToOs;
  options.max_file_bytes = 16 * 1024;                    // rotations by size …
  options.max_file_age = std::chrono::milliseconds(50);  // … and by the background thread
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 4;
  constexpr int kBatchesPerThread = 5;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBatchesPerThread; ++i) {
        if (!store->Append(NumberedBatch(t * 100 + i, 20)).ok()) ++failures;
        if (i % 3 == 0 && !store->ListFiles().ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  const auto table = ScanTable(store.get());
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->num_rows(), kThreads * kBatchesPerThread * 20);
  std::set<std::string> ids;
  for (const auto& chunk : table->GetColumnByName("trace_id")->chunks()) {
    const auto& values = static_cast<const arrow::FixedSizeBinaryArray&>(*chunk);
    for (int64_t i = 0; i < values.length(); ++i) ids.insert(values.GetString(i));
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(table->num_rows()));  // no duplicates
  ASSERT_TRUE(store->Close().ok());
}

TEST_F(ParquetSpanStoreTest, ParquetFailureAfterTheWalKeepsTheBatch) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  // A file where the day folder must go: Parquet cannot be written, the WAL can.
  const fs::path day = data_dir_ / "spans" / "dt=2026-01-01";
  std::ofstream(day) << "in the way";
  const auto batch = NumberedBatch(0, 25);  // hour 00 of 2026-01-01
  EXPECT_TRUE(store->Append(batch).ok()) << "the batch is durable in the WAL";
  EXPECT_TRUE(store->Append(NumberedBatch(3, 25)).ok());
  const auto flushed = store->Flush();
  EXPECT_TRUE(flushed.IsIOError()) << flushed.ToString();
  EXPECT_TRUE(FilesEndingWith(".tmp").empty());

  fs::remove(day);
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(CountRows(store.get()), 50);
  ASSERT_TRUE(store->Close().ok());
  EXPECT_TRUE(FilesEndingWith(".wal").empty());
}

// A disk without room, for this process: no file grows past `bytes` (RLIMIT_FSIZE;
// writes fail with EFBIG instead of ENOSPC, an I/O error all the same). Lift() or the
// destructor gives the room back.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    EXPECT_EQ(::getrlimit(RLIMIT_FSIZE, &saved_), 0);
    previous_handler_ = ::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of a signal
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  }
  ~FileSizeLimit() { Lift(); }
  void Lift() {
    if (lifted_) return;
    lifted_ = true;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &saved_), 0);
    ::signal(SIGXFSZ, previous_handler_);
  }

 private:
  rlimit saved_{};
  sighandler_t previous_handler_ = SIG_DFL;
  bool lifted_ = false;
};

// After a crash the WAL holds spans that are not in Parquet yet; the disk is full. The
// store must open (a receiver that cannot start crash-loops), serve what is published,
// refuse what it cannot write, say so, and publish the WAL once there is room.
TEST_F(ParquetSpanStoreTest, RecoveryOnAFullDiskServesReadsRefusesWritesThenPublishes) {
  {
    auto store = OpenStore(Options());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Append(NumberedBatch(0, 40)).ok());
    ASSERT_TRUE(store->Flush().ok());                       // published
    ASSERT_TRUE(store->Append(NumberedBatch(1, 60)).ok());  // acknowledged, WAL only
    internal::ParquetSpanStoreTesting::Abandon(*store);     // kill -9
  }
  FileSizeLimit full_disk(0);
  auto opened = ParquetSpanStore::Open(Options());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto store = *std::move(opened);
  EXPECT_EQ(store->recovery_report().segments_unpublished, 1);
  EXPECT_EQ(store->Stats().unpublished_segments, 1);
  EXPECT_GE(store->Stats().publish_failures, 1);
  const arrow::Status health = store->Health();
  EXPECT_TRUE(health.IsIOError()) << health.ToString();
  EXPECT_NE(health.message().find("1 WAL segments wait"), std::string::npos) << health;

  EXPECT_EQ(CountRows(store.get()), 40);  // reads: what was published
  const arrow::Status refused = store->Append(NumberedBatch(2, 10));
  EXPECT_TRUE(refused.IsIOError()) << refused.ToString();
  EXPECT_EQ(FilesEndingWith(".wal").size(), 1u) << "no empty segment per retry";

  // Room again: the background thread publishes the WAL with no call to the store.
  full_disk.Lift();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!store->Health().ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(store->Health().ok()) << store->Health().ToString();
  EXPECT_EQ(store->Stats().unpublished_segments, 0);
  EXPECT_EQ(ExpectEveryListedFileReadable(store.get()), 100);
  ASSERT_TRUE(store->Append(NumberedBatch(2, 10)).ok());
  EXPECT_EQ(CountRows(store.get()), 110);
  ASSERT_TRUE(store->Close().ok());
  EXPECT_TRUE(FilesEndingWith(".wal").empty());
}

TEST_F(ParquetSpanStoreTest, FilesOfOtherWritersAreListedAndScanned) {
  // ParquetSpanWriter (the demo) writes no bounds metadata: statistics give them.
  auto writer_options = ParquetSpanWriterOptions::Defaults();
  writer_options.data_dir = data_dir_.string();
  auto request = model::SeedSpans(300);
  SetStartTimes(&request, k2026 + 5 * kHourNs + 17, 1000);
  ASSERT_TRUE(ParquetSpanWriter(writer_options).Write(*Encode(request)).ok());
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Append(NumberedBatch(0, 10)).ok());
  ASSERT_TRUE(store->Flush().ok());
  auto files = store->ListFiles();
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->size(), 2u);
  const auto& foreign = (*files)[1];  // hour=05 sorts after hour=00
  EXPECT_NE(foreign.path.find("hour=05/part-"), std::string::npos) << foreign.path;
  EXPECT_EQ(foreign.num_rows, 300);
  EXPECT_EQ(foreign.start_time_min_unix_nano, k2026 + 5 * kHourNs + 17);
  EXPECT_EQ(foreign.start_time_max_unix_nano, k2026 + 5 * kHourNs + 17 + 299 * 1000);
  SpanQuery query;
  query.start_time_min_unix_nano = k2026 + 5 * kHourNs + 17 + 100 * 1000;
  EXPECT_EQ(CountRows(store.get(), query), 200);
  EXPECT_EQ(CountRows(store.get()), 310);
}

TEST(PartitionFolderTest, HourRoundTripsThroughItsFolderName) {
  for (const int64_t hour :
       {int64_t{0}, int64_t{1}, int64_t{23}, int64_t{24}, int64_t{490'896},
        int64_t{5'124'095}, int64_t{-1}, int64_t{-24 * 366}, int64_t{80'000'000}}) {
    const fs::path file = fs::path("spans") / internal::PartitionDir(hour) / "x.parquet";
    EXPECT_EQ(internal::HourOfPartitionFile(file), hour) << file;
  }
  EXPECT_EQ(internal::HourOfPartitionFile("spans/dt=2026-01-01/x.parquet"), std::nullopt);
  EXPECT_EQ(internal::HourOfPartitionFile("dt=2026-13-01/hour=00/x.parquet"),
            std::nullopt);
  EXPECT_EQ(internal::HourOfPartitionFile("dt=2026-01-01/hour=24/x.parquet"),
            std::nullopt);
  EXPECT_EQ(internal::HourOfPartitionFile("dt=2026-01-01/hour=0x/x.parquet"),
            std::nullopt);
}

TEST(WriteAheadLogTest, RecordsComeBackInOrderUpToATornTail) {
  const fs::path dir =
      fs::temp_directory_path() / ("otlp-arrow-wal-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto writer = internal::WalSegmentWriter::Create(dir, 42);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  EXPECT_EQ((*writer)->path().filename(), "00000000000000000042.wal");
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  for (uint64_t i = 0; i < 3; ++i) {
    batches.push_back(NumberedBatch(i, 5 + i));
    auto payload =
        internal::SerializeWalRecord(*batches.back(), arrow::default_memory_pool());
    ASSERT_TRUE(payload.ok());
    ASSERT_TRUE((*writer)->Append(**payload, /*fsync=*/i == 0).ok());
  }
  EXPECT_EQ((*writer)->num_records(), 3);
  EXPECT_EQ((*writer)->size_bytes(),
            static_cast<int64_t>(fs::file_size((*writer)->path())));
  const fs::path path = (*writer)->path();
  writer->reset();
  // A half-written fourth record.
  std::ofstream(path, std::ios::app | std::ios::binary)
      << std::string("\x40\0\0\0abc", 7);

  auto listed = internal::ListWalSegments(dir);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, std::vector<uint64_t>{42});
  auto reader = internal::WalSegmentReader::Open(path, arrow::default_memory_pool());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  for (const auto& expected : batches) {
    auto payload = (*reader)->Next();
    ASSERT_TRUE(payload.ok());
    ASSERT_NE(*payload, nullptr);
    auto batch = internal::DeserializeWalRecord(*payload);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    EXPECT_TRUE((*batch)->Equals(*expected));
  }
  auto end = (*reader)->Next();
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, nullptr);
  EXPECT_EQ((*reader)->dropped_bytes(), 7);
  fs::remove_all(dir);
}

// A real crash: a child process appends and acknowledges each batch through a pipe; it
// is killed with SIGKILL mid-stream, and every acknowledged batch must be stored once.
TEST_F(ParquetSpanStoreTest, KillNineLosesNoAcknowledgedBatch) {
  constexpr int kSpansPerBatch = 10;
  constexpr int kAcksBeforeKill = 10;
  for (const auto durability : {WalDurability::kFlushToOs, WalDurability::kFsync}) {
    SCOPED_TRACE(durability == WalDurability::kFsync ? "fsync" : "flush to OS");
    fs::remove_all(data_dir_);
    auto options = Options();
    options.durability = durability;
    options.max_file_bytes = 12 * 1024;  // rotations while the kill can strike
    int acks[2];
    ASSERT_EQ(::pipe(acks), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(acks[0]);
      ::alarm(30);  // never outlive a broken parent
      auto store = ParquetSpanStore::Open(options);
      if (!store.ok()) ::_exit(2);
      for (uint32_t i = 0; i < 100'000; ++i) {
        if (!(*store)->Append(NumberedBatch(i, kSpansPerBatch)).ok()) ::_exit(3);
        if (::write(acks[1], &i, sizeof(i)) != sizeof(i)) ::_exit(4);
      }
      ::_exit(0);
    }
    ::close(acks[1]);
    std::set<uint32_t> acknowledged;
    uint32_t index = 0;
    while (acknowledged.size() < kAcksBeforeKill &&
           ::read(acks[0], &index, sizeof(index)) == sizeof(index)) {
      acknowledged.insert(index);
    }
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int wait_status = 0;
    ASSERT_EQ(::waitpid(child, &wait_status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(wait_status)) << "child exited with " << wait_status;
    // Acknowledgements still in the pipe count too.
    while (::read(acks[0], &index, sizeof(index)) == sizeof(index)) {
      acknowledged.insert(index);
    }
    ::close(acks[0]);
    ASSERT_GE(acknowledged.size(), static_cast<size_t>(kAcksBeforeKill));

    auto store = OpenStore(Options());
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(FilesEndingWith(".tmp").empty());
    const auto table = ScanTable(store.get());
    ASSERT_NE(table, nullptr);
    // Spans per batch, from the trace ids; every (batch, span) pair at most once.
    std::map<uint64_t, std::set<uint64_t>> spans_by_batch;
    int64_t duplicates = 0;
    const auto trace_ids = table->GetColumnByName("trace_id");
    for (const auto& chunk : trace_ids->chunks()) {
      const auto& ids = static_cast<const arrow::FixedSizeBinaryArray&>(*chunk);
      for (int64_t i = 0; i < ids.length(); ++i) {
        uint64_t batch = 0;
        uint64_t span = 0;
        const auto* bytes = ids.GetValue(i);
        for (int b = 0; b < 8; ++b) {
          batch = (batch << 8) | bytes[b];
          span = (span << 8) | bytes[8 + b];
        }
        if (!spans_by_batch[batch].insert(span).second) ++duplicates;
      }
    }
    EXPECT_EQ(duplicates, 0);
    for (const uint32_t batch : acknowledged) {
      EXPECT_EQ(spans_by_batch[batch].size(), static_cast<size_t>(kSpansPerBatch))
          << "acknowledged batch " << batch;
    }
    // An unacknowledged batch may be there (its WAL write finished), but only whole.
    for (const auto& [batch, spans] : spans_by_batch) {
      EXPECT_EQ(spans.size(), static_cast<size_t>(kSpansPerBatch)) << "batch " << batch;
    }
    EXPECT_EQ(ExpectEveryListedFileReadable(store.get()), table->num_rows());
  }
}

}  // namespace
}  // namespace otlp_arrow::storage
