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
#include "parquet_files_internal.h"

namespace otlp_arrow::storage {

namespace fs = std::filesystem;

namespace {

using internal::AnnotatePath;
using internal::ErrnoError;
using internal::FsyncDirectory;
using internal::ListParquetFiles;
using internal::PartitionDir;
using internal::RowsByHour;
using internal::UniqueFd;

// Unique across threads and processes on this host: microseconds, process id, counter.
std::string UniquePartName() {
  static std::atomic<uint64_t> counter{0};
  const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return "part-" + std::to_string(now_us) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1)) + ".parquet";
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
  return internal::CheckParquetOptions(options.zstd_level, options.max_row_group_rows);
}

// ---------------------------------------------------------------------------------------
// Reading

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
    const arrow::RecordBatch& batch) const {
  ARROW_RETURN_NOT_OK(CheckOptions(options_));
  // The derived columns are computed here, where they are stored, when the batch has
  // none (convert::WithoutDerivedTimeColumns).
  std::shared_ptr<arrow::RecordBatch> conformed;
  if (!batch.schema()->Equals(*convert::SpanTableSchema(), /*check_metadata=*/true)) {
    ARROW_ASSIGN_OR_RAISE(conformed, convert::ConformToSpanTableSchema(batch, pool_));
  }
  const arrow::RecordBatch& spans = conformed != nullptr ? *conformed : batch;
  ARROW_RETURN_NOT_OK(convert::ValidateSpanTable(spans));
  ARROW_ASSIGN_OR_RAISE(const RowsByHour rows_by_hour, internal::GroupRowsByHour(spans));
  const fs::path data_dir(options_.data_dir);
  const fs::path spans_dir = data_dir / "spans";
  const auto properties = internal::MakeWriterProperties(
      options_.zstd_level, options_.max_row_group_rows, options_.dictionary_encoding);
  const auto arrow_properties = internal::MakeArrowWriterProperties();

  std::vector<PendingFile> pending;
  TemporaryFileCleanup cleanup(&pending);
  for (const auto& [hour, rows] : rows_by_hour) {
    ARROW_ASSIGN_OR_RAISE(auto part, internal::TakeRows(spans, rows, pool_));
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

namespace {

// `table` with exactly the span table's types (convert::ConformToSpanTableSchema).
arrow::Result<std::shared_ptr<arrow::Table>> ConformTable(const arrow::Table& table,
                                                          arrow::MemoryPool* pool) {
  arrow::TableBatchReader reader(table);
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  std::shared_ptr<arrow::RecordBatch> batch;
  while (true) {
    ARROW_RETURN_NOT_OK(reader.ReadNext(&batch));
    if (batch == nullptr) break;
    ARROW_ASSIGN_OR_RAISE(auto conformed,
                          convert::ConformToSpanTableSchema(*batch, pool));
    batches.push_back(std::move(conformed));
  }
  return arrow::Table::FromRecordBatches(convert::SpanTableSchema(), batches);
}

}  // namespace

arrow::Result<std::shared_ptr<arrow::Table>> ReadSpanDataset(const std::string& data_dir,
                                                             arrow::MemoryPool* pool) {
  ARROW_ASSIGN_OR_RAISE(const auto files, ListParquetFiles(fs::path(data_dir) / "spans"));
  if (files.empty()) return arrow::Table::MakeEmpty(convert::SpanTableSchema(), pool);
  std::vector<std::shared_ptr<arrow::Table>> tables;
  tables.reserve(files.size());
  for (const auto& path : files) {
    auto table = ReadParquetTable(path, pool);
    if (!table.ok()) return AnnotatePath(table.status(), path);
    // Parquet gives nested dictionaries (attribute keys and values) back plain.
    auto conformed = ConformTable(**table, pool);
    if (!conformed.ok()) return AnnotatePath(conformed.status(), path);
    tables.push_back(*std::move(conformed));
  }
  if (tables.size() == 1) return tables.front();
  arrow::ConcatenateTablesOptions options;
  options.unify_schemas = true;  // files written by other versions may differ slightly
  return arrow::ConcatenateTables(tables, options, pool);
}

}  // namespace otlp_arrow::storage
