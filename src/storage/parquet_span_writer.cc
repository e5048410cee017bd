// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/storage/parquet_span_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>
#include <utility>

#include <arrow/api.h>
#include <arrow/compute/api_vector.h>
#include <arrow/compute/exec.h>
#include <arrow/io/file.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>
#include <parquet/properties.h>

#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_decoder.h"

namespace otlp_arrow::storage {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kMicrosPerHour = 3'600'000'000;
constexpr int64_t kHoursPerDay = 24;

// ---------------------------------------------------------------------------------------
// Partition names

int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

struct CivilDate {
  int64_t year;
  unsigned month;
  unsigned day;
};

// Howard Hinnant's civil_from_days. Not std::chrono::year_month_day: its years stop at
// 32767, and the int64 microseconds of a `start_time` column reach ±294247.
CivilDate CivilFromDays(int64_t days) {
  days += 719468;
  const int64_t era = FloorDiv(days, 146097);
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t mp = (5 * day_of_year + 2) / 153;
  const auto day = static_cast<unsigned>(day_of_year - (153 * mp + 2) / 5 + 1);
  const auto month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  return {year_of_era + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

std::string TwoDigits(unsigned value) {
  return std::string(value < 10 ? "0" : "") + std::to_string(value);
}

// "dt=YYYY-MM-DD/hour=HH" of an hour counted from the Unix epoch.
fs::path PartitionDir(int64_t hours_since_epoch) {
  const int64_t days = FloorDiv(hours_since_epoch, kHoursPerDay);
  const auto hour = static_cast<unsigned>(hours_since_epoch - days * kHoursPerDay);
  const CivilDate date = CivilFromDays(days);
  std::string year = std::to_string(date.year);
  if (date.year >= 0 && year.size() < 4) year.insert(0, 4 - year.size(), '0');
  return fs::path("dt=" + year + "-" + TwoDigits(date.month) + "-" +
                  TwoDigits(date.day)) /
         ("hour=" + TwoDigits(hour));
}

// Unique across threads and processes on this host: microseconds, process id, counter.
std::string UniquePartName() {
  static std::atomic<uint64_t> counter{0};
  const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return "part-" + std::to_string(now_us) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1)) + ".parquet";
}

// ---------------------------------------------------------------------------------------
// Splitting a batch by hour

// Row indices of each hour (hours since the epoch), in row order, oldest hour first.
using RowsByHour = std::map<int64_t, std::vector<int64_t>>;

arrow::Result<RowsByHour> GroupRowsByHour(const arrow::RecordBatch& spans) {
  const std::string name(convert::column::kStartTime);
  const std::shared_ptr<arrow::Array> column = spans.GetColumnByName(name);
  const auto expected_type = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  if (column == nullptr) {
    return arrow::Status::Invalid("span table has no '", name, "' column");
  }
  if (!column->type()->Equals(*expected_type)) {
    return arrow::Status::Invalid("span table column '", name, "' is ",
                                  column->type()->ToString(), ", expected ",
                                  expected_type->ToString());
  }
  if (column->null_count() != 0) {
    return arrow::Status::Invalid("span table column '", name, "' has nulls");
  }
  const auto& start_times = static_cast<const arrow::TimestampArray&>(*column);
  RowsByHour rows_by_hour;
  for (int64_t row = 0; row < start_times.length(); ++row) {
    rows_by_hour[FloorDiv(start_times.Value(row), kMicrosPerHour)].push_back(row);
  }
  return rows_by_hour;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> TakeRows(
    const arrow::RecordBatch& spans, const std::vector<int64_t>& rows,
    arrow::MemoryPool* pool) {
  if (static_cast<int64_t>(rows.size()) == spans.num_rows()) {  // one hour: no copy
    return arrow::RecordBatch::Make(spans.schema(), spans.num_rows(), spans.columns());
  }
  arrow::Int64Builder indices_builder(pool);
  ARROW_RETURN_NOT_OK(indices_builder.AppendValues(rows));
  ARROW_ASSIGN_OR_RAISE(auto indices, indices_builder.Finish());
  arrow::compute::ExecContext context(pool);
  std::vector<std::shared_ptr<arrow::Array>> columns;
  columns.reserve(spans.num_columns());
  for (const auto& column : spans.columns()) {
    ARROW_ASSIGN_OR_RAISE(
        auto taken,
        arrow::compute::Take(*column, *indices,
                             arrow::compute::TakeOptions::NoBoundsCheck(), &context));
    columns.push_back(std::move(taken));
  }
  return arrow::RecordBatch::Make(spans.schema(), static_cast<int64_t>(rows.size()),
                                  std::move(columns));
}

// ---------------------------------------------------------------------------------------
// Files

arrow::Status ErrnoError(const std::string& what, const fs::path& path) {
  return arrow::Status::IOError(what, " ", path.string(), ": ", std::strerror(errno));
}

// A file descriptor closed when it goes out of scope.
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

arrow::Status FsyncDirectory(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot open directory", dir);
  if (::fsync(fd.get()) != 0) return ErrnoError("cannot fsync directory", dir);
  return arrow::Status::OK();
}

// A part written under its temporary name, waiting to be renamed.
struct PendingFile {
  fs::path temporary_path;
  fs::path final_path;
  int64_t num_rows;
  bool published = false;  // renamed to final_path
};

// Removes the temporary files that a failed Write() leaves unpublished.
class TemporaryFileCleanup {
 public:
  explicit TemporaryFileCleanup(const std::vector<PendingFile>* files) : files_(files) {}
  ~TemporaryFileCleanup() {
    for (const auto& file : *files_) {
      if (file.published) continue;
      std::error_code ignored;  // best effort: the error being returned matters more
      fs::remove(file.temporary_path, ignored);
    }
  }
  TemporaryFileCleanup(const TemporaryFileCleanup&) = delete;
  TemporaryFileCleanup& operator=(const TemporaryFileCleanup&) = delete;

 private:
  const std::vector<PendingFile>* files_;
};

arrow::Result<PendingFile> NewPendingFile(const fs::path& spans_dir, int64_t hour,
                                          int64_t num_rows) {
  const fs::path dir = spans_dir / PartitionDir(hour);
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) {
    return arrow::Status::IOError("cannot create directory ", dir.string(), ": ",
                                  error.message());
  }
  const fs::path final_path = dir / UniquePartName();
  fs::path temporary_path = final_path;
  temporary_path += ".tmp";
  return PendingFile{std::move(temporary_path), final_path, num_rows};
}

// Writes `part` to `path` and makes it durable. The descriptor that is fsynced is the one
// written through (Arrow's stream gets a duplicate), so a write-back error cannot be
// missed.
arrow::Status WriteDurableParquet(
    const arrow::RecordBatch& part, const fs::path& path,
    std::shared_ptr<parquet::WriterProperties> properties,
    std::shared_ptr<parquet::ArrowWriterProperties> arrow_properties,
    arrow::MemoryPool* pool) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) return ErrnoError("cannot create", path);
  const int stream_fd = ::dup(fd.get());
  if (stream_fd < 0) return ErrnoError("cannot dup descriptor of", path);
  ARROW_ASSIGN_OR_RAISE(auto sink, arrow::io::FileOutputStream::Open(stream_fd));
  ARROW_ASSIGN_OR_RAISE(
      auto writer,
      parquet::arrow::FileWriter::Open(*part.schema(), pool, sink, std::move(properties),
                                       std::move(arrow_properties)));
  ARROW_RETURN_NOT_OK(writer->WriteRecordBatch(part));
  ARROW_RETURN_NOT_OK(writer->Close());  // writes the footer
  ARROW_RETURN_NOT_OK(sink->Close());
  if (::fsync(fd.get()) != 0) return ErrnoError("cannot fsync", path);
  return arrow::Status::OK();
}

