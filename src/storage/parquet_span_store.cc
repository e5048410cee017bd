// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/storage/parquet_span_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <arrow/util/byte_size.h>
#include <arrow/util/key_value_metadata.h>
#include <fmt/format.h>
#include <parquet/arrow/writer.h>
#include <parquet/properties.h>
#include <spdlog/spdlog.h>

#include "otlp_arrow/common/clock.h"
#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_decoder.h"
#include "parquet_files_internal.h"
#include "parquet_span_store_testing_internal.h"
#include "row_group_dictionaries_internal.h"
#include "span_scan_internal.h"
#include "write_ahead_log.h"

namespace otlp_arrow::storage {

namespace fs = std::filesystem;
using internal::ErrnoError;
using internal::FsyncDirectory;
using internal::RowsByHour;
using internal::UniqueFd;
using Clock = common::Clock;

namespace {

constexpr std::string_view kPartPrefix = "part-s";
constexpr std::string_view kParquetSuffix = ".parquet";
constexpr std::string_view kTemporarySuffix = ".parquet.tmp";
constexpr size_t kSegmentDigits = 20;

// Compressed Parquet bytes per raw Arrow IPC byte, until published files tell better.
constexpr double kInitialCompressionRatio = 0.5;

// How often segments that failed to publish are tried again while nothing else does.
constexpr auto kRepairInterval = std::chrono::seconds(1);
// At most one error line per interval while publishing fails: every retry fails on a
// full disk.
constexpr auto kErrorLogInterval = std::chrono::seconds(10);

// "part-s<20-digit segment>.parquet": the one file of WAL segment `segment` in an hour.
std::string PartFileName(uint64_t segment) {
  std::string digits = std::to_string(segment);
  digits.insert(0, kSegmentDigits - digits.size(), '0');
  return std::string(kPartPrefix) + digits + std::string(kParquetSuffix);
}

std::optional<uint64_t> SegmentOfPartFile(const fs::path& path) {
  const std::string name = path.filename().string();
  if (name.size() != kPartPrefix.size() + kSegmentDigits + kParquetSuffix.size() ||
      name.rfind(kPartPrefix, 0) != 0 ||
      name.compare(kPartPrefix.size() + kSegmentDigits, std::string::npos,
                   kParquetSuffix) != 0) {
    return std::nullopt;
  }
  uint64_t segment = 0;
  const char* begin = name.data() + kPartPrefix.size();
  const auto [end, error] = std::from_chars(begin, begin + kSegmentDigits, segment);
  if (error != std::errc() || end != begin + kSegmentDigits) return std::nullopt;
  return segment;
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// `spans` with exactly the span table's schema: its columns are found by name and
// brought to the span table's types, and the derived time columns a sender left off are
// computed (convert::ConformToSpanTableSchema), since every batch of a generation goes
// into one Parquet writer. Nullability and metadata may differ (other Arrow
// implementations declare fields nullable by default). Checks types, not values.
arrow::Result<std::shared_ptr<arrow::RecordBatch>> Conform(
    std::shared_ptr<arrow::RecordBatch> spans) {
  if (spans == nullptr) return arrow::Status::Invalid("span batch is null");
  if (spans->schema()->Equals(*convert::SpanTableSchema(), /*check_metadata=*/true)) {
    return spans;
  }
  return convert::ConformToSpanTableSchema(*spans, arrow::default_memory_pool());
}

// The batch, conformed, if it is a valid span table (convert::ValidateSpanTable also
// checks that `start_time`, which picks the hour folder, agrees with the nanoseconds
// that queries and pruning use).
arrow::Result<std::shared_ptr<arrow::RecordBatch>> ConformAndValidate(
    std::shared_ptr<arrow::RecordBatch> spans) {
  ARROW_ASSIGN_OR_RAISE(spans, Conform(std::move(spans)));
  ARROW_RETURN_NOT_OK(convert::ValidateSpanTable(*spans));
  return spans;
}

// Where files go and how they are written; shared by every generation of a store.
struct StoreLayout {
  fs::path data_dir;
  fs::path spans_dir;
  fs::path wal_dir;
  std::shared_ptr<parquet::WriterProperties> properties;
  std::shared_ptr<parquet::ArrowWriterProperties> arrow_properties;
  int64_t max_row_group_rows;
  arrow::MemoryPool* pool;
  // The age of open files and the retry and log intervals.
  std::shared_ptr<Clock> clock;
};

// ---------------------------------------------------------------------------------------
// A generation: one open Parquet file per hour, holding exactly the rows of one WAL
// segment for that hour.

class OpenParquetFile {
 public:
  static arrow::Result<std::unique_ptr<OpenParquetFile>> Create(const StoreLayout& layout,
                                                                fs::path final_path) {
    auto file = std::unique_ptr<OpenParquetFile>(new OpenParquetFile(layout));
    file->final_path_ = std::move(final_path);
    // A leading dot hides the file from pyarrow, Spark and Hive dataset discovery, the
    // ".tmp" suffix from "*.parquet" globs (DuckDB): readers never see a half file.
    file->temporary_path_ = file->final_path_.parent_path() /
                            ("." + file->final_path_.filename().string() + ".tmp");
    const fs::path& path = file->temporary_path_;
    // O_TRUNC: a temporary file of an earlier, failed attempt is garbage.
    file->fd_ =
        UniqueFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!file->fd_.valid()) return ErrnoError("cannot create", path);
    // Arrow's stream writes through a duplicate; the original is the one fsynced, so a
    // write-back error cannot be missed.
    const int stream_fd = ::dup(file->fd_.get());
    if (stream_fd < 0) return ErrnoError("cannot dup descriptor of", path);
    ARROW_ASSIGN_OR_RAISE(file->sink_, arrow::io::FileOutputStream::Open(stream_fd));
    ARROW_ASSIGN_OR_RAISE(file->writer_,
                          parquet::arrow::FileWriter::Open(
                              *convert::SpanTableSchema(), layout.pool, file->sink_,
                              layout.properties, layout.arrow_properties));
    return file;
  }

  ~OpenParquetFile() { Abandon(); }

  arrow::Status Write(const arrow::RecordBatch& part, int64_t raw_bytes) {
    ARROW_RETURN_NOT_OK(dictionaries_.Write(part, writer_.get()));
    const auto& start_times = static_cast<const arrow::UInt64Array&>(
        *part.GetColumnByName(std::string(convert::column::kStartTimeUnixNano)));
    for (int64_t row = 0; row < start_times.length(); ++row) {
      start_time_min_ = std::min(start_time_min_, start_times.Value(row));
      start_time_max_ = std::max(start_time_max_, start_times.Value(row));
    }
    num_rows_ += part.num_rows();
    raw_bytes_ += raw_bytes;
    return arrow::Status::OK();
  }

  // Bytes in the file so far plus the buffered row group, compressed at `ratio`.
  int64_t EstimatedBytes(int64_t max_row_group_rows, double ratio) const {
    if (num_rows_ == 0) return 0;
    int64_t buffered_rows = num_rows_ % max_row_group_rows;
    if (buffered_rows == 0) buffered_rows = max_row_group_rows;
    const double raw_per_row = static_cast<double>(raw_bytes_) / num_rows_;
    const auto written = sink_->Tell();
    return (written.ok() ? *written : 0) +
           static_cast<int64_t>(buffered_rows * raw_per_row * ratio);
  }

  // Writes the footer (with the start-time bounds) and makes the temporary file durable.
  arrow::Status Finish(uint64_t segment) {
    ARROW_RETURN_NOT_OK(writer_->AddKeyValueMetadata(arrow::key_value_metadata(
        {std::string(internal::kStartTimeMinKey), std::string(internal::kStartTimeMaxKey),
         std::string(internal::kWalSegmentKey)},
        {std::to_string(start_time_min_), std::to_string(start_time_max_),
         std::to_string(segment)})));
    ARROW_RETURN_NOT_OK(writer_->Close());
    ARROW_RETURN_NOT_OK(sink_->Close());
    writer_.reset();
    if (::fsync(fd_.get()) != 0) return ErrnoError("cannot fsync", temporary_path_);
    fd_.Reset();
    return arrow::Status::OK();
  }

  // Stops writing without a footer, as a crash would; the temporary file stays.
  void Abandon() {
    if (sink_ != nullptr && !sink_->closed()) {
      // Closed first: the Parquet writer's destructor tries to write a footer, which must
      // fail rather than make a complete-looking file.
      (void)sink_->Close();
    }
    writer_.reset();
    fd_.Reset();
  }

  const fs::path& temporary_path() const { return temporary_path_; }
  const fs::path& final_path() const { return final_path_; }
  int64_t num_rows() const { return num_rows_; }
  int64_t raw_bytes() const { return raw_bytes_; }
  uint64_t start_time_min() const { return start_time_min_; }
  uint64_t start_time_max() const { return start_time_max_; }

 private:
  explicit OpenParquetFile(const StoreLayout& layout)
      : dictionaries_(layout.max_row_group_rows, layout.pool) {}

  fs::path temporary_path_;
  fs::path final_path_;
  UniqueFd fd_;
  std::shared_ptr<arrow::io::FileOutputStream> sink_;
  std::unique_ptr<parquet::arrow::FileWriter> writer_;
  internal::RowGroupDictionaries dictionaries_;
  int64_t num_rows_ = 0;
  int64_t raw_bytes_ = 0;
  uint64_t start_time_min_ = std::numeric_limits<uint64_t>::max();
  uint64_t start_time_max_ = 0;
};

class Generation {
 public:
  Generation(const StoreLayout* layout, uint64_t segment)
      : layout_(layout), segment_(segment) {}
  ~Generation() { Abandon(/*remove_temporary_files=*/true); }

