// SPDX-License-Identifier: Apache-2.0
// CompactDictionaries: a slice of a span table with dictionaries of its own values.

#include <memory>
#include <utility>
#include <vector>

#include <arrow/array.h>
#include <arrow/array/concatenate.h>
#include <arrow/record_batch.h>

#include "otlp_arrow/convert/span_schema.h"

namespace otlp_arrow::convert {

namespace {

// `data` (not a slice: offsets start at its children's beginning) with each dictionary,
// at any depth, compacted to the values its indices use.
arrow::Result<std::shared_ptr<arrow::ArrayData>> Compacted(
    const std::shared_ptr<arrow::ArrayData>& data, arrow::MemoryPool* pool) {
  if (data->type->id() == arrow::Type::DICTIONARY) {
    const arrow::DictionaryArray dictionary(data);
    ARROW_ASSIGN_OR_RAISE(auto compact, dictionary.Compact(pool));
    return compact->data();
  }
  if (data->child_data.empty()) return data;
  auto out = std::make_shared<arrow::ArrayData>(*data);
  for (auto& child : out->child_data) {
    ARROW_ASSIGN_OR_RAISE(child, Compacted(child, pool));
  }
  return out;
}

}  // namespace

arrow::Result<std::shared_ptr<arrow::RecordBatch>> CompactDictionaries(
    const arrow::RecordBatch& batch, arrow::MemoryPool* pool) {
  std::vector<std::shared_ptr<arrow::Array>> columns;
  columns.reserve(static_cast<size_t>(batch.num_columns()));
  for (const auto& column : batch.columns()) {
    // Concatenating one array copies a slice out of its parent with offsets from zero
    // and children cut to the entries it uses; dictionaries stay shared until compacted.
    ARROW_ASSIGN_OR_RAISE(auto own, arrow::Concatenate({column}, pool));
    ARROW_ASSIGN_OR_RAISE(auto data, Compacted(own->data(), pool));
    columns.push_back(arrow::MakeArray(std::move(data)));
  }
  return arrow::RecordBatch::Make(batch.schema(), batch.num_rows(), std::move(columns));
}

}  // namespace otlp_arrow::convert
