// SPDX-License-Identifier: Apache-2.0

#include "parquet_files_internal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>
#include <system_error>
#include <utility>

#include <arrow/api.h>
#include <arrow/compute/api_vector.h>
#include <arrow/compute/exec.h>
#include <parquet/properties.h>

#include "otlp_arrow/convert/span_schema.h"

namespace otlp_arrow::storage::internal {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kHoursPerDay = 24;

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

// The inverse, Howard Hinnant's days_from_civil.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = FloorDiv(year, 400);
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year =
      (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

std::string TwoDigits(unsigned value) {
  return std::string(value < 10 ? "0" : "") + std::to_string(value);
}

// Parses all of `text` as a decimal integer.
template <typename T>
std::optional<T> ParseNumber(std::string_view text) {
  T value{};
  if (text.empty()) return std::nullopt;
  const auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

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

std::optional<int64_t> HourOfPartitionFile(const fs::path& file) {
  const std::string hour_dir = file.parent_path().filename().string();
  const std::string date_dir = file.parent_path().parent_path().filename().string();
  if (hour_dir.rfind("hour=", 0) != 0 || date_dir.rfind("dt=", 0) != 0) {
    return std::nullopt;
  }
  const auto hour = ParseNumber<unsigned>(std::string_view(hour_dir).substr(5));
  // "YYYY-MM-DD"; the year may have more digits or a sign, so split from the right.
  const std::string_view date = std::string_view(date_dir).substr(3);
  if (!hour || *hour >= kHoursPerDay || date.size() < 10 ||
      date[date.size() - 3] != '-' || date[date.size() - 6] != '-') {
    return std::nullopt;
  }
  const auto year = ParseNumber<int64_t>(date.substr(0, date.size() - 6));
  const auto month = ParseNumber<unsigned>(date.substr(date.size() - 5, 2));
  const auto day = ParseNumber<unsigned>(date.substr(date.size() - 2, 2));
  if (!year || !month || !day || *month < 1 || *month > 12 || *day < 1 || *day > 31) {
    return std::nullopt;
  }
  return DaysFromCivil(*year, *month, *day) * kHoursPerDay + *hour;
}

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
  if (static_cast<int64_t>(rows.size()) == spans.num_rows()) {  // all rows: no copy
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

arrow::Status ErrnoError(const std::string& what, const fs::path& path) {
  return arrow::Status::IOError(what, " ", path.string(), ": ", std::strerror(errno));
}

arrow::Status AnnotatePath(const arrow::Status& status, const fs::path& path) {
  if (status.ok()) return status;
  return status.WithMessage(path.string(), ": ", status.message());
}

void UniqueFd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

arrow::Status FsyncDirectory(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot open directory", dir);
  if (::fsync(fd.get()) != 0) return ErrnoError("cannot fsync directory", dir);
  return arrow::Status::OK();
}

arrow::Status CreateDirectories(const fs::path& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) {
    return arrow::Status::IOError("cannot create directory ", dir.string(), ": ",
                                  error.message());
  }
  return arrow::Status::OK();
}

std::shared_ptr<parquet::WriterProperties> MakeWriterProperties(
    int zstd_level, int64_t max_row_group_rows, bool dictionary_encoding) {
  namespace column = convert::column;
  parquet::WriterProperties::Builder builder;
  builder.version(parquet::ParquetVersion::PARQUET_2_6)
      ->compression(arrow::Compression::ZSTD)
      ->compression_level(zstd_level)
      ->max_row_group_length(max_row_group_rows)
      // Level histograms and unencoded sizes per page cost the writer time on each of
      // the 71 leaf columns and no reader we know plans with them.
      ->set_size_statistics_level(parquet::SizeStatisticsLevel::None);
  // Min/max statistics only where readers prune with them: time ranges and the service.
  // Elsewhere (ids, nested attribute leaves) they cost a comparison per value and prune
  // nothing.
  builder.disable_statistics();
  for (const std::string_view name :
       {column::kStartTimeUnixNano, column::kEndTimeUnixNano, column::kStartTime,
        column::kDurationNs, column::kServiceName}) {
    builder.enable_statistics(std::string(name));
  }
  if (dictionary_encoding) {
    builder.enable_dictionary();
    // Nearly every value of these differs from the others: a dictionary only grows
    // until the writer falls back to plain encoding, after hashing every value. Trace
    // and parent ids repeat only within a trace, whose spans mostly come together, where
    // zstd finds the repeats as well: without a dictionary the realistic workload's
    // files are 3% smaller (62.5 -> 60.6 bytes per span, storage_benchmark
    // ParquetWrite), the random one's 1.7%, and hashing 16-byte ids was 5% of the
    // receiver's CPU.
    for (const std::string_view name :
         {column::kTraceId, column::kSpanId, column::kParentSpanId,
          column::kStartTimeUnixNano, column::kEndTimeUnixNano, column::kStartTime,
          column::kDurationNs}) {
      builder.disable_dictionary(std::string(name));
    }
  } else {
    builder.disable_dictionary();
  }
  return builder.build();
}

std::shared_ptr<parquet::ArrowWriterProperties> MakeArrowWriterProperties() {
  return parquet::ArrowWriterProperties::Builder().store_schema()->build();
}

arrow::Status CheckParquetOptions(int zstd_level, int64_t max_row_group_rows) {
  if (zstd_level < 1 || zstd_level > 22) {
    return arrow::Status::Invalid("zstd level ", zstd_level, " is out of range 1..22");
  }
  if (max_row_group_rows < 1) {
    return arrow::Status::Invalid("max_row_group_rows must be positive, got ",
                                  max_row_group_rows);
  }
  return arrow::Status::OK();
}

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

}  // namespace otlp_arrow::storage::internal
