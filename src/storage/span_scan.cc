// SPDX-License-Identifier: Apache-2.0

#include "span_scan_internal.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <arrow/util/key_value_metadata.h>
#include <parquet/arrow/reader.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <parquet/statistics.h>

#include "otlp_arrow/convert/span_schema.h"
#include "parquet_files_internal.h"

namespace otlp_arrow::storage::internal {

namespace fs = std::filesystem;

namespace {

std::optional<uint64_t> ParseUInt64(const std::string& text) {
  uint64_t value = 0;
  const auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// Start-time bounds of a file: from the store's key-value metadata, else from the column
// statistics of every row group, else unbounded.
std::pair<uint64_t, uint64_t> StartTimeBounds(const parquet::FileMetaData& metadata) {
  if (const auto kv = metadata.key_value_metadata()) {
    const auto min = kv->Get(std::string(kStartTimeMinKey));
    const auto max = kv->Get(std::string(kStartTimeMaxKey));
    if (min.ok() && max.ok()) {
      const auto min_value = ParseUInt64(*min);
      const auto max_value = ParseUInt64(*max);
      if (min_value && max_value) return {*min_value, *max_value};
    }
  }
  constexpr std::pair<uint64_t, uint64_t> kUnbounded = {
      0, std::numeric_limits<uint64_t>::max()};
  const int column =
      metadata.schema()->ColumnIndex(std::string(convert::column::kStartTimeUnixNano));
  if (column < 0 || metadata.num_row_groups() == 0) return kUnbounded;
  uint64_t min = std::numeric_limits<uint64_t>::max();
  uint64_t max = 0;
  for (int i = 0; i < metadata.num_row_groups(); ++i) {
    const auto stats = metadata.RowGroup(i)->ColumnChunk(column)->statistics();
    if (stats == nullptr || !stats->HasMinMax() ||
        stats->physical_type() != parquet::Type::INT64) {
      return kUnbounded;
    }
    // An unsigned logical type: the statistics hold the bits of unsigned values.
    const auto& typed = static_cast<const parquet::Int64Statistics&>(*stats);
    min = std::min(min, static_cast<uint64_t>(typed.min()));
    max = std::max(max, static_cast<uint64_t>(typed.max()));
  }
  return {min, max};
}

bool Overlaps(const SpanQuery& query, uint64_t min, uint64_t max) {
  if (query.start_time_min_unix_nano && max < *query.start_time_min_unix_nano) {
    return false;
  }
  if (query.start_time_max_unix_nano && min >= *query.start_time_max_unix_nano) {
    return false;
  }
  return true;
}

// Reads the matching rows of a list of files, one file at a time.
class SpanScanReader final : public arrow::RecordBatchReader {
 public:
  SpanScanReader(std::vector<fs::path> files, SpanQuery query, arrow::MemoryPool* pool)
      : files_(std::move(files)), query_(std::move(query)), pool_(pool) {}

  std::shared_ptr<arrow::Schema> schema() const override {
    return convert::SpanTableSchema();
  }

  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* out) override {
    while (true) {
      if (batches_ == nullptr) {
        if (next_file_ == files_.size()) {
          *out = nullptr;
          return arrow::Status::OK();
        }
        const fs::path& path = files_[next_file_++];
        ARROW_RETURN_NOT_OK(AnnotatePath(OpenFile(path), path));
      }
      std::shared_ptr<arrow::RecordBatch> batch;
      ARROW_RETURN_NOT_OK(batches_->ReadNext(&batch));
      if (batch == nullptr) {
        batches_.reset();
        file_reader_.reset();
        continue;
      }
      ARROW_ASSIGN_OR_RAISE(auto matching, Filter(*batch));
      if (matching->num_rows() > 0) {
        *out = std::move(matching);
        return arrow::Status::OK();
      }
    }
  }

 private:
  arrow::Status OpenFile(const fs::path& path) {
    ARROW_ASSIGN_OR_RAISE(auto input,
                          arrow::io::ReadableFile::Open(path.string(), pool_));
    ARROW_ASSIGN_OR_RAISE(file_reader_, parquet::arrow::OpenFile(input, pool_));
    std::shared_ptr<arrow::Schema> file_schema;
    ARROW_RETURN_NOT_OK(file_reader_->GetSchema(&file_schema));
    // Parquet gives nested dictionaries (attribute keys and values) back plain; the
    // batches are brought to the span table's types as they are read (Conform()).
    const auto& expected = *convert::SpanTableSchema();
    if (file_schema->num_fields() != expected.num_fields()) {
      return arrow::Status::Invalid("schema is not the span table's: ",
                                    file_schema->ToString());
    }
    for (int i = 0; i < expected.num_fields(); ++i) {
      if (file_schema->field(i)->name() != expected.field(i)->name()) {
        return arrow::Status::Invalid("schema is not the span table's: column ", i,
                                      " is '", file_schema->field(i)->name(), "'");
      }
      ARROW_RETURN_NOT_OK(convert::CheckSpanTableType(*file_schema->field(i)->type(),
                                                      *expected.field(i)->type(),
                                                      file_schema->field(i)->name()));
    }
    // Row groups whose start-time statistics miss the range are not read.
    const auto metadata = file_reader_->parquet_reader()->metadata();
    std::vector<int> row_groups;
    const int column =
        metadata->schema()->ColumnIndex(std::string(convert::column::kStartTimeUnixNano));
    for (int i = 0; i < metadata->num_row_groups(); ++i) {
      const auto row_group = metadata->RowGroup(i);
      const auto stats =
          column < 0 ? nullptr : row_group->ColumnChunk(column)->statistics();
      if (stats != nullptr && stats->HasMinMax() &&
          stats->physical_type() == parquet::Type::INT64) {
        const auto& typed = static_cast<const parquet::Int64Statistics&>(*stats);
        if (!Overlaps(query_, static_cast<uint64_t>(typed.min()),
                      static_cast<uint64_t>(typed.max()))) {
          continue;
        }
      }
      row_groups.push_back(i);
    }
    ARROW_ASSIGN_OR_RAISE(batches_, file_reader_->GetRecordBatchReader(row_groups));
    return arrow::Status::OK();
  }

  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Filter(
      const arrow::RecordBatch& batch) const {
    if (!query_.start_time_min_unix_nano && !query_.start_time_max_unix_nano &&
        !query_.trace_id) {
      return convert::ConformToSpanTableSchema(batch, pool_);
    }
    const auto& start_times = static_cast<const arrow::UInt64Array&>(
        *batch.GetColumnByName(std::string(convert::column::kStartTimeUnixNano)));
    const auto& trace_ids = static_cast<const arrow::FixedSizeBinaryArray&>(
        *batch.GetColumnByName(std::string(convert::column::kTraceId)));
    const uint64_t min = query_.start_time_min_unix_nano.value_or(0);
    std::vector<int64_t> rows;
    for (int64_t row = 0; row < batch.num_rows(); ++row) {
      const uint64_t start = start_times.Value(row);
      if (start < min) continue;
      if (query_.start_time_max_unix_nano && start >= *query_.start_time_max_unix_nano) {
        continue;
      }
      if (query_.trace_id && trace_ids.GetView(row) != *query_.trace_id) continue;
      rows.push_back(row);
    }
    ARROW_ASSIGN_OR_RAISE(auto taken, TakeRows(batch, rows, pool_));
    return convert::ConformToSpanTableSchema(*taken, pool_);
  }

  std::vector<fs::path> files_;
  SpanQuery query_;
  arrow::MemoryPool* pool_;
  size_t next_file_ = 0;
  std::unique_ptr<parquet::arrow::FileReader> file_reader_;
  std::unique_ptr<arrow::RecordBatchReader> batches_;
};

}  // namespace

StoredFileCatalog::StoredFileCatalog(fs::path spans_dir, arrow::MemoryPool* pool)
    : spans_dir_(std::move(spans_dir)), pool_(pool) {}

void StoredFileCatalog::Remember(const std::vector<StoredFile>& files) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& file : files) cache_[file.path] = file;
}

