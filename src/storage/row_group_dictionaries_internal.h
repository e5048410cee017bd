// SPDX-License-Identifier: Apache-2.0
// Keeps Arrow's Parquet writer dictionary-encoding the span table's dictionary columns
// across every batch of a row group. Internal to the storage library.

#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <arrow/memory_pool.h>
#include <arrow/result.h>
#include <arrow/type_fwd.h>

namespace parquet::arrow {
class FileWriter;
}  // namespace parquet::arrow

namespace otlp_arrow::storage::internal {

/// \brief Prepares the batches of one Parquet file for parquet::arrow::FileWriter.
///
/// Arrow's Parquet writer writes an Arrow dictionary column straight into the column
/// chunk's dictionary page while every batch of the row group brings the dictionary of
/// the first; at the first batch with another dictionary it gives up dictionary encoding
/// and writes PLAIN pages for the rest of the chunk (parquet::TypedColumnWriterImpl::
/// WriteArrowDictionary). Batches that come from different senders, or from one sender's
/// different requests, always bring other dictionaries: attribute keys and values,
/// service and scope names were stored as PLAIN strings from the second batch of a row
/// group on. So each dictionary column goes on with the row group's first dictionary: as
/// it is when its dictionary equals that one; with its indices remapped into it when
/// every value of its dictionary is there (keys, service and scope names: the same few
/// strings in another order); else decoded to plain strings, which the writer hashes into
/// the same dictionary page (it takes dense and dictionary arrays of one column in any
/// mix, as long as the dictionary does not change).
///
/// Row groups are cut here, not by the writer: Prepare() splits a batch where a row
/// group of `max_row_group_rows` is full and marks the piece that must start a new one
/// (FileWriter::NewBufferedRowGroup()), so it knows where each row group's first
/// dictionaries are.
class RowGroupDictionaries {
 public:
  /// `pool` holds the remapped indices and decoded strings.
  explicit RowGroupDictionaries(int64_t max_row_group_rows,
                                arrow::MemoryPool* pool = arrow::default_memory_pool());

  struct Piece {
    std::shared_ptr<arrow::RecordBatch> batch;
    /// The writer must start a new row group before writing `batch`.
    bool starts_row_group = false;
  };

  /// \brief The pieces to write, in order, for the next `batch` of the file (a span
  /// table, validated). A piece's columns may be plain strings where the schema has a
  /// dictionary.
  arrow::Result<std::vector<Piece>> Prepare(const arrow::RecordBatch& batch);

  /// \brief Writes `batch` (the file's next rows) to `writer` as Prepare() cuts it.
  arrow::Status Write(const arrow::RecordBatch& batch,
                      parquet::arrow::FileWriter* writer);

  /// \brief Dictionary arrays (of a piece's column) remapped into the row group's first
  /// dictionary, and decoded to plain strings, so far; for tests and benchmarks.
  int64_t columns_remapped() const { return columns_remapped_; }
  int64_t columns_decoded() const { return columns_decoded_; }

 private:
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> PreparePiece(
      const std::shared_ptr<arrow::RecordBatch>& piece);
  arrow::Result<std::shared_ptr<arrow::ArrayData>> Visit(
      const std::shared_ptr<arrow::ArrayData>& data, size_t* slot);

  int64_t max_row_group_rows_;
  arrow::MemoryPool* pool_;
  int64_t rows_in_row_group_ = 0;
  bool any_row_group_ = false;
  // The dictionary a row group started with, for one dictionary array of the span
  // table, and where each of its strings is (filled when first needed).
  struct FirstDictionary {
    std::shared_ptr<arrow::Array> values;  // null before the row group's first piece
    std::unordered_map<std::string_view, int32_t> positions;
  };
  arrow::Result<std::shared_ptr<arrow::ArrayData>> Remap(
      const arrow::DictionaryArray& array, FirstDictionary* first);

  // By dictionary array of the span table, numbered depth first.
  std::vector<FirstDictionary> first_dictionaries_;
  int64_t columns_remapped_ = 0;
  int64_t columns_decoded_ = 0;
};

}  // namespace otlp_arrow::storage::internal