  // Adds the rows of one WAL record. An hour whose file of this segment is already
  // published (by a run that crashed before deleting the segment) is skipped: that file
  // holds every row of the segment for the hour.
  arrow::Status Add(const arrow::RecordBatch& spans, const RowsByHour& rows_by_hour,
                    int64_t raw_bytes) {
    if (files_.empty() && skipped_hours_.empty()) first_row_time_ = layout_->clock->Now();
    for (const auto& [hour, rows] : rows_by_hour) {
      const auto num_rows = static_cast<int64_t>(rows.size());
      if (skipped_hours_.count(hour) != 0) {
        rows_already_published_ += num_rows;
        continue;
      }
      auto it = files_.find(hour);
      if (it == files_.end()) {
        const fs::path dir = layout_->spans_dir / internal::PartitionDir(hour);
        const fs::path final_path = dir / PartFileName(segment_);
        std::error_code error;
        if (fs::exists(final_path, error)) {
          skipped_hours_.insert(hour);
          rows_already_published_ += num_rows;
          continue;
        }
        ARROW_RETURN_NOT_OK(internal::CreateDirectories(dir));
        ARROW_ASSIGN_OR_RAISE(auto file, OpenParquetFile::Create(*layout_, final_path));
        it = files_.emplace(hour, std::move(file)).first;
      }
      ARROW_ASSIGN_OR_RAISE(auto part, internal::TakeRows(spans, rows, layout_->pool));
      const int64_t part_raw_bytes =
          spans.num_rows() == 0 ? 0 : raw_bytes * num_rows / spans.num_rows();
      ARROW_RETURN_NOT_OK(internal::AnnotatePath(it->second->Write(*part, part_raw_bytes),
                                                 it->second->temporary_path()));
      rows_written_ += num_rows;
    }
    return arrow::Status::OK();
  }

