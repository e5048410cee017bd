// SPDX-License-Identifier: Apache-2.0

#include "write_ahead_log.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>

#include <arrow/io/file.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/reader.h>
#include <arrow/ipc/writer.h>
#include <arrow/record_batch.h>
#include <arrow/util/byte_size.h>
#include <arrow/util/crc32.h>

namespace otlp_arrow::storage::internal {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSegmentSuffix = ".wal";
constexpr size_t kSequenceDigits = 20;

void PutLittleEndian32(uint32_t value, uint8_t* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
}

uint32_t GetLittleEndian32(const uint8_t* in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= static_cast<uint32_t>(in[i]) << (8 * i);
  return value;
}

uint32_t RecordChecksum(const uint8_t* length_bytes, const uint8_t* payload,
                        int64_t payload_bytes) {
  const uint32_t crc = arrow::internal::crc32(0, length_bytes, 4);
  return arrow::internal::crc32(crc, payload, static_cast<size_t>(payload_bytes));
}

// write() until every byte is written; partial writes and EINTR are retried.
arrow::Status WriteFully(int fd, struct iovec* iov, int count, const fs::path& path) {
  while (count > 0) {
    const ssize_t written = ::writev(fd, iov, count);
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path);
    }
    auto left = static_cast<size_t>(written);
    while (count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<uint8_t*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return arrow::Status::OK();
}

}  // namespace

fs::path WalSegmentPath(const fs::path& wal_dir, uint64_t sequence) {
  std::string name = std::to_string(sequence);
  name.insert(0, kSequenceDigits - name.size(), '0');
  return wal_dir / (name + std::string(kSegmentSuffix));
}

arrow::Result<std::vector<uint64_t>> ListWalSegments(const fs::path& wal_dir) {
  std::vector<uint64_t> sequences;
  std::error_code error;
  if (!fs::exists(wal_dir, error)) return sequences;
  for (fs::directory_iterator it(wal_dir, error), end; !error && it != end;
       it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.size() != kSequenceDigits + kSegmentSuffix.size() ||
        name.compare(kSequenceDigits, kSegmentSuffix.size(), kSegmentSuffix) != 0) {
      continue;
    }
    uint64_t sequence = 0;
    const auto [ptr, parse_error] =
        std::from_chars(name.data(), name.data() + kSequenceDigits, sequence);
    if (parse_error == std::errc() && ptr == name.data() + kSequenceDigits) {
      sequences.push_back(sequence);
    }
  }
  if (error) {
    return arrow::Status::IOError("cannot list ", wal_dir.string(), ": ",
                                  error.message());
  }
  std::sort(sequences.begin(), sequences.end());
  return sequences;
}