arrow::Status AnnotatePath(const arrow::Status& status, const fs::path& path) {
  if (status.ok()) return status;
  return status.WithMessage(path.string(), ": ", status.message());
}

// Renames every pending file to its final name, then fsyncs each directory whose entries
// changed: the partition folders, and the parents that may have gained a new folder.
arrow::Result<WriteResult> Publish(std::vector<PendingFile>* pending,
                                   const fs::path& data_dir, const fs::path& spans_dir) {
  WriteResult result;
  std::set<fs::path> changed_dirs;
  for (auto& file : *pending) {
    if (::rename(file.temporary_path.c_str(), file.final_path.c_str()) != 0) {
      return ErrnoError("cannot rename to", file.final_path);
    }
    file.published = true;
    std::error_code error;
    const auto size = fs::file_size(file.final_path, error);
    if (error) {
      return arrow::Status::IOError("cannot stat ", file.final_path.string(), ": ",
                                    error.message());
    }
    result.files.push_back(
        {file.final_path.string(), file.num_rows, static_cast<int64_t>(size)});
    const fs::path hour_dir = file.final_path.parent_path();
    changed_dirs.insert({hour_dir, hour_dir.parent_path(), spans_dir, data_dir});
  }
  for (const auto& dir : changed_dirs) ARROW_RETURN_NOT_OK(FsyncDirectory(dir));
  return result;
}

arrow::Status CheckOptions(const ParquetSpanWriterOptions& options) {
  if (options.data_dir.empty()) return arrow::Status::Invalid("data_dir is empty");
  if (options.zstd_level < 1 || options.zstd_level > 22) {
    return arrow::Status::Invalid("zstd level ", options.zstd_level,
                                  " is out of range 1..22");
  }
  if (options.max_row_group_rows < 1) {
    return arrow::Status::Invalid("max_row_group_rows must be positive, got ",
                                  options.max_row_group_rows);
  }
  return arrow::Status::OK();
}