  bool empty() const { return files_.empty(); }
  uint64_t segment() const { return segment_; }
  Clock::TimePoint first_row_time() const { return first_row_time_; }
  int64_t rows_written() const { return rows_written_; }
  int64_t rows_already_published() const { return rows_already_published_; }

  int64_t LargestFileBytes(double ratio) const {
    int64_t largest = 0;
    for (const auto& [hour, file] : files_) {
      largest =
          std::max(largest, file->EstimatedBytes(layout_->max_row_group_rows, ratio));
    }
    return largest;
  }

  // Closes, fsyncs and renames every file, then fsyncs the folders whose entries
  // changed. On error some files may be published and the rest are not: a replay of the
  // segment skips the former.
  arrow::Result<std::vector<StoredFile>> Publish(int64_t* raw_bytes) {
    for (auto& [hour, file] : files_) {
      ARROW_RETURN_NOT_OK(
          internal::AnnotatePath(file->Finish(segment_), file->temporary_path()));
    }
    std::set<fs::path> changed_dirs;
    std::vector<StoredFile> published;
    *raw_bytes = 0;
    for (auto& [hour, file] : files_) {
      if (::rename(file->temporary_path().c_str(), file->final_path().c_str()) != 0) {
        return ErrnoError("cannot rename to", file->final_path());
      }
      std::error_code error;
      const auto size = fs::file_size(file->final_path(), error);
      published.push_back({file->final_path().string(), file->num_rows(),
                           error ? 0 : static_cast<int64_t>(size), file->start_time_min(),
                           file->start_time_max()});
      *raw_bytes += file->raw_bytes();
      const fs::path hour_dir = file->final_path().parent_path();
      changed_dirs.insert(
          {hour_dir, hour_dir.parent_path(), layout_->spans_dir, layout_->data_dir});
    }
    files_.clear();
    for (const auto& dir : changed_dirs) ARROW_RETURN_NOT_OK(FsyncDirectory(dir));
    return published;
  }