arrow::Result<std::shared_ptr<arrow::Buffer>> SerializeWalRecord(
    const arrow::RecordBatch& spans, arrow::MemoryPool* pool) {
  // Sized up front: growing by doubling would copy the batch several times. The schema
  // and message headers come on top of the buffers.
  const int64_t capacity = arrow::util::TotalBufferSize(spans) + 64 * 1024;
  ARROW_ASSIGN_OR_RAISE(auto sink, arrow::io::BufferOutputStream::Create(capacity, pool));
  auto options = arrow::ipc::IpcWriteOptions::Defaults();
  options.memory_pool = pool;
  ARROW_ASSIGN_OR_RAISE(auto writer,
                        arrow::ipc::MakeStreamWriter(sink, spans.schema(), options));
  ARROW_RETURN_NOT_OK(writer->WriteRecordBatch(spans));
  ARROW_RETURN_NOT_OK(writer->Close());
  return sink->Finish();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> DeserializeWalRecord(
    const std::shared_ptr<arrow::Buffer>& payload) {
  auto input = std::make_shared<arrow::io::BufferReader>(payload);
  ARROW_ASSIGN_OR_RAISE(auto reader, arrow::ipc::RecordBatchStreamReader::Open(input));
  std::shared_ptr<arrow::RecordBatch> batch;
  ARROW_RETURN_NOT_OK(reader->ReadNext(&batch));
  if (batch == nullptr) return arrow::Status::Invalid("WAL record holds no batch");
  std::shared_ptr<arrow::RecordBatch> extra;
  ARROW_RETURN_NOT_OK(reader->ReadNext(&extra));
  if (extra != nullptr) return arrow::Status::Invalid("WAL record holds several batches");
  return batch;
}

// ---------------------------------------------------------------------------------------
// Writer

WalSegmentWriter::WalSegmentWriter(fs::path path, uint64_t sequence, UniqueFd fd)
    : path_(std::move(path)), sequence_(sequence), fd_(std::move(fd)) {}

arrow::Result<std::unique_ptr<WalSegmentWriter>> WalSegmentWriter::Create(
    const fs::path& wal_dir, uint64_t sequence) {
  fs::path path = WalSegmentPath(wal_dir, sequence);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoError("cannot create", path);
  struct iovec header = {const_cast<char*>(kWalSegmentMagic), sizeof(kWalSegmentMagic)};
  arrow::Status written = WriteFully(fd.get(), &header, 1, path);
  if (written.ok() && ::fsync(fd.get()) != 0) written = ErrnoError("cannot fsync", path);
  if (!written.ok()) {
    // It holds no record; a store retrying on a full disk would leave one per try.
    ::unlink(path.c_str());
    return written;
  }
  ARROW_RETURN_NOT_OK(FsyncDirectory(wal_dir));
  return std::unique_ptr<WalSegmentWriter>(
      new WalSegmentWriter(std::move(path), sequence, std::move(fd)));
}

arrow::Status WalSegmentWriter::Append(const arrow::Buffer& payload, bool fsync) {
  if (broken_)
    return arrow::Status::IOError("WAL segment ", path_.string(), " is broken");
  if (payload.size() > kWalMaxRecordBytes) {
    return arrow::Status::Invalid("batch of ", payload.size(),
                                  " bytes is too large for the WAL");
  }
  uint8_t header[kWalRecordHeaderBytes];
  PutLittleEndian32(static_cast<uint32_t>(payload.size()), header);
  PutLittleEndian32(RecordChecksum(header, payload.data(), payload.size()), header + 4);
  struct iovec iov[2] = {
      {header, sizeof(header)},
      {const_cast<uint8_t*>(payload.data()), static_cast<size_t>(payload.size())}};
  arrow::Status status = WriteFully(fd_.get(), iov, 2, path_);
  if (status.ok() && fsync && ::fdatasync(fd_.get()) != 0) {
    status = ErrnoError("cannot fdatasync", path_);
  }
  if (!status.ok()) {
    // A half-written record would hide every later one from the reader: cut it off, and
    // give up on the segment if that is impossible. The write position is explicit
    // (pwrite semantics are not needed: the descriptor is not O_APPEND, so seek back).
    if (::ftruncate(fd_.get(), size_bytes_) != 0 ||
        ::lseek(fd_.get(), size_bytes_, SEEK_SET) != size_bytes_) {
      broken_ = true;
    }
    return status;
  }
  size_bytes_ += kWalRecordHeaderBytes + payload.size();
  ++num_records_;
  return arrow::Status::OK();
}

// ---------------------------------------------------------------------------------------
// Reader

WalSegmentReader::WalSegmentReader(std::shared_ptr<arrow::io::RandomAccessFile> file,
                                   int64_t file_bytes, int64_t offset)
    : file_(std::move(file)), file_bytes_(file_bytes), offset_(offset) {}

arrow::Result<std::unique_ptr<WalSegmentReader>> WalSegmentReader::Open(
    const fs::path& path, arrow::MemoryPool* pool) {
  ARROW_ASSIGN_OR_RAISE(auto file, arrow::io::ReadableFile::Open(path.string(), pool));
  ARROW_ASSIGN_OR_RAISE(const int64_t file_bytes, file->GetSize());
  // A segment whose header is not all there was cut short right after it was created:
  // it holds no record.
  int64_t offset = file_bytes;
  if (file_bytes >= kWalSegmentHeaderBytes) {
    ARROW_ASSIGN_OR_RAISE(auto magic, file->ReadAt(0, kWalSegmentHeaderBytes));
    if (std::memcmp(magic->data(), kWalSegmentMagic, sizeof(kWalSegmentMagic)) == 0) {
      offset = kWalSegmentHeaderBytes;
    } else if (file_bytes > kWalSegmentHeaderBytes) {
      return arrow::Status::IOError(path.string(), " is not a WAL segment");
    }
    // else: a header that never reached the disk intact, and no record after it.
  }
  return std::unique_ptr<WalSegmentReader>(
      new WalSegmentReader(std::move(file), file_bytes, offset));
}

arrow::Result<std::shared_ptr<arrow::Buffer>> WalSegmentReader::Next() {
  if (at_end_ || file_bytes_ - offset_ < kWalRecordHeaderBytes) {
    at_end_ = true;
    return nullptr;
  }
  ARROW_ASSIGN_OR_RAISE(auto header, file_->ReadAt(offset_, kWalRecordHeaderBytes));
  const int64_t payload_bytes = GetLittleEndian32(header->data());
  const uint32_t checksum = GetLittleEndian32(header->data() + 4);
  if (payload_bytes > file_bytes_ - offset_ - kWalRecordHeaderBytes) {
    at_end_ = true;  // torn: the record's end was never written
    return nullptr;
  }
  ARROW_ASSIGN_OR_RAISE(auto payload,
                        file_->ReadAt(offset_ + kWalRecordHeaderBytes, payload_bytes));
  if (payload->size() != payload_bytes ||
      RecordChecksum(header->data(), payload->data(), payload_bytes) != checksum) {
    at_end_ = true;  // torn or corrupt
    return nullptr;
  }
  offset_ += kWalRecordHeaderBytes + payload_bytes;
  return payload;
}

}  // namespace otlp_arrow::storage::internal
