// SPDX-License-Identifier: Apache-2.0
// Span table → Parquet files in Hive partitions by hour, written crash-safely.

#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <arrow/memory_pool.h>
#include <arrow/result.h>
#include <arrow/type_fwd.h>

namespace otlp_arrow::storage {

/// \brief Settings of a ParquetSpanWriter.
struct ParquetSpanWriterOptions {
  /// \brief Root of the data; spans go to `<data_dir>/spans/dt=YYYY-MM-DD/hour=HH/`.
  std::string data_dir = "./data";

  /// \brief ZSTD level of every column (1 fastest … 22 smallest); 3 is zstd's own
  /// default.
  int zstd_level = 3;

  /// \brief Rows per Parquet row group at most; a larger part is split into several
  /// groups.
  int64_t max_row_group_rows = 128 * 1024;

  /// \brief Dictionary-encode column chunks. Span tables repeat names, keys and resource
  /// values on every row, so this is most of the size gain.
  bool dictionary_encoding = true;

  /// \brief The values above.
  static ParquetSpanWriterOptions Defaults() { return {}; }
};

/// \brief One Parquet file made by a Write().
struct WrittenFile {
  /// \brief Final path of the file (never the temporary one).
  std::string path;
  /// \brief Spans (rows) in the file.
  int64_t num_rows = 0;
  /// \brief Size of the file on disk.
  int64_t num_bytes = 0;
};

/// \brief What a Write() made: one file per hour present in the batch, oldest hour first.
struct WriteResult {
  std::vector<WrittenFile> files;

  int64_t total_rows() const;
  int64_t total_bytes() const;
};

/// \brief Writes span tables (convert::SpanTableSchema()) as Parquet files partitioned by
/// the UTC hour of `start_time`:
/// `<data_dir>/spans/dt=YYYY-MM-DD/hour=HH/part-<unique>.parquet`.
///
/// Each file is written as `<name>.parquet.tmp`, closed, fsynced, then renamed and its
/// directory fsynced, so a reader (or a restart after a crash) sees whole files or none;
/// a stray `.tmp` file is garbage from a crash and is ignored by ReadSpanDataset. Every
/// part of a batch is written as a temporary file before the first rename: if writing any
/// of them fails, none is published.
///
/// The Parquet files keep the Arrow schema (`store_schema`), so dictionary columns and
/// the UTC timezone come back as written; `start_time` is TIMESTAMP(MICROS,
/// isAdjustedToUTC) so that Spark, DuckDB and pyarrow read it natively, and
/// `start_time_unix_nano` keeps the exact nanoseconds.
///
/// Write() may be called from several threads and several processes on one data dir: file
/// names never collide (time, process id and a counter).
class ParquetSpanWriter {
 public:
  explicit ParquetSpanWriter(
      ParquetSpanWriterOptions options = ParquetSpanWriterOptions::Defaults(),
      arrow::MemoryPool* pool = arrow::default_memory_pool());

  /// \brief Brings `spans` to convert::SpanTableSchema() (ConformToSpanTableSchema: the
  /// derived `start_time` and `duration_ns` are computed when absent), validates it
  /// (convert::ValidateSpanTable) and writes it, one file per hour. An invalid batch
  /// returns Status::Invalid and writes nothing; an empty batch writes nothing.
  arrow::Result<WriteResult> Write(const arrow::RecordBatch& spans) const;

  const ParquetSpanWriterOptions& options() const { return options_; }

 private:
  ParquetSpanWriterOptions options_;
  arrow::MemoryPool* pool_;
};

/// \brief Reads every `*.parquet` file under `<data_dir>/spans` (in path order) into one
/// table; `.tmp` files are skipped and the Hive partition columns are not added. Without
/// any file the result is an empty table of convert::SpanTableSchema(). Errors name the
/// file.
///
/// Enough for the demo and the tests; queries will go through a dataset scanner.
arrow::Result<std::shared_ptr<arrow::Table>> ReadSpanDataset(
    const std::string& data_dir, arrow::MemoryPool* pool = arrow::default_memory_pool());

}  // namespace otlp_arrow::storage