arrow::Result<std::vector<StoredFile>> StoredFileCatalog::List() {
  ARROW_ASSIGN_OR_RAISE(const auto paths, ListParquetFiles(spans_dir_));
  std::vector<StoredFile> files;
  files.reserve(paths.size());
  for (const auto& path : paths) {
    std::error_code error;
    const auto size = fs::file_size(path, error);
    if (error) continue;  // removed meanwhile by someone else
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto it = cache_.find(path.string());
      if (it != cache_.end() && it->second.num_bytes == static_cast<int64_t>(size)) {
        files.push_back(it->second);
        continue;
      }
    }
    auto input = arrow::io::ReadableFile::Open(path.string(), pool_);
    ARROW_RETURN_NOT_OK(AnnotatePath(input.status(), path));
    auto reader = parquet::arrow::OpenFile(*input, pool_);
    ARROW_RETURN_NOT_OK(AnnotatePath(reader.status(), path));
    const auto metadata = (*reader)->parquet_reader()->metadata();
    const auto [min, max] = StartTimeBounds(*metadata);
    StoredFile file{path.string(), metadata->num_rows(), static_cast<int64_t>(size), min,
                    max};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cache_[file.path] = file;
    }
    files.push_back(std::move(file));
  }
  // Forget files removed by others (retention), so the cache does not grow forever; a
  // file published meanwhile at worst has its footer read again.
  std::lock_guard<std::mutex> lock(mutex_);
  if (cache_.size() > files.size()) {
    std::set<std::string> listed;
    for (const auto& file : files) listed.insert(file.path);
    std::erase_if(cache_,
                  [&](const auto& entry) { return listed.count(entry.first) == 0; });
  }
  return files;
}

std::vector<fs::path> SelectFiles(const std::vector<StoredFile>& files,
                                  const SpanQuery& query) {
  std::vector<fs::path> selected;
  for (const auto& file : files) {
    // The hour folder bounds start_time and so the nanoseconds (start_time is checked to
    // be start_time_unix_nano / 1000 before it is stored): hour h holds [h, h + 1) hours.
    const auto hour = HourOfPartitionFile(file.path);
    constexpr uint64_t kLastHour = std::numeric_limits<uint64_t>::max() / kNanosPerHour;
    if (hour && *hour >= 0 && static_cast<uint64_t>(*hour) <= kLastHour) {
      const uint64_t hour_min = static_cast<uint64_t>(*hour) * kNanosPerHour;
      const uint64_t hour_max = static_cast<uint64_t>(*hour) == kLastHour
                                    ? std::numeric_limits<uint64_t>::max()
                                    : hour_min + (kNanosPerHour - 1);
      if (!Overlaps(query, hour_min, hour_max)) continue;
    }
    if (!Overlaps(query, file.start_time_min_unix_nano, file.start_time_max_unix_nano)) {
      continue;
    }
    selected.emplace_back(file.path);
  }
  return selected;
}

std::shared_ptr<arrow::RecordBatchReader> ScanFiles(std::vector<fs::path> files,
                                                    SpanQuery query,
                                                    arrow::MemoryPool* pool) {
  return std::make_shared<SpanScanReader>(std::move(files), std::move(query), pool);
}

}  // namespace otlp_arrow::storage::internal
