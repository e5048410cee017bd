// SPDX-License-Identifier: Apache-2.0
// The write-ahead log of ParquetSpanStore: segments of checksummed records, each record
// one span-table batch as a self-contained Arrow IPC stream. Internal to the storage
// library; the format is described in docs/storage.md.

#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include <arrow/buffer.h>
#include <arrow/io/type_fwd.h>
#include <arrow/memory_pool.h>
#include <arrow/result.h>
#include <arrow/status.h>
#include <arrow/type_fwd.h>

#include "parquet_files_internal.h"

namespace otlp_arrow::storage::internal {

/// First bytes of every segment file: format name and version.
inline constexpr char kWalSegmentMagic[8] = {'O', 'T', 'A', 'W', 'A', 'L', '0', '1'};
inline constexpr int64_t kWalSegmentHeaderBytes = 8;
/// Each record: u32 little-endian payload length, u32 little-endian CRC-32 (zlib
/// polynomial) of those 4 length bytes followed by the payload, then the payload.
inline constexpr int64_t kWalRecordHeaderBytes = 8;
/// A length above this is corruption, not a record (a span batch is far smaller).
inline constexpr int64_t kWalMaxRecordBytes = int64_t{1} << 31;

/// `<wal_dir>/<20-digit sequence>.wal`.
std::filesystem::path WalSegmentPath(const std::filesystem::path& wal_dir,
                                     uint64_t sequence);

/// Sequence numbers of the segment files in `wal_dir`, ascending; other files are
/// ignored. Empty when the folder does not exist.
arrow::Result<std::vector<uint64_t>> ListWalSegments(
    const std::filesystem::path& wal_dir);

/// One batch as a self-contained Arrow IPC stream (schema, dictionaries, batch, end).
arrow::Result<std::shared_ptr<arrow::Buffer>> SerializeWalRecord(
    const arrow::RecordBatch& spans, arrow::MemoryPool* pool);

/// The batch of a payload written by SerializeWalRecord.
arrow::Result<std::shared_ptr<arrow::RecordBatch>> DeserializeWalRecord(
    const std::shared_ptr<arrow::Buffer>& payload);

/// Appends records to one segment file. Not thread-safe: the store serializes appends.
class WalSegmentWriter {
 public:
  /// Creates the segment (it must not exist), writes its header and makes file and
  /// directory entry durable.
  static arrow::Result<std::unique_ptr<WalSegmentWriter>> Create(
      const std::filesystem::path& wal_dir, uint64_t sequence);

  /// Writes one record. With `fsync`, returns once fdatasync() says it is on the
  /// device; without, once write() handed it to the OS. On failure the file is cut back
  /// to its previous length; if even that fails, broken() turns true and the segment must
  /// not be appended to again (its good records stay readable).
  arrow::Status Append(const arrow::Buffer& payload, bool fsync);

  uint64_t sequence() const { return sequence_; }
  const std::filesystem::path& path() const { return path_; }
  /// Bytes in the file, header included.
  int64_t size_bytes() const { return size_bytes_; }
  /// Records appended through this writer.
  int64_t num_records() const { return num_records_; }
  bool broken() const { return broken_; }

 private:
  WalSegmentWriter(std::filesystem::path path, uint64_t sequence, UniqueFd fd);

  std::filesystem::path path_;
  uint64_t sequence_;
  UniqueFd fd_;
  int64_t size_bytes_ = kWalSegmentHeaderBytes;
  int64_t num_records_ = 0;
  bool broken_ = false;
};

/// Reads the records of one segment, in order, up to the first one that is incomplete or
/// fails its checksum (the torn tail a crash leaves).
class WalSegmentReader {
 public:
  static arrow::Result<std::unique_ptr<WalSegmentReader>> Open(
      const std::filesystem::path& path, arrow::MemoryPool* pool);

  /// The next record's payload; nullptr at the end of the good records.
  arrow::Result<std::shared_ptr<arrow::Buffer>> Next();

  /// Bytes after the last good record (a torn or corrupt tail); known once Next()
  /// returned nullptr.
  int64_t dropped_bytes() const { return file_bytes_ - offset_; }

 private:
  WalSegmentReader(std::shared_ptr<arrow::io::RandomAccessFile> file, int64_t file_bytes,
                   int64_t offset);

  std::shared_ptr<arrow::io::RandomAccessFile> file_;
  int64_t file_bytes_;
  int64_t offset_;
  bool at_end_ = false;
};

}  // namespace otlp_arrow::storage::internal
