// SPDX-License-Identifier: Apache-2.0
// The receiver's span store: a write-ahead log for durable acknowledgement, Parquet files
// in Hive partitions by hour for everything else. See docs/storage.md.

#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <arrow/memory_pool.h>
#include <arrow/result.h>
#include <arrow/status.h>

#include "otlp_arrow/common/clock.h"
#include "otlp_arrow/storage/span_sink.h"

namespace otlp_arrow::storage {

namespace internal {
struct ParquetSpanStoreTesting;  // src/storage/parquet_span_store_testing_internal.h
}  // namespace internal

/// \brief What Append() waits for before it returns OK.
enum class WalDurability {
  /// fdatasync() of the WAL segment: the batch survives a crash of the process, of the
  /// kernel and a power loss (as far as the device honours flushes).
  kFsync,
  /// write() to the WAL segment: the batch is in the OS page cache and survives a crash
  /// (even `kill -9`) of the process, not of the machine.
  kFlushToOs,
};

/// \brief Settings of a ParquetSpanStore.
struct ParquetSpanStoreOptions {
  /// \brief Root of the data: Parquet under `<data_dir>/spans/dt=YYYY-MM-DD/hour=HH/`,
  /// the write-ahead log under `<data_dir>/wal/`.
  std::string data_dir = "./data";

  /// \brief How durable a batch is when Append() returns.
  WalDurability durability = WalDurability::kFsync;

  /// \brief Open Parquet files are published once one of them reaches about this size
  /// (the part not yet flushed to the file is estimated from the compression so far).
  int64_t max_file_bytes = int64_t{128} * 1024 * 1024;

  /// \brief Open Parquet files are published at the latest this long after their first
  /// row; zero publishes at the end of every Append().
  std::chrono::milliseconds max_file_age = std::chrono::seconds(60);

  /// \brief ZSTD level of every column (1 fastest … 22 smallest).
  int zstd_level = 3;

  /// \brief Rows per Parquet row group at most.
  int64_t max_row_group_rows = 128 * 1024;

  /// \brief Dictionary-encode Parquet column chunks.
  bool dictionary_encoding = true;

  /// \brief Scan() first publishes open files (Flush()), so that it sees every span
  /// appended so far; without it Scan() sees published files only.
  bool flush_before_scan = true;

  /// \brief Time source of `max_file_age` and of the retries after a failed
  /// publication. Null: the steady clock. Tests inject a ManualClock.
  std::shared_ptr<common::Clock> clock;

  /// \brief Checks the directory, the sizes and the Parquet settings above; Open() calls
  /// it.
  arrow::Status Validate() const;

  /// \brief The values above.
  static ParquetSpanStoreOptions Defaults() { return {}; }
};

/// \brief What opening a store found and repaired.
struct RecoveryReport {
  /// \brief `*.parquet.tmp` files deleted (their rows are still in the WAL).
  int64_t temporary_files_removed = 0;
  /// \brief WAL segments materialized into Parquet and removed.
  int64_t segments_replayed = 0;
  /// \brief Records (appended batches) read back from those segments.
  int64_t records_replayed = 0;
  /// \brief Rows written to Parquet by the replay (rows already published are skipped).
  int64_t rows_written = 0;
  /// \brief Rows found already published in Parquet and not written again.
  int64_t rows_already_published = 0;
  /// \brief Bytes of torn or corrupt record tails dropped (a batch cut off by a crash
  /// before its Append() returned).
  int64_t torn_bytes_dropped = 0;
  /// \brief Segments that could not be replayed for an I/O error (a full disk): they
  /// stay in the WAL and are published once that works (see Health()).
  int64_t segments_unpublished = 0;
};

/// \brief What a store did since it was opened, for metrics. Files published by the
/// recovery in Open() count too.
struct ParquetSpanStoreStats {
  /// \brief Append() calls that stored a batch, and their rows.
  int64_t batches_appended = 0;
  int64_t rows_appended = 0;
  /// \brief Bytes of records written to the write-ahead log.
  int64_t wal_bytes_appended = 0;
  /// \brief Parquet files published (renamed into the dataset) and their bytes.
  int64_t files_published = 0;
  int64_t file_bytes_published = 0;
  /// \brief Rotations that failed to publish a generation (it stays in the WAL and is
  /// retried), also the retries of the background thread; non-zero means the disk or
  /// the data dir needs attention.
  int64_t publish_failures = 0;
  /// \brief Gauge: WAL segments waiting to be published after a failure.
  int64_t unpublished_segments = 0;
};

/// \brief Stores span-table batches durably and crash-safely as Parquet, and reads them
/// back.
///
/// Append() validates the batch, appends it to the current segment of a write-ahead log
/// (`<data_dir>/wal/`), syncs it as `durability` says and only then returns OK; then it
/// adds the rows to one open `*.parquet.tmp` file per hour of `start_time`. All open
/// files and the current WAL segment form one generation: when a file reaches
/// `max_file_bytes` or the generation `max_file_age`, every open file is closed, fsynced
/// and renamed to `part-s<segment>.parquet` in its hour folder, and the segment is
/// deleted. Because a generation has one file per hour, named after its segment, a replay
/// after a crash skips the hours whose file was already published: no span is stored
/// twice.
///
/// Opening a store recovers: it deletes leftover `*.parquet.tmp` files, replays every
/// WAL segment into Parquet (up to a torn last record) and removes the segments. A lock
/// file keeps a second store (in this or another process) off the same data dir.
///
/// **A full disk** (any I/O error while publishing) loses nothing and stops nothing:
/// the segments stay in the WAL, even during Open(), and a background thread tries
/// them again every second; meanwhile Scan() serves the published files, Append()
/// refuses batches it cannot write to the WAL, Health() reports the error and an
/// error line is logged at most every 10 s.
///
/// Thread-safe. A background thread publishes files that reach `max_file_age` while no
/// Append() comes.
class ParquetSpanStore final : public SpanSink, public SpanSource {
 public:
  /// \brief Opens (creating the folders) and recovers the store in `options.data_dir`.
  static arrow::Result<std::unique_ptr<ParquetSpanStore>> Open(
      ParquetSpanStoreOptions options = ParquetSpanStoreOptions::Defaults(),
      arrow::MemoryPool* pool = arrow::default_memory_pool());