  void Abandon(bool remove_temporary_files) {
    for (auto& [hour, file] : files_) {
      file->Abandon();
      if (remove_temporary_files) {
        std::error_code ignored;  // best effort: a later Open() removes it as well
        fs::remove(file->temporary_path(), ignored);
      }
    }
    files_.clear();
  }

 private:
  const StoreLayout* layout_;
  uint64_t segment_;
  std::map<int64_t, std::unique_ptr<OpenParquetFile>> files_;
  std::set<int64_t> skipped_hours_;
  Clock::TimePoint first_row_time_;
  int64_t rows_written_ = 0;
  int64_t rows_already_published_ = 0;
};

}  // namespace

arrow::Status ParquetSpanStoreOptions::Validate() const {
  if (data_dir.empty()) return arrow::Status::Invalid("data_dir is empty");
  if (max_file_bytes < 1) {
    return arrow::Status::Invalid("max_file_bytes must be positive, got ",
                                  max_file_bytes);
  }
  if (max_file_age.count() < 0) {
    return arrow::Status::Invalid("max_file_age must not be negative");
  }
  return internal::CheckParquetOptions(zstd_level, max_row_group_rows);
}

// ---------------------------------------------------------------------------------------
// The store

struct ParquetSpanStore::Impl {
  ParquetSpanStoreOptions options;
  StoreLayout layout;
  RecoveryReport report;
  UniqueFd lock_fd;

  std::mutex mutex;  // guards everything below
  std::condition_variable age_cv;
  std::thread age_thread;
  bool stopping = false;
  bool closed = false;
  uint64_t next_segment = 1;
  std::unique_ptr<internal::WalSegmentWriter> wal;  // null after a failed rotation
  std::unique_ptr<Generation> generation;           // of the segment `wal` writes
  // Segments whose generation failed to publish: replayed from the WAL at the next
  // rotation.
  std::set<uint64_t> unpublished_segments;
  arrow::Status last_publish_error;
  // Rate limit of the error lines of failed publications (one a kErrorLogInterval).
  std::optional<Clock::TimePoint> last_error_log;
  int64_t failures_since_log = 0;
  int64_t published_raw_bytes = 0;
  int64_t published_file_bytes = 0;
  ParquetSpanStoreStats stats;  // guarded by `mutex` (Open's recovery runs before)

  std::unique_ptr<internal::StoredFileCatalog> catalog;  // thread-safe

  bool fsync() const { return options.durability == WalDurability::kFsync; }

  double CompressionRatio() const {
    if (published_raw_bytes <= 0) return kInitialCompressionRatio;
    return static_cast<double>(published_file_bytes) / published_raw_bytes;
  }

  void Remember(const std::vector<StoredFile>& files, int64_t raw_bytes) {
    catalog->Remember(files);
    int64_t file_bytes = 0;
    for (const auto& file : files) file_bytes += file.num_bytes;
    published_raw_bytes += raw_bytes;
    published_file_bytes += file_bytes;
    stats.files_published += static_cast<int64_t>(files.size());
    stats.file_bytes_published += file_bytes;
  }

  arrow::Status RemoveSegment(uint64_t segment) {
    const fs::path path = internal::WalSegmentPath(layout.wal_dir, segment);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoError("cannot remove", path);
    }
    return FsyncDirectory(layout.wal_dir);
  }

  // Writes every record of a segment to Parquet (skipping hours already published),
  // publishes the files and removes the segment.
  arrow::Status ReplaySegment(uint64_t segment, RecoveryReport* counts) {
    const fs::path path = internal::WalSegmentPath(layout.wal_dir, segment);
    ARROW_ASSIGN_OR_RAISE(auto reader,
                          internal::WalSegmentReader::Open(path, layout.pool));
    Generation replay(&layout, segment);
    int64_t records = 0;
    while (true) {
      ARROW_ASSIGN_OR_RAISE(auto payload, reader->Next());
      if (payload == nullptr) break;
      // The checksum matched: a record that does not decode is not a torn write but a
      // bug or foreign data, and is not skipped silently.
      auto batch = internal::DeserializeWalRecord(payload);
      if (!batch.ok()) {
        return batch.status().WithMessage("WAL segment ", path.string(), " record ",
                                          records, ": ", batch.status().message());
      }
      ARROW_ASSIGN_OR_RAISE(auto conformed, ConformAndValidate(*batch));
      ARROW_ASSIGN_OR_RAISE(auto rows_by_hour, internal::GroupRowsByHour(*conformed));
      ARROW_RETURN_NOT_OK(
          replay.Add(*conformed, rows_by_hour, arrow::util::TotalBufferSize(*conformed)));
      ++records;
    }
    int64_t raw_bytes = 0;
    ARROW_ASSIGN_OR_RAISE(auto published, replay.Publish(&raw_bytes));
    Remember(published, raw_bytes);
    ARROW_RETURN_NOT_OK(RemoveSegment(segment));
    counts->segments_replayed += 1;
    counts->records_replayed += records;
    counts->rows_written += replay.rows_written();
    counts->rows_already_published += replay.rows_already_published();
    counts->torn_bytes_dropped += reader->dropped_bytes();
    return arrow::Status::OK();
  }

