// SPDX-License-Identifier: Apache-2.0
// ParquetSpanWriter: lossless through Parquet, Hive partitions by hour, crash-safe files.

#include "otlp_arrow/storage/parquet_span_writer.h"

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <arrow/api.h>
#include <gtest/gtest.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <parquet/schema.h>
#include <parquet/types.h>

#include "../convert/span_table_test_util.h"
#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_decoder.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/workloads.h"

namespace otlp_arrow::storage {
namespace {

namespace fs = std::filesystem;
using testing::Canonical;
using testing::ExpectSameOtlp;

using testing::k2026;
using testing::kHourNs;

std::shared_ptr<arrow::RecordBatch> Encode(
    const otlp::ExportTraceServiceRequest& request) {
  return testing::EncodeOrFail(request);
}

otlp::ExportTraceServiceRequest Decode(const arrow::Table& table) {
  return testing::DecodeOrFail(table);
}

// Every span gets start time `base + i` (and a later end), so all fall into one hour.
void SetStartTimes(otlp::ExportTraceServiceRequest* request, uint64_t base) {
  uint64_t i = 0;
  for (auto& rs : *request->mutable_resource_spans()) {
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (auto& span : *ss.mutable_spans()) {
        span.set_start_time_unix_nano(base + i);
        span.set_end_time_unix_nano(base + i + 1000);
        ++i;
      }
    }
  }
}

class ParquetSpanWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    data_dir_ =
        fs::temp_directory_path() /
        ("otlp-arrow-storage-test-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(data_dir_);
  }
  void TearDown() override { fs::remove_all(data_dir_); }

  ParquetSpanWriter MakeWriter() const {
    auto options = ParquetSpanWriterOptions::Defaults();
    options.data_dir = data_dir_.string();
    return ParquetSpanWriter(options);
  }

  // Files under data_dir whose name ends with `suffix`, relative to `<data_dir>/spans`.
  std::vector<std::string> FilesEndingWith(const std::string& suffix) const {
    std::vector<std::string> out;
    if (!fs::exists(data_dir_)) return out;
    for (const auto& entry : fs::recursive_directory_iterator(data_dir_)) {
      const std::string path = entry.path().string();
      if (entry.is_regular_file() && path.size() >= suffix.size() &&
          path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
        out.push_back(entry.path().lexically_relative(data_dir_ / "spans").string());
      }
    }
    return out;
  }

  fs::path data_dir_;
};

TEST_F(ParquetSpanWriterTest, DefaultOptions) {
  const auto options = ParquetSpanWriterOptions::Defaults();
  EXPECT_EQ(options.data_dir, "./data");
  EXPECT_EQ(options.zstd_level, 3);
  EXPECT_EQ(options.max_row_group_rows, 128 * 1024);
  EXPECT_TRUE(options.dictionary_encoding);
}

TEST_F(ParquetSpanWriterTest, RealisticSpansAreLossless) {
  const auto in = model::RealisticSpans(2000);
  auto result = MakeWriter().Write(*Encode(in));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->files.size(), 1u);
  EXPECT_EQ(result->files[0].num_rows, 2000);
  EXPECT_EQ(result->files[0].num_bytes,
            static_cast<int64_t>(fs::file_size(result->files[0].path)));
  EXPECT_NE(result->files[0].path.find("/spans/dt=2026-01-01/hour=00/part-"),
            std::string::npos)
      << result->files[0].path;

  auto table = ReadSpanDataset(data_dir_.string());
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ((*table)->num_rows(), 2000);
  // store_schema brings back the exact Arrow types: dictionaries, UTC timestamps.
  EXPECT_TRUE((*table)->schema()->Equals(*convert::SpanTableSchema()))
      << (*table)->schema()->ToString();
  ExpectSameOtlp(Canonical(in), Decode(**table));
  EXPECT_TRUE(FilesEndingWith(".tmp").empty());
}