  /// \brief Does not flush: what Close() did not publish stays in the WAL and the next
  /// Open() publishes it. Temporary files are removed.
  ~ParquetSpanStore() override;

  ParquetSpanStore(const ParquetSpanStore&) = delete;
  ParquetSpanStore& operator=(const ParquetSpanStore&) = delete;

  /// \brief Validates `spans` and stores it. Returns OK once the batch is in the WAL as
  /// durably as `durability` says; Invalid (nothing stored) for a batch that is not a
  /// span table with exactly the columns and types of convert::SpanTableSchema(). A
  /// failure to write Parquet after the WAL does not fail the call: the batch is safe in
  /// the WAL, is published from there later, and Flush() reports the error meanwhile.
  arrow::Status Append(const std::shared_ptr<arrow::RecordBatch>& spans) override;

  /// \brief Append() without validating `spans` again (SpanSink::AppendValidated); the
  /// WAL record is `ipc_stream` when given (replayed through ConformToSpanTableSchema
  /// and ValidateSpanTable like any record), else `spans` serialized.
  arrow::Status AppendValidated(const std::shared_ptr<arrow::RecordBatch>& spans,
                                std::shared_ptr<arrow::Buffer> ipc_stream) override;

  /// \brief Publishes every open file, so that readers see all spans appended so far.
  arrow::Status Flush() override;

  /// \brief Flushes, stops the background thread and releases the data dir.
  arrow::Status Close() override;

  /// \brief Published Parquet files under `<data_dir>/spans` (also those other writers
  /// put there), sorted by path. Start-time bounds come from the file's key-value
  /// metadata, else from column statistics, else they are [0, UINT64_MAX].
  arrow::Result<std::vector<StoredFile>> ListFiles() override;

  /// \brief The spans matching `query`, file by file (in path order). Files are pruned
  /// by their hour folder and start-time bounds, rows filtered by start time and trace
  /// id. Flushes first if `flush_before_scan` (unless closed: a closed store still
  /// reads); if that fails for an I/O error, the published files are read all the same.
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> Scan(
      const SpanQuery& query) override;

  /// \brief What Open() found and repaired.
  const RecoveryReport& recovery_report() const;

  /// \brief OK while batches go to the WAL and every earlier segment is published;
  /// otherwise (a full disk, say) the latest publication error, with how many segments
  /// wait. The store repairs itself once the cause is gone.
  arrow::Status Health() const;

  /// \brief Counters since Open().
  ParquetSpanStoreStats Stats() const;

  const ParquetSpanStoreOptions& options() const;

  struct Impl;

 private:
  friend struct internal::ParquetSpanStoreTesting;
  explicit ParquetSpanStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace otlp_arrow::storage
