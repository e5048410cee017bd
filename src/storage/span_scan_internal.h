// SPDX-License-Identifier: Apache-2.0
// The read side of ParquetSpanStore: published files and what their footers say, and
// scans of them by start time and trace id. Internal to the storage library.

#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/memory_pool.h>
#include <arrow/record_batch.h>
#include <arrow/result.h>

#include "otlp_arrow/storage/span_sink.h"

namespace otlp_arrow::storage::internal {

/// Key-value metadata of every file the store writes: the smallest and largest
/// `start_time_unix_nano` of its rows, and the WAL segment it holds rows of.
inline constexpr std::string_view kStartTimeMinKey =
    "otlp_arrow.start_time_min_unix_nano";
inline constexpr std::string_view kStartTimeMaxKey =
    "otlp_arrow.start_time_max_unix_nano";
inline constexpr std::string_view kWalSegmentKey = "otlp_arrow.wal_segment";

/// The published Parquet files under a `spans` folder, each with its rows and start-time
/// bounds; footers are read once per path and size. Thread-safe.
class StoredFileCatalog {
 public:
  StoredFileCatalog(std::filesystem::path spans_dir, arrow::MemoryPool* pool);

  /// Takes note of files just published, so that List() need not read their footers.
  void Remember(const std::vector<StoredFile>& files);

  /// Every complete file under the folder (also those other writers put there), sorted
  /// by path. Start-time bounds come from the file's key-value metadata, else from
  /// column statistics, else they are [0, UINT64_MAX].
  arrow::Result<std::vector<StoredFile>> List();

 private:
  const std::filesystem::path spans_dir_;
  arrow::MemoryPool* const pool_;
  std::mutex mutex_;  // guards cache_
  std::map<std::string, StoredFile> cache_;
};

/// The files that may hold spans matching `query`: pruned by their hour folder and their
/// start-time bounds.
std::vector<std::filesystem::path> SelectFiles(const std::vector<StoredFile>& files,
                                               const SpanQuery& query);

/// The spans of `files` matching `query`, file by file, as span-table batches: row
/// groups pruned by their start-time statistics, rows filtered by start time and trace
/// id.
std::shared_ptr<arrow::RecordBatchReader> ScanFiles(
    std::vector<std::filesystem::path> files, SpanQuery query, arrow::MemoryPool* pool);

}  // namespace otlp_arrow::storage::internal
