// SPDX-License-Identifier: Apache-2.0
// Pieces shared by ParquetSpanWriter and ParquetSpanStore: hour partitions, durable
// files, Parquet writer properties. Internal to the storage library.

#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <arrow/memory_pool.h>
#include <arrow/result.h>
#include <arrow/status.h>
#include <arrow/type_fwd.h>

namespace parquet {
class WriterProperties;
class ArrowWriterProperties;
}  // namespace parquet

namespace otlp_arrow::storage::internal {

inline constexpr int64_t kMicrosPerHour = 3'600'000'000;
inline constexpr uint64_t kNanosPerHour = 3'600'000'000'000ULL;

/// Floor division (rounds toward minus infinity).
int64_t FloorDiv(int64_t a, int64_t b);

/// "dt=YYYY-MM-DD/hour=HH" of an hour counted from the Unix epoch.
std::filesystem::path PartitionDir(int64_t hours_since_epoch);

/// The hour (since the epoch) named by a "dt=YYYY-MM-DD/hour=HH" pair of folders that
/// `file`'s parent folders end with; nullopt when they are not such a pair.
std::optional<int64_t> HourOfPartitionFile(const std::filesystem::path& file);

/// Row indices of each hour (hours since the epoch), in row order, oldest hour first.
using RowsByHour = std::map<int64_t, std::vector<int64_t>>;

/// Groups the rows of a span table by the UTC hour of `start_time`; Invalid when that
/// column is missing, not timestamp[us, UTC], or has nulls.
arrow::Result<RowsByHour> GroupRowsByHour(const arrow::RecordBatch& spans);

/// The rows `rows` of `spans`, in that order (no copy when they are all the rows).
arrow::Result<std::shared_ptr<arrow::RecordBatch>> TakeRows(
    const arrow::RecordBatch& spans, const std::vector<int64_t>& rows,
    arrow::MemoryPool* pool);

/// IOError "<what> <path>: <strerror(errno)>".
arrow::Status ErrnoError(const std::string& what, const std::filesystem::path& path);

/// `status` with `path` in front of its message (OK stays OK).
arrow::Status AnnotatePath(const arrow::Status& status,
                           const std::filesystem::path& path);

/// A file descriptor closed when it goes out of scope.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.Release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset();

 private:
  int fd_ = -1;
};

/// fsync of a directory, so that entries created, renamed or removed in it persist.
arrow::Status FsyncDirectory(const std::filesystem::path& dir);

/// create_directories with an arrow::Status.
arrow::Status CreateDirectories(const std::filesystem::path& dir);

/// Writer properties of every span Parquet file: Parquet 2.6, ZSTD at `zstd_level`,
/// row groups of at most `max_row_group_rows`, dictionary pages if asked.
std::shared_ptr<parquet::WriterProperties> MakeWriterProperties(
    int zstd_level, int64_t max_row_group_rows, bool dictionary_encoding);

/// Arrow properties that keep the Arrow schema in the footer, so dictionary columns and
/// the UTC timezone come back as written.
std::shared_ptr<parquet::ArrowWriterProperties> MakeArrowWriterProperties();

/// Invalid unless `zstd_level` is in 1..22 and `max_row_group_rows` is positive.
arrow::Status CheckParquetOptions(int zstd_level, int64_t max_row_group_rows);

/// Every complete (`*.parquet`, never `*.parquet.tmp`) file under `spans_dir`, sorted;
/// empty when the folder does not exist.
arrow::Result<std::vector<std::filesystem::path>> ListParquetFiles(
    const std::filesystem::path& spans_dir);

}  // namespace otlp_arrow::storage::internal