// The derived columns are computed where spans are stored: a batch without them (as
// senders leave them off) is written with them.
TEST_F(ParquetSpanWriterTest, DerivedTimeColumnsAreComputedWhenAbsent) {
  const auto in = model::RealisticSpans(500);
  // With the derived columns whether or not the encoder computes them.
  const auto full =
      convert::ConformToSpanTableSchema(*Encode(in), arrow::default_memory_pool())
          .ValueOrDie();
  auto result = MakeWriter().Write(*convert::WithoutDerivedTimeColumns(*full));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  auto table = ReadSpanDataset(data_dir_.string());
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_TRUE((*table)->schema()->Equals(*convert::SpanTableSchema()));
  for (const char* name : {"start_time", "duration_ns"}) {
    SCOPED_TRACE(name);
    auto written = (*table)->GetColumnByName(name);
    ASSERT_NE(written, nullptr);
    EXPECT_TRUE(written->Equals(arrow::ChunkedArray(full->GetColumnByName(name))));
  }
  ExpectSameOtlp(Canonical(in), Decode(**table));
}

TEST_F(ParquetSpanWriterTest, RandomSpansInOneHourAreLossless) {
  for (uint64_t seed : {1, 2}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    fs::remove_all(data_dir_);
    auto in = model::RandomSpans(3000, seed);
    SetStartTimes(&in, k2026 + 5 * kHourNs);
    auto result = MakeWriter().Write(*Encode(in));
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    ASSERT_EQ(result->files.size(), 1u);
    EXPECT_EQ(result->total_rows(), 3000);
    auto table = ReadSpanDataset(data_dir_.string());
    ASSERT_TRUE(table.ok()) << table.status().ToString();
    ExpectSameOtlp(Canonical(in), Decode(**table));
    EXPECT_TRUE(FilesEndingWith(".tmp").empty());
  }
}

TEST_F(ParquetSpanWriterTest, SpansLandInTheFolderOfTheirHour) {
  // Start times and the folder each belongs to (dates checked against Python's calendar).
  const std::vector<std::pair<uint64_t, std::string>> cases = {
      {0, "dt=1970-01-01/hour=00"},
      {k2026, "dt=2026-01-01/hour=00"},
      {k2026 + kHourNs - 1, "dt=2026-01-01/hour=00"},  // last nanosecond of the hour
      {k2026 + kHourNs, "dt=2026-01-01/hour=01"},
      {k2026 - 1, "dt=2025-12-31/hour=23"},
      {1'709'249'400'000'000'000ULL, "dt=2024-02-29/hour=23"},  // leap day, 23:30
      {UINT64_MAX, "dt=2554-07-21/hour=23"},
  };
  auto in = model::SeedSpans(1000);
  std::map<std::string, int64_t> expected_rows;
  int64_t i = 0;
  for (auto& span :
       *in.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans()) {
    // Uneven counts, and the hours interleaved so that rows must be regrouped.
    const auto& [start, folder] = cases[(i * i + i / 7) % cases.size()];
    span.set_start_time_unix_nano(start);
    ++expected_rows[folder];
    ++i;
  }
  auto result = MakeWriter().Write(*Encode(in));
  ASSERT_TRUE(result.ok()) << result.status().ToString();

  std::map<std::string, int64_t> rows_by_folder;
  for (const auto& file : result->files) {
    const fs::path relative = fs::path(file.path).lexically_relative(data_dir_ / "spans");
    rows_by_folder[relative.parent_path().string()] += file.num_rows;
    // The file itself holds that many rows, all of its hour.
    auto reader = parquet::ParquetFileReader::OpenFile(file.path);
    EXPECT_EQ(reader->metadata()->num_rows(), file.num_rows) << file.path;
  }
  EXPECT_EQ(rows_by_folder, expected_rows);
  EXPECT_EQ(result->files.size(), expected_rows.size());
  EXPECT_EQ(FilesEndingWith(".parquet").size(), expected_rows.size());
  EXPECT_TRUE(FilesEndingWith(".tmp").empty());

  // Every span comes back once: same multiset of (start time, name).
  auto table = ReadSpanDataset(data_dir_.string());
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_EQ((*table)->num_rows(), 1000);
  const auto out = Decode(**table);
  std::multiset<std::pair<uint64_t, std::string>> written, read;
  for (const auto& span : in.resource_spans(0).scope_spans(0).spans()) {
    written.emplace(span.start_time_unix_nano(), span.name());
  }
  for (const auto& rs : out.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans())
        read.emplace(span.start_time_unix_nano(), span.name());
    }
  }
  EXPECT_EQ(written, read);
}