std::shared_ptr<parquet::WriterProperties> MakeWriterProperties(
    const ParquetSpanWriterOptions& options) {
  parquet::WriterProperties::Builder builder;
  builder.version(parquet::ParquetVersion::PARQUET_2_6)
      ->compression(arrow::Compression::ZSTD)
      ->compression_level(options.zstd_level)
      ->max_row_group_length(options.max_row_group_rows);
  if (options.dictionary_encoding) {
    builder.enable_dictionary();
  } else {
    builder.disable_dictionary();
  }
  return builder.build();
}

std::shared_ptr<parquet::ArrowWriterProperties> MakeArrowWriterProperties() {
  // The Arrow schema in the footer brings back dictionary columns and the UTC timezone.
  return parquet::ArrowWriterProperties::Builder().store_schema()->build();
}

// ---------------------------------------------------------------------------------------
// Reading

arrow::Result<std::vector<fs::path>> ListParquetFiles(const fs::path& spans_dir) {
  std::vector<fs::path> files;
  std::error_code error;
  if (!fs::exists(spans_dir, error)) return files;
  for (fs::recursive_directory_iterator it(spans_dir, error), end; !error && it != end;
       it.increment(error)) {
    // ".parquet.tmp" has the extension ".tmp": half-written files are never read.
    if (it->is_regular_file() && it->path().extension() == ".parquet") {
      files.push_back(it->path());
    }
  }
  if (error) {
    return arrow::Status::IOError("cannot list ", spans_dir.string(), ": ",
                                  error.message());
  }
  std::sort(files.begin(), files.end());
  return files;
}

arrow::Result<std::shared_ptr<arrow::Table>> ReadParquetTable(const fs::path& path,
                                                              arrow::MemoryPool* pool) {
  ARROW_ASSIGN_OR_RAISE(auto input, arrow::io::ReadableFile::Open(path.string(), pool));
  ARROW_ASSIGN_OR_RAISE(auto reader, parquet::arrow::OpenFile(input, pool));
  std::shared_ptr<arrow::Table> table;
  ARROW_RETURN_NOT_OK(reader->ReadTable(&table));
  return table;
}

}  // namespace

int64_t WriteResult::total_rows() const {
  int64_t rows = 0;
  for (const auto& file : files) rows += file.num_rows;
  return rows;
}

int64_t WriteResult::total_bytes() const {
  int64_t bytes = 0;
  for (const auto& file : files) bytes += file.num_bytes;
  return bytes;
}

ParquetSpanWriter::ParquetSpanWriter(ParquetSpanWriterOptions options,
                                     arrow::MemoryPool* pool)
    : options_(std::move(options)), pool_(pool) {}

arrow::Result<WriteResult> ParquetSpanWriter::Write(
    const arrow::RecordBatch& spans) const {
  ARROW_RETURN_NOT_OK(CheckOptions(options_));
  ARROW_RETURN_NOT_OK(convert::ValidateSpanTable(spans));
  ARROW_ASSIGN_OR_RAISE(const RowsByHour rows_by_hour, GroupRowsByHour(spans));
  const fs::path data_dir(options_.data_dir);
  const fs::path spans_dir = data_dir / "spans";
  const auto properties = MakeWriterProperties(options_);
  const auto arrow_properties = MakeArrowWriterProperties();

  std::vector<PendingFile> pending;
  TemporaryFileCleanup cleanup(&pending);
  for (const auto& [hour, rows] : rows_by_hour) {
    ARROW_ASSIGN_OR_RAISE(auto part, TakeRows(spans, rows, pool_));
    ARROW_ASSIGN_OR_RAISE(
        auto file, NewPendingFile(spans_dir, hour, static_cast<int64_t>(rows.size())));
    pending.push_back(std::move(file));
    const fs::path& path = pending.back().temporary_path;
    ARROW_RETURN_NOT_OK(AnnotatePath(
        WriteDurableParquet(*part, path, properties, arrow_properties, pool_), path));
  }
  // Every part is on disk before the first rename: a failure so far publishes nothing.
  return Publish(&pending, data_dir, spans_dir);
}

arrow::Result<std::shared_ptr<arrow::Table>> ReadSpanDataset(const std::string& data_dir,
                                                             arrow::MemoryPool* pool) {
  ARROW_ASSIGN_OR_RAISE(const auto files, ListParquetFiles(fs::path(data_dir) / "spans"));
  if (files.empty()) return arrow::Table::MakeEmpty(convert::SpanTableSchema(), pool);
  std::vector<std::shared_ptr<arrow::Table>> tables;
  tables.reserve(files.size());
  for (const auto& path : files) {
    auto table = ReadParquetTable(path, pool);
    if (!table.ok()) return AnnotatePath(table.status(), path);
    tables.push_back(*std::move(table));
  }
  if (tables.size() == 1) return tables.front();
  arrow::ConcatenateTablesOptions options;
  options.unify_schemas = true;  // files written by other versions may differ slightly
  return arrow::ConcatenateTables(tables, options, pool);
}

}  // namespace otlp_arrow::storage
