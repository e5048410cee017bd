// SPDX-License-Identifier: Apache-2.0
// Batches from elsewhere (other Arrow implementations, span table version 1, Parquet
// read back) brought to exactly the span table's types.

#include <cstring>
#include <string>

#include <arrow/array.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <arrow/util/bitmap_ops.h>
#include <arrow/util/checked_cast.h>

#include "column_writers_internal.h"
#include "otlp_arrow/convert/span_schema.h"

namespace otlp_arrow::convert {

using arrow::internal::checked_cast;

arrow::Status CheckSpanTableType(const arrow::DataType& actual,
                                 const arrow::DataType& expected,
                                 const std::string& path) {
  auto mismatch = [&] {
    return arrow::Status::Invalid("column '", path, "': expected type ",
                                  expected.ToString(), ", got ", actual.ToString());
  };
  // Where the span table has dictionary<int32, utf8> (read through StringColumn), plain
  // utf8 and other index widths are accepted too: Parquet gives attribute keys back
  // plain, and other Arrow implementations may encode them as they like.
  auto is_string = [](const arrow::DataType& t) {
    return t.id() == arrow::Type::STRING ||
           (t.id() == arrow::Type::DICTIONARY &&
            checked_cast<const arrow::DictionaryType&>(t).value_type()->id() ==
                arrow::Type::STRING);
  };
  if (expected.id() == arrow::Type::DICTIONARY) {
    return is_string(actual) ? arrow::Status::OK() : mismatch();
  }
  if (actual.id() != expected.id()) return mismatch();
  switch (expected.id()) {
    case arrow::Type::FIXED_SIZE_BINARY:
      if (checked_cast<const arrow::FixedSizeBinaryType&>(actual).byte_width() !=
          checked_cast<const arrow::FixedSizeBinaryType&>(expected).byte_width()) {
        return mismatch();
      }
      return arrow::Status::OK();
    case arrow::Type::STRUCT: {
      if (actual.num_fields() != expected.num_fields()) return mismatch();
      for (int i = 0; i < expected.num_fields(); ++i) {
        const auto& want = expected.field(i);
        const auto& got = actual.field(i);
        if (got->name() != want->name()) {
          return arrow::Status::Invalid("column '", path, "': field ", i, " is '",
                                        got->name(), "', expected '", want->name(), "'");
        }
        ARROW_RETURN_NOT_OK(
            CheckSpanTableType(*got->type(), *want->type(), path + "." + want->name()));
      }
      return arrow::Status::OK();
    }
    case arrow::Type::LIST:
      return CheckSpanTableType(*actual.field(0)->type(), *expected.field(0)->type(),
                                path);
    case arrow::Type::MAP: {
      const auto& a = checked_cast<const arrow::MapType&>(actual);
      const auto& e = checked_cast<const arrow::MapType&>(expected);
      ARROW_RETURN_NOT_OK(
          CheckSpanTableType(*a.key_type(), *e.key_type(), path + ".key"));
      return CheckSpanTableType(*a.item_type(), *e.item_type(), path + ".value");
    }
    default:
      return arrow::Status::OK();
  }
}

namespace {

// `data` (utf8) as dictionary<int32, utf8> of `type`, nulls kept.
arrow::Result<std::shared_ptr<arrow::ArrayData>> EncodeDictionary(
    const std::shared_ptr<arrow::ArrayData>& data,
    const std::shared_ptr<arrow::DataType>& type, arrow::MemoryPool* pool) {
  const arrow::StringArray strings(data);
  internal::StringDictionary dictionary(pool);
  internal::PodBuffer<int32_t> indices(pool);
  for (int64_t i = 0; i < strings.length(); ++i) {
    indices.Append(strings.IsNull(i) ? 0 : dictionary.IndexOf(strings.GetView(i)));
  }
  ARROW_ASSIGN_OR_RAISE(auto index_buffer, indices.Finish());
  std::shared_ptr<arrow::Buffer> bitmap;
  if (strings.null_count() > 0) {
    ARROW_ASSIGN_OR_RAISE(
        bitmap, arrow::internal::CopyBitmap(pool, strings.null_bitmap_data(),
                                            strings.offset(), strings.length()));
  }
  auto out = arrow::ArrayData::Make(type, strings.length(),
                                    {std::move(bitmap), std::move(index_buffer)},
                                    strings.null_count());
  ARROW_ASSIGN_OR_RAISE(out->dictionary, dictionary.Finish());
  return out;
}

// `data` with the span table's `type` at every level; only plain strings where the
// span table has dictionaries are rewritten, everything else is shared.
arrow::Result<std::shared_ptr<arrow::ArrayData>> Conform(
    const std::shared_ptr<arrow::ArrayData>& data,
    const std::shared_ptr<arrow::DataType>& type, const std::string& path,
    arrow::MemoryPool* pool) {
  if (data->type->Equals(*type)) return data;
  if (type->id() == arrow::Type::DICTIONARY) {
    if (data->type->id() == arrow::Type::STRING)
      return EncodeDictionary(data, type, pool);
    const auto& got = checked_cast<const arrow::DictionaryType&>(*data->type);
    if (got.index_type()->id() != arrow::Type::INT32) {
      return arrow::Status::Invalid("column '", path, "': dictionary indices of type ",
                                    got.index_type()->ToString(),
                                    " (the span table uses int32)");
    }
  }
  auto out = data->Copy();
  out->type = type;
  if (type->num_fields() > 0 && type->id() != arrow::Type::DICTIONARY) {
    for (int i = 0; i < type->num_fields(); ++i) {
      const auto& field = type->field(i);
      const std::string child_path =
          type->id() == arrow::Type::STRUCT ? path + "." + field->name() : path;
      ARROW_ASSIGN_OR_RAISE(out->child_data[i], Conform(data->child_data[i],
                                                        field->type(), child_path, pool));
    }
  }
  return out;
}

}  // namespace

arrow::Result<std::shared_ptr<arrow::RecordBatch>> ConformToSpanTableSchema(
    const arrow::RecordBatch& batch, arrow::MemoryPool* pool) {
  const auto& schema = SpanTableSchema();
  if (batch.num_columns() != schema->num_fields()) {
    return arrow::Status::Invalid("span table has ", batch.num_columns(),
                                  " columns, expected ", schema->num_fields());
  }
  std::vector<std::shared_ptr<arrow::ArrayData>> columns;
  columns.reserve(schema->num_fields());
  for (int i = 0; i < schema->num_fields(); ++i) {
    const auto& field = schema->field(i);
    const auto& got = batch.schema()->field(i);
    if (got->name() != field->name()) {
      return arrow::Status::Invalid("span table column ", i, " is '", got->name(),
                                    "', expected '", field->name(), "'");
    }
    ARROW_RETURN_NOT_OK(CheckSpanTableType(*got->type(), *field->type(), field->name()));
    ARROW_ASSIGN_OR_RAISE(
        auto column, Conform(batch.column_data(i), field->type(), field->name(), pool));
    columns.push_back(std::move(column));
  }
  return arrow::RecordBatch::Make(schema, batch.num_rows(), std::move(columns));
}

}  // namespace otlp_arrow::convert