TEST_F(ParquetSpanWriterTest, RandomSpansOverSeveralHoursAllComeBack) {
  const auto in = model::RandomSpans(3000, 7);
  auto result = MakeWriter().Write(*Encode(in));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_GT(result->files.size(), 1u);  // the workload has times 0, 2026 and UINT64_MAX
  EXPECT_EQ(result->total_rows(), 3000);
  auto table = ReadSpanDataset(data_dir_.string());
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ((*table)->num_rows(), 3000);
  EXPECT_EQ(model::CountSpans(Decode(**table)), 3000);
}

TEST_F(ParquetSpanWriterTest, ParquetMetadataIsReadableByOtherEngines) {
  auto options = ParquetSpanWriterOptions::Defaults();
  options.data_dir = data_dir_.string();
  options.max_row_group_rows = 500;
  const auto in = model::RealisticSpans(2000);
  auto result = ParquetSpanWriter(options).Write(*Encode(in));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->files.size(), 1u);
  auto table = ReadSpanDataset(data_dir_.string());  // one chunk per row group
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ExpectSameOtlp(Canonical(in), Decode(**table));

  auto reader = parquet::ParquetFileReader::OpenFile(result->files[0].path);
  const auto metadata = reader->metadata();
  EXPECT_EQ(metadata->version(), parquet::ParquetVersion::PARQUET_2_6);
  EXPECT_EQ(metadata->num_row_groups(), 4);
  const parquet::SchemaDescriptor* schema = metadata->schema();

  // Spark cannot read TIMESTAMP(NANOS): start_time must be micros, adjusted to UTC.
  const int start_time = schema->ColumnIndex(std::string(convert::column::kStartTime));
  ASSERT_GE(start_time, 0);
  EXPECT_EQ(schema->Column(start_time)->physical_type(), parquet::Type::INT64);
  const auto& logical = schema->Column(start_time)->logical_type();
  ASSERT_TRUE(logical->is_timestamp()) << logical->ToString();
  const auto& timestamp = static_cast<const parquet::TimestampLogicalType&>(*logical);
  EXPECT_EQ(timestamp.time_unit(), parquet::LogicalType::TimeUnit::MICROS);
  EXPECT_TRUE(timestamp.is_adjusted_to_utc());

  const int nanos = schema->ColumnIndex(std::string(convert::column::kStartTimeUnixNano));
  ASSERT_GE(nanos, 0);
  EXPECT_TRUE(schema->Column(nanos)->logical_type()->Equals(
      *parquet::LogicalType::Int(64, /*is_signed=*/false)));

  const int trace_id = schema->ColumnIndex(std::string(convert::column::kTraceId));
  ASSERT_GE(trace_id, 0);
  EXPECT_EQ(schema->Column(trace_id)->physical_type(),
            parquet::Type::FIXED_LEN_BYTE_ARRAY);
  EXPECT_EQ(schema->Column(trace_id)->type_length(), 16);

  const auto row_group = metadata->RowGroup(0);
  EXPECT_EQ(row_group->ColumnChunk(start_time)->compression(), arrow::Compression::ZSTD);
  const int service = schema->ColumnIndex(std::string(convert::column::kServiceName));
  ASSERT_GE(service, 0);
  EXPECT_TRUE(row_group->ColumnChunk(service)->has_dictionary_page());

  // The Arrow schema travels in the footer (store_schema).
  ASSERT_NE(metadata->key_value_metadata(), nullptr);
  EXPECT_TRUE(metadata->key_value_metadata()->Contains("ARROW:schema"));
}

