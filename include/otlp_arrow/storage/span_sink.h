// SPDX-License-Identifier: Apache-2.0
// Where received span batches go, and where stored spans are read back from.

#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/status.h>
#include <arrow/type_fwd.h>

namespace otlp_arrow::storage {

/// \brief Destination of validated span-table batches (convert::SpanTableSchema()).
///
/// Append() returns OK only once the batch is stored as durably as the sink promises (for
/// the Parquet store: in its write-ahead log, flushed or fsynced per its options), so a
/// receiver can acknowledge the batch to its sender as soon as Append() returns.
class SpanSink {
 public:
  virtual ~SpanSink() = default;

  /// \brief Stores `spans`; thread-safe. Status::Invalid means the batch itself can
  /// never be stored (its content: a receiver refuses it for good); any other error is
  /// the sink's own trouble (closed, disk full, I/O), and the same batch may succeed
  /// later.
  virtual arrow::Status Append(const std::shared_ptr<arrow::RecordBatch>& spans) = 0;

  /// \brief Stores `spans` as Append() does, trusting the caller's checks: `spans` is a
  /// batch the caller brought to convert::SpanTableSchema() and validated fully
  /// (convert::ValidateSpanTable), as a receiver does with what it receives, so the sink
  /// does not check its values again. `ipc_stream`, if not null, is one self-contained
  /// Arrow IPC stream (schema, dictionaries, one batch, end of stream) of a batch that
  /// convert::ConformToSpanTableSchema turns into `spans`, e.g. the bytes as they
  /// arrived, still compressed: a sink with a log may write it as it is rather than
  /// serialize `spans` again. The default ignores `ipc_stream` and calls Append().
  virtual arrow::Status AppendValidated(const std::shared_ptr<arrow::RecordBatch>& spans,
                                        std::shared_ptr<arrow::Buffer> /*ipc_stream*/) {
    return Append(spans);
  }

  /// \brief Makes everything appended so far visible to readers (e.g. closes open files).
  virtual arrow::Status Flush() = 0;

  /// \brief Flushes and releases resources; Append() fails afterwards.
  virtual arrow::Status Close() = 0;
};

/// \brief What to read back: all spans, a start-time range, and/or one trace.
struct SpanQuery {
  /// \brief Inclusive lower bound on `start_time_unix_nano`.
  std::optional<uint64_t> start_time_min_unix_nano;
  /// \brief Exclusive upper bound on `start_time_unix_nano`.
  std::optional<uint64_t> start_time_max_unix_nano;
  /// \brief Only spans of this trace (16 raw bytes).
  std::optional<std::string> trace_id;

  /// \brief JSON form, used as Flight command and ticket: {"start_time_min_unix_nano":
  /// "123", "start_time_max_unix_nano": "456", "trace_id": "<32 hex>"}; absent keys mean
  /// no bound. Integers are strings, as in OTLP/JSON.
  std::string ToJson() const;
  static arrow::Result<SpanQuery> FromJson(std::string_view json);
};

/// \brief One stored file, as listed by a SpanSource.
struct StoredFile {
  std::string path;
  int64_t num_rows = 0;
  int64_t num_bytes = 0;
  /// \brief Smallest and largest `start_time_unix_nano` in the file.
  uint64_t start_time_min_unix_nano = 0;
  uint64_t start_time_max_unix_nano = 0;
};

/// \brief Read side of a span store.
class SpanSource {
 public:
  virtual ~SpanSource() = default;

  /// \brief The files readers can see now (complete files only).
  virtual arrow::Result<std::vector<StoredFile>> ListFiles() = 0;

  /// \brief Spans matching `query`, as span-table batches.
  virtual arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> Scan(
      const SpanQuery& query) = 0;
};

}  // namespace otlp_arrow::storage