  arrow::Status StartSegment() {
    // The number is used up even on failure: a half-created file may hold it.
    const uint64_t segment = next_segment++;
    ARROW_ASSIGN_OR_RAISE(wal,
                          internal::WalSegmentWriter::Create(layout.wal_dir, segment));
    generation = std::make_unique<Generation>(&layout, wal->sequence());
    return arrow::Status::OK();
  }

  // Publishes the current generation, starts the next segment and retries segments that
  // failed before. Called with `mutex` held.
  arrow::Status RotateLocked() {
    arrow::Status status;
    const bool has_records = wal != nullptr && wal->num_records() > 0;
    if (wal == nullptr || has_records || wal->broken()) {
      // The next segment exists before the old one is removed, so the WAL folder always
      // shows the latest sequence number.
      std::unique_ptr<internal::WalSegmentWriter> old_wal = std::move(wal);
      std::unique_ptr<Generation> old_generation = std::move(generation);
      status = StartSegment();
      if (!status.ok() && old_wal != nullptr) {  // keep appending where we were
        wal = std::move(old_wal);
        generation = std::move(old_generation);
        return Counted(std::move(status));
      }
      if (old_wal != nullptr) {
        const uint64_t old_segment = old_wal->sequence();
        old_wal.reset();
        arrow::Status published = PublishGeneration(old_generation.get());
        if (published.ok()) {
          published = RemoveSegment(old_segment);
        } else {
          old_generation->Abandon(/*remove_temporary_files=*/true);
          unpublished_segments.insert(old_segment);
        }
        status &= published;
      }
    }
    status &= RepairLocked();
    return Counted(std::move(status));
  }

  // Makes a WAL segment to append to if there is none, and publishes the segments whose
  // publication failed (a full disk, say). Called with `mutex` held.
  arrow::Status RepairLocked() {
    arrow::Status status;
    if (wal == nullptr) status &= StartSegment();
    for (auto it = unpublished_segments.begin(); it != unpublished_segments.end();) {
      RecoveryReport ignored;
      const arrow::Status replayed = ReplaySegment(*it, &ignored);
      status &= replayed;
      it = replayed.ok() ? unpublished_segments.erase(it) : std::next(it);
    }
    return status;
  }

  // Batches cannot go to the WAL, or segments wait to be published.
  bool NeedsRepair() const {
    return wal == nullptr || wal->broken() || !unpublished_segments.empty();
  }

  // Counts and logs a failed publication (at most one line per kErrorLogInterval: a full
  // disk fails every retry), and says once when the store is healthy again.
  arrow::Status Counted(arrow::Status status) {
    if (status.ok()) {
      if (failures_since_log > 0 || last_error_log.has_value()) {
        if (!NeedsRepair()) {
          spdlog::info(
              "span store {}: publishing works again; every WAL segment is "
              "published",
              layout.data_dir.string());
          last_error_log.reset();
          failures_since_log = 0;
        }
      }
      return status;
    }
    last_publish_error = status;
    ++stats.publish_failures;
    ++failures_since_log;
    const auto now = layout.clock->Now();
    if (!last_error_log.has_value() || now - *last_error_log >= kErrorLogInterval) {
      spdlog::error(
          "span store {}: cannot publish ({} failures since the last report): {}; {} WAL "
          "segments wait to be published and new batches {}; acknowledged spans are safe "
          "in the WAL. Free space in the data dir (or fix its file system)",
          layout.data_dir.string(), failures_since_log, status.ToString(),
          unpublished_segments.size(),
          wal == nullptr || wal->broken() ? "are refused (UNAVAILABLE)"
                                          : "still go to the WAL");
      last_error_log = now;
      failures_since_log = 0;
    }
    return status;
  }

  arrow::Status PublishGeneration(Generation* old_generation) {
    if (old_generation == nullptr) return arrow::Status::OK();
    int64_t raw_bytes = 0;
    ARROW_ASSIGN_OR_RAISE(auto published, old_generation->Publish(&raw_bytes));
    Remember(published, raw_bytes);
    return arrow::Status::OK();
  }