TEST_F(ParquetSpanWriterTest, BadBatchIsInvalidAndWritesNothing) {
  // With the derived columns whether or not the encoder computes them.
  const auto batch =
      convert::ConformToSpanTableSchema(*Encode(model::RealisticSpans(100)),
                                        arrow::default_memory_pool())
          .ValueOrDie();
  const auto writer = MakeWriter();

  auto without_trace_id = batch->RemoveColumn(0);
  ASSERT_TRUE(without_trace_id.ok());
  auto result = writer.Write(**without_trace_id);
  EXPECT_TRUE(result.status().IsInvalid()) << result.status().ToString();
  EXPECT_NE(result.status().message().find("trace_id"), std::string::npos)
      << result.status().ToString();

  // start_time in nanoseconds is not the span table's type. (Without start_time, the
  // batch is written: DerivedTimeColumnsAreComputedWhenAbsent.)
  const int start_time =
      batch->schema()->GetFieldIndex(std::string(convert::column::kStartTime));
  auto nanos = arrow::field(std::string(convert::column::kStartTime),
                            arrow::timestamp(arrow::TimeUnit::NANO, "UTC"), false);
  auto nanos_array = batch->column(start_time)->View(nanos->type());
  ASSERT_TRUE(nanos_array.ok());
  auto with_nanos = batch->SetColumn(start_time, nanos, *nanos_array);
  ASSERT_TRUE(with_nanos.ok());
  result = writer.Write(**with_nanos);
  EXPECT_TRUE(result.status().IsInvalid()) << result.status().ToString();
  EXPECT_NE(result.status().message().find("column 'start_time': expected type"),
            std::string::npos)
      << result.status().ToString();

  EXPECT_FALSE(fs::exists(data_dir_ / "spans"));
}

TEST_F(ParquetSpanWriterTest, EmptyBatchWritesNothing) {
  auto result = MakeWriter().Write(*Encode(otlp::ExportTraceServiceRequest()));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->files.empty());
  EXPECT_TRUE(FilesEndingWith(".parquet").empty());
}

TEST_F(ParquetSpanWriterTest, BadOptionsAreInvalid) {
  auto options = ParquetSpanWriterOptions::Defaults();
  options.data_dir = data_dir_.string();
  options.zstd_level = 0;
  const auto batch = Encode(model::SeedSpans(10));
  EXPECT_TRUE(ParquetSpanWriter(options).Write(*batch).status().IsInvalid());
  options.zstd_level = 3;
  options.max_row_group_rows = 0;
  EXPECT_TRUE(ParquetSpanWriter(options).Write(*batch).status().IsInvalid());
}

TEST_F(ParquetSpanWriterTest, UnwritableDataDirIsAnIOError) {
  fs::create_directories(data_dir_);
  std::ofstream(data_dir_ / "spans") << "a file where the spans folder should be";
  auto result = MakeWriter().Write(*Encode(model::SeedSpans(10)));
  EXPECT_TRUE(result.status().IsIOError()) << result.status().ToString();
  EXPECT_NE(result.status().message().find("spans"), std::string::npos);
}

TEST_F(ParquetSpanWriterTest, ReadSkipsTemporaryFilesAndNamesBadFiles) {
  auto result = MakeWriter().Write(*Encode(model::SeedSpans(10)));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const fs::path folder = fs::path(result->files[0].path).parent_path();
  // What a crash mid-write leaves behind: never read.
  std::ofstream(folder / "part-crashed.parquet.tmp") << "PAR1 half a file";
  auto table = ReadSpanDataset(data_dir_.string());
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ((*table)->num_rows(), 10);

  std::ofstream(folder / "part-corrupt.parquet") << "not parquet at all";
  table = ReadSpanDataset(data_dir_.string());
  ASSERT_FALSE(table.ok());
  EXPECT_NE(table.status().message().find("part-corrupt.parquet"), std::string::npos)
      << table.status().ToString();
}

TEST_F(ParquetSpanWriterTest, ReadOfAnEmptyDataDirIsAnEmptySpanTable) {
  auto table = ReadSpanDataset(data_dir_.string());
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ((*table)->num_rows(), 0);
  EXPECT_TRUE((*table)->schema()->Equals(*convert::SpanTableSchema()));
}

TEST_F(ParquetSpanWriterTest, SeveralWritesMakeSeveralFilesInOneDataset) {
  const auto writer = MakeWriter();
  for (int i = 0; i < 3; ++i) {
    auto result = writer.Write(*Encode(model::RealisticSpans(300, i)));
    ASSERT_TRUE(result.ok()) << result.status().ToString();
  }
  EXPECT_EQ(FilesEndingWith(".parquet").size(), 3u);
  auto table = ReadSpanDataset(data_dir_.string());
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ((*table)->num_rows(), 900);
  EXPECT_EQ(model::CountSpans(Decode(**table)), 900);
}

}  // namespace
}  // namespace otlp_arrow::storage
