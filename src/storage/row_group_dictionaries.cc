// SPDX-License-Identifier: Apache-2.0

#include "row_group_dictionaries_internal.h"

#include <algorithm>
#include <utility>

#include <arrow/api.h>
#include <arrow/compute/api_vector.h>
#include <arrow/compute/exec.h>
#include <arrow/util/bitmap_ops.h>
#include <parquet/arrow/writer.h>

namespace otlp_arrow::storage::internal {

namespace {

// `type` (a struct, list or map) with its children's types replaced by those of
// `children`: a child decoded from dictionary to plain strings changes its parents'
// types.
arrow::Result<std::shared_ptr<arrow::DataType>> WithChildTypes(
    const arrow::DataType& type,
    const std::vector<std::shared_ptr<arrow::ArrayData>>& children) {
  std::vector<std::shared_ptr<arrow::Field>> fields;
  fields.reserve(children.size());
  for (size_t i = 0; i < children.size(); ++i) {
    fields.push_back(type.field(static_cast<int>(i))->WithType(children[i]->type));
  }
  switch (type.id()) {
    case arrow::Type::STRUCT:
      return arrow::struct_(std::move(fields));
    case arrow::Type::LIST:
      return arrow::list(std::move(fields[0]));
    case arrow::Type::MAP:
      return arrow::MapType::Make(std::move(fields[0]),
                                  static_cast<const arrow::MapType&>(type).keys_sorted());
    default:
      return arrow::Status::NotImplemented("dictionary inside ", type.ToString());
  }
}

}  // namespace

RowGroupDictionaries::RowGroupDictionaries(int64_t max_row_group_rows,
                                           arrow::MemoryPool* pool)
    : max_row_group_rows_(std::max<int64_t>(max_row_group_rows, 1)), pool_(pool) {}

arrow::Result<std::vector<RowGroupDictionaries::Piece>> RowGroupDictionaries::Prepare(
    const arrow::RecordBatch& batch) {
  std::vector<Piece> pieces;
  int64_t offset = 0;
  while (offset < batch.num_rows()) {
    Piece piece;
    if (!any_row_group_ || rows_in_row_group_ == max_row_group_rows_) {
      // The writer opens the first row group itself.
      piece.starts_row_group = any_row_group_;
      any_row_group_ = true;
      rows_in_row_group_ = 0;
      for (auto& first : first_dictionaries_) first = FirstDictionary{};
    }
    const int64_t length =
        std::min(max_row_group_rows_ - rows_in_row_group_, batch.num_rows() - offset);
    ARROW_ASSIGN_OR_RAISE(piece.batch, PreparePiece(batch.Slice(offset, length)));
    rows_in_row_group_ += length;
    offset += length;
    pieces.push_back(std::move(piece));
  }
  return pieces;
}

arrow::Status RowGroupDictionaries::Write(const arrow::RecordBatch& batch,
                                          parquet::arrow::FileWriter* writer) {
  ARROW_ASSIGN_OR_RAISE(auto pieces, Prepare(batch));
  for (const auto& piece : pieces) {
    if (piece.starts_row_group) ARROW_RETURN_NOT_OK(writer->NewBufferedRowGroup());
    ARROW_RETURN_NOT_OK(writer->WriteRecordBatch(*piece.batch));
  }
  return arrow::Status::OK();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> RowGroupDictionaries::PreparePiece(
    const std::shared_ptr<arrow::RecordBatch>& piece) {
  size_t slot = 0;
  std::vector<std::shared_ptr<arrow::ArrayData>> columns;
  columns.reserve(static_cast<size_t>(piece->num_columns()));
  std::vector<std::shared_ptr<arrow::Field>> fields = piece->schema()->fields();
  bool changed = false;
  for (int i = 0; i < piece->num_columns(); ++i) {
    const std::shared_ptr<arrow::ArrayData>& column = piece->column_data(i);
    ARROW_ASSIGN_OR_RAISE(auto prepared, Visit(column, &slot));
    if (prepared != column) {
      changed = true;
      fields[static_cast<size_t>(i)] =
          fields[static_cast<size_t>(i)]->WithType(prepared->type);
    }
    columns.push_back(std::move(prepared));
  }
  if (!changed) return piece;
  return arrow::RecordBatch::Make(
      arrow::schema(std::move(fields), piece->schema()->metadata()), piece->num_rows(),
      std::move(columns));
}

// `array` with the same strings as indices into first->values, or null when one of its
// dictionary's strings is not there. Costs a lookup per dictionary entry and a pass over
// the indices; the writer then writes the indices as they are.
arrow::Result<std::shared_ptr<arrow::ArrayData>> RowGroupDictionaries::Remap(
    const arrow::DictionaryArray& array, FirstDictionary* first) {
  if (array.dictionary()->type_id() != arrow::Type::STRING ||
      array.indices()->type_id() != arrow::Type::INT32 ||
      first->values->type_id() != arrow::Type::STRING) {
    return nullptr;
  }
  const auto& first_values = static_cast<const arrow::StringArray&>(*first->values);
  if (first->positions.empty()) {
    first->positions.reserve(static_cast<size_t>(first_values.length()));
    for (int64_t i = first_values.length() - 1; i >= 0; --i) {
      first->positions[first_values.GetView(i)] = static_cast<int32_t>(i);
    }
  }
  const auto& values = static_cast<const arrow::StringArray&>(*array.dictionary());
  std::vector<int32_t> position_of(static_cast<size_t>(values.length()));
  for (int64_t j = 0; j < values.length(); ++j) {
    const auto found = first->positions.find(values.GetView(j));
    if (found == first->positions.end()) return nullptr;
    position_of[static_cast<size_t>(j)] = found->second;
  }
  const auto& indices = static_cast<const arrow::Int32Array&>(*array.indices());
  const int64_t length = indices.length();
  ARROW_ASSIGN_OR_RAISE(auto remapped,
                        arrow::AllocateBuffer(length * sizeof(int32_t), pool_));
  auto* out = reinterpret_cast<int32_t*>(remapped->mutable_data());
  const int32_t* in = indices.raw_values();
  for (int64_t i = 0; i < length; ++i) {
    // A null slot's index is unspecified (possibly out of range): 0 stands for it.
    out[i] = indices.IsValid(i) ? position_of[static_cast<size_t>(in[i])] : 0;
  }
  std::shared_ptr<arrow::Buffer> validity;
  if (indices.null_count() > 0) {
    ARROW_ASSIGN_OR_RAISE(validity,
                          arrow::internal::CopyBitmap(pool_, indices.null_bitmap_data(),
                                                      indices.offset(), length));
  }
  auto data = arrow::ArrayData::Make(array.type(), length,
                                     {std::move(validity), std::move(remapped)},
                                     indices.null_count());
  data->dictionary = first->values->data();
  return data;
}

arrow::Result<std::shared_ptr<arrow::ArrayData>> RowGroupDictionaries::Visit(
    const std::shared_ptr<arrow::ArrayData>& data, size_t* slot) {
  if (data->type->id() == arrow::Type::DICTIONARY) {
    const size_t index = (*slot)++;
    if (index >= first_dictionaries_.size()) first_dictionaries_.resize(index + 1);
    FirstDictionary& first = first_dictionaries_[index];
    const arrow::DictionaryArray array(data);
    const std::shared_ptr<arrow::Array>& dictionary = array.dictionary();
    if (first.values == nullptr) {
      first.values = dictionary;
      return data;
    }
    if (first.values->data() == dictionary->data() || first.values->Equals(*dictionary)) {
      return data;
    }
    ARROW_ASSIGN_OR_RAISE(auto remapped, Remap(array, &first));
    if (remapped != nullptr) {
      ++columns_remapped_;
      return remapped;
    }
    // Indices were bounds-checked when the batch was validated.
    arrow::compute::ExecContext context(pool_);
    ARROW_ASSIGN_OR_RAISE(
        arrow::Datum plain,
        arrow::compute::Take(dictionary, array.indices(),
                             arrow::compute::TakeOptions::NoBoundsCheck(), &context));
    ++columns_decoded_;
    return plain.array();
  }
  if (data->child_data.empty()) return data;
  std::vector<std::shared_ptr<arrow::ArrayData>> children;
  children.reserve(data->child_data.size());
  bool changed = false;
  for (const auto& child : data->child_data) {
    ARROW_ASSIGN_OR_RAISE(auto prepared, Visit(child, slot));
    changed = changed || prepared != child;
    children.push_back(std::move(prepared));
  }
  if (!changed) return data;
  auto copy = std::make_shared<arrow::ArrayData>(*data);
  ARROW_ASSIGN_OR_RAISE(copy->type, WithChildTypes(*data->type, children));
  copy->child_data = std::move(children);
  return copy;
}

}  // namespace otlp_arrow::storage::internal