  bool RotationDue() const {
    if (generation == nullptr || generation->empty()) return false;
    if (layout.clock->Now() - generation->first_row_time() >= options.max_file_age) {
      return true;
    }
    return generation->LargestFileBytes(CompressionRatio()) >= options.max_file_bytes;
  }

  // Appends a batch with exactly the span table's schema whose values were checked: to
  // the WAL (`payload` when given, else the batch serialized), then to the generation.
  arrow::Status AppendConformed(const std::shared_ptr<arrow::RecordBatch>& batch,
                                std::shared_ptr<arrow::Buffer> payload) {
    ARROW_ASSIGN_OR_RAISE(const RowsByHour rows_by_hour,
                          internal::GroupRowsByHour(*batch));
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (closed) return arrow::Status::IOError("span store is closed");
    }
    if (batch->num_rows() == 0) return arrow::Status::OK();
    if (payload == nullptr) {
      ARROW_ASSIGN_OR_RAISE(payload, internal::SerializeWalRecord(*batch, layout.pool));
    }
    // What the rows take in memory, the base of the file size estimate whatever the WAL
    // record's compression.
    const int64_t raw_bytes = arrow::util::TotalBufferSize(*batch);

    std::lock_guard<std::mutex> lock(mutex);
    if (closed) return arrow::Status::IOError("span store is closed");
    if (wal == nullptr || wal->broken()) {
      // Only a segment to append to matters here: segments that still fail to publish
      // wait in the WAL and do not keep this batch out.
      const arrow::Status rotated = RotateLocked();
      if (wal == nullptr || wal->broken()) {
        return rotated.ok() ? arrow::Status::IOError("no WAL segment to append to")
                            : rotated;
      }
    }
    ARROW_RETURN_NOT_OK(wal->Append(*payload, fsync()));
    ++stats.batches_appended;
    stats.rows_appended += batch->num_rows();
    stats.wal_bytes_appended += payload->size();
    // The batch is durable from here on: nothing below may fail the call, or the sender
    // would retry and store it twice.
    const bool was_empty = generation->empty();
    const arrow::Status added = generation->Add(*batch, rows_by_hour, raw_bytes);
    if (!added.ok()) {
      // The generation misses rows now: drop its files and publish the segment from the
      // WAL instead, at the next rotation.
      last_publish_error = added;
      generation->Abandon(/*remove_temporary_files=*/true);
      unpublished_segments.insert(wal->sequence());
      wal.reset();
      generation.reset();
      (void)RotateLocked();
      return arrow::Status::OK();
    }
    if (RotationDue()) {
      (void)RotateLocked();  // kept in last_publish_error; Flush() reports it
    } else if (was_empty) {
      age_cv.notify_all();  // the age clock of a new generation starts
    }
    return arrow::Status::OK();
  }

  // The background thread: publishes a generation that reached max_file_age without an
  // Append() noticing.
  void AgeLoop() {
    Clock& clock = *layout.clock;
    auto stop = [this] { return stopping; };
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      if (NeedsRepair()) {
        // Nothing else would publish the waiting segments while no batch comes (a
        // receiver refusing writes on a full disk gets none).
        (void)(wal != nullptr && wal->broken() ? RotateLocked()
                                               : Counted(RepairLocked()));
        if (NeedsRepair())
          clock.WaitUntil(lock, age_cv, clock.Now() + kRepairInterval, stop);
        continue;
      }
      if (generation == nullptr || generation->empty()) {
        // Until an Append() starts a generation (it notifies) or a failure needs repair.
        clock.WaitUntil(lock, age_cv, Clock::TimePoint::max(), [this] {
          return stopping || NeedsRepair() ||
                 (generation != nullptr && !generation->empty());
        });
        continue;
      }
      const auto deadline = generation->first_row_time() + options.max_file_age;
      if (clock.Now() < deadline) {
        clock.WaitUntil(lock, age_cv, deadline, stop);
        continue;
      }
      if (!RotateLocked().ok()) {
        // The segment stays; try again later rather than spin.
        clock.WaitUntil(lock, age_cv, clock.Now() + kRepairInterval, stop);
      }
    }
  }

  void StopAgeThread() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    age_cv.notify_all();
    if (age_thread.joinable()) age_thread.join();
  }
};

arrow::Result<std::unique_ptr<ParquetSpanStore>> ParquetSpanStore::Open(
    ParquetSpanStoreOptions options, arrow::MemoryPool* pool) {
  ARROW_RETURN_NOT_OK(options.Validate());
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  StoreLayout& layout = impl->layout;
  layout.data_dir = fs::path(impl->options.data_dir);
  layout.spans_dir = layout.data_dir / "spans";
  layout.wal_dir = layout.data_dir / "wal";
  layout.properties = internal::MakeWriterProperties(impl->options.zstd_level,
                                                     impl->options.max_row_group_rows,
                                                     impl->options.dictionary_encoding);
  layout.arrow_properties = internal::MakeArrowWriterProperties();
  layout.max_row_group_rows = impl->options.max_row_group_rows;
  layout.pool = pool;
  layout.clock =
      impl->options.clock != nullptr ? impl->options.clock : common::Clock::Steady();
  impl->catalog = std::make_unique<internal::StoredFileCatalog>(layout.spans_dir, pool);
  ARROW_RETURN_NOT_OK(internal::CreateDirectories(layout.spans_dir));
  ARROW_RETURN_NOT_OK(internal::CreateDirectories(layout.wal_dir));
  ARROW_RETURN_NOT_OK(FsyncDirectory(layout.data_dir));

  // One store per data dir: two would replay and delete each other's segments.
  const fs::path lock_path = layout.wal_dir / "LOCK";
  impl->lock_fd = UniqueFd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!impl->lock_fd.valid()) return ErrnoError("cannot open", lock_path);
  if (::flock(impl->lock_fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return arrow::Status::IOError("data dir ", layout.data_dir.string(),
                                    " is in use by another span store");
    }
    return ErrnoError("cannot lock", lock_path);
  }

  // Recovery. Temporary files hold rows that are still in the WAL.
  std::set<fs::path> changed_dirs;
  uint64_t last_segment = 0;
  {
    std::error_code error;
    for (fs::recursive_directory_iterator it(layout.spans_dir, error), end;
         !error && it != end; it.increment(error)) {
      if (!it->is_regular_file()) continue;
      const fs::path& path = it->path();
      if (EndsWith(path.filename().string(), kTemporarySuffix)) {
        changed_dirs.insert(path.parent_path());
      } else if (const auto segment = SegmentOfPartFile(path)) {
        last_segment = std::max(last_segment, *segment);
      }
    }
    if (error) {
      return arrow::Status::IOError("cannot list ", layout.spans_dir.string(), ": ",
                                    error.message());
    }
  }
  for (const auto& dir : changed_dirs) {
    std::vector<fs::path> leftovers;
    std::error_code error;
    for (fs::directory_iterator it(dir, error), end; !error && it != end;
         it.increment(error)) {
      if (EndsWith(it->path().filename().string(), kTemporarySuffix)) {
        leftovers.push_back(it->path());
      }
    }
    for (const auto& path : leftovers) {
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return ErrnoError("cannot remove", path);
      }
      ++impl->report.temporary_files_removed;
    }
    ARROW_RETURN_NOT_OK(FsyncDirectory(dir));
  }
  ARROW_ASSIGN_OR_RAISE(const auto segments, internal::ListWalSegments(layout.wal_dir));
  for (const uint64_t segment : segments) last_segment = std::max(last_segment, segment);
  impl->next_segment = last_segment + 1;
  // An I/O error (a full disk) does not stop the store from opening: it serves what is
  // published, the segment stays in the WAL, and the background thread publishes it
  // once it can. Anything else (a record that does not decode) is not retried.
  arrow::Status recovery;
  for (const uint64_t segment : segments) {
    const arrow::Status replayed = impl->ReplaySegment(segment, &impl->report);
    if (!replayed.ok() && !replayed.IsIOError()) return replayed;
    if (!replayed.ok()) impl->unpublished_segments.insert(segment);
    recovery &= replayed;
  }
  if (const arrow::Status started = impl->StartSegment(); !started.ok()) {
    if (!started.IsIOError()) return started;
    impl->wal.reset();  // Append() refuses batches until a segment can be made
    recovery &= started;
  }
  impl->report.segments_unpublished =
      static_cast<int64_t>(impl->unpublished_segments.size());
  (void)impl->Counted(std::move(recovery));

  Impl* raw_impl = impl.get();
  impl->age_thread = std::thread([raw_impl] { raw_impl->AgeLoop(); });
  return std::unique_ptr<ParquetSpanStore>(new ParquetSpanStore(std::move(impl)));
}

ParquetSpanStore::ParquetSpanStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ParquetSpanStore::~ParquetSpanStore() {
  impl_->StopAgeThread();
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->closed) return;
  impl_->closed = true;
  // No flush: a destructor cannot report its failure. Every appended batch is in the
  // WAL, and the next Open() publishes it.
  if (impl_->generation != nullptr) {
    impl_->generation->Abandon(/*remove_temporary_files=*/true);
  }
  impl_->wal.reset();
  impl_->lock_fd.Reset();
}

void internal::ParquetSpanStoreTesting::Abandon(ParquetSpanStore& store) {
  ParquetSpanStore::Impl& impl = *store.impl_;
  impl.StopAgeThread();
  std::lock_guard<std::mutex> lock(impl.mutex);
  impl.closed = true;
  if (impl.generation != nullptr) {
    impl.generation->Abandon(/*remove_temporary_files=*/false);
  }
  impl.wal.reset();
  impl.lock_fd.Reset();
}

arrow::Status ParquetSpanStore::Append(const std::shared_ptr<arrow::RecordBatch>& spans) {
  // Everything that can refuse the batch happens before the WAL sees it: a record in
  // the WAL must always replay.
  ARROW_ASSIGN_OR_RAISE(auto batch, ConformAndValidate(spans));
  return impl_->AppendConformed(batch, nullptr);
}

arrow::Status ParquetSpanStore::AppendValidated(
    const std::shared_ptr<arrow::RecordBatch>& spans,
    std::shared_ptr<arrow::Buffer> ipc_stream) {
  ARROW_ASSIGN_OR_RAISE(auto batch, Conform(spans));
  return impl_->AppendConformed(batch, std::move(ipc_stream));
}

arrow::Status ParquetSpanStore::Flush() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->closed) return arrow::Status::Invalid("span store is closed");
  const bool nothing_open = impl_->wal != nullptr && !impl_->wal->broken() &&
                            impl_->wal->num_records() == 0 &&
                            impl_->unpublished_segments.empty();
  if (nothing_open) return arrow::Status::OK();
  return impl_->RotateLocked();
}

arrow::Status ParquetSpanStore::Close() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->closed) return arrow::Status::OK();
  }
  arrow::Status status = Flush();
  impl_->StopAgeThread();
  std::lock_guard<std::mutex> lock(impl_->mutex);
  Impl& impl = *impl_;
  if (impl.closed) return status;
  impl.closed = true;
  if (impl.generation != nullptr) {
    impl.generation->Abandon(/*remove_temporary_files=*/true);
  }
  // A clean close leaves no empty segment behind.
  if (status.ok() && impl.wal != nullptr && impl.wal->num_records() == 0) {
    const uint64_t segment = impl.wal->sequence();
    impl.wal.reset();
    status &= impl.RemoveSegment(segment);
  }
  impl.wal.reset();
  impl.lock_fd.Reset();
  return status;
}

arrow::Result<std::vector<StoredFile>> ParquetSpanStore::ListFiles() {
  return impl_->catalog->List();
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ParquetSpanStore::Scan(
    const SpanQuery& query) {
  if (query.trace_id && query.trace_id->size() != 16) {
    return arrow::Status::Invalid("trace_id must be 16 bytes, got ",
                                  query.trace_id->size());
  }
  if (impl_->options.flush_before_scan) {
    bool closed = false;
    {
      std::lock_guard<std::mutex> lock(impl_->mutex);
      closed = impl_->closed;
    }
    // A closed store has nothing open: it reads what it published. A store that cannot
    // publish (a full disk) still serves what it published; Health() tells the rest.
    if (!closed) {
      const arrow::Status flushed = Flush();
      if (!flushed.ok() && !flushed.IsIOError()) return flushed;
    }
  }
  ARROW_ASSIGN_OR_RAISE(const auto files, ListFiles());
  return internal::ScanFiles(internal::SelectFiles(files, query), query,
                             impl_->layout.pool);
}

const RecoveryReport& ParquetSpanStore::recovery_report() const { return impl_->report; }

arrow::Status ParquetSpanStore::Health() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (!impl_->NeedsRepair()) return arrow::Status::OK();
  const arrow::Status& error = impl_->last_publish_error;
  return arrow::Status(
      error.ok() ? arrow::StatusCode::IOError : error.code(),
      fmt::format("{} WAL segments wait to be published{}: {}",
                  impl_->unpublished_segments.size(),
                  impl_->wal == nullptr || impl_->wal->broken()
                      ? ", new batches are refused"
                      : "",
                  error.ok() ? "no segment to append to" : error.message()));
}

ParquetSpanStoreStats ParquetSpanStore::Stats() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  ParquetSpanStoreStats stats = impl_->stats;
  stats.unpublished_segments = static_cast<int64_t>(impl_->unpublished_segments.size());
  return stats;
}

const ParquetSpanStoreOptions& ParquetSpanStore::options() const {
  return impl_->options;
}

}  // namespace otlp_arrow::storage
