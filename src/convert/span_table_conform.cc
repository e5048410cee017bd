// SPDX-License-Identifier: Apache-2.0
// Batches from elsewhere (other Arrow implementations, span table version 1, Parquet
// read back) brought to exactly the span table's types.

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/array.h>
#include <arrow/buffer.h>
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
    case arrow::Type::TIMESTAMP:  // the unit and the time zone too
      return actual.Equals(expected) ? arrow::Status::OK() : mismatch();
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
  // The batch may come off the network and is validated as a whole only after this:
  // offsets and UTF-8 are checked before a string is read.
  ARROW_RETURN_NOT_OK(strings.ValidateFull());
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
    if (data->type->id() == arrow::Type::STRING) {
      auto encoded = EncodeDictionary(data, type, pool);
      if (!encoded.ok()) {
        return arrow::Status::Invalid("column '", path,
                                      "': ", encoded.status().message());
      }
      return encoded;
    }
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
    if (static_cast<int>(data->child_data.size()) != type->num_fields()) {
      return arrow::Status::Invalid("column '", path, "': ", data->child_data.size(),
                                    " child arrays, the type has ", type->num_fields());
    }
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

namespace {

bool IsDerivedTimeColumn(std::string_view name) {
  return name == column::kStartTime || name == column::kDurationNs;
}

// start_time (start_time_unix_nano / 1000, as timestamp[us, UTC]) or duration_ns
// (end − start, wrapping) from the exact nanosecond columns.
arrow::Result<std::shared_ptr<arrow::ArrayData>> DeriveTimeColumn(
    const arrow::RecordBatch& batch, std::string_view name,
    const std::shared_ptr<arrow::DataType>& type, arrow::MemoryPool* pool) {
  auto nanos = [&](std::string_view column_name)
      -> arrow::Result<std::shared_ptr<arrow::UInt64Array>> {
    const auto array = batch.GetColumnByName(std::string(column_name));
    if (array == nullptr) {
      return arrow::Status::Invalid("missing column '", column_name, "'");
    }
    if (array->type_id() != arrow::Type::UINT64) {
      return arrow::Status::Invalid("column '", column_name,
                                    "': expected type uint64, got ",
                                    array->type()->ToString());
    }
    // Read before the batch is validated as a whole: the length and buffer sizes first.
    if (array->length() != batch.num_rows()) {
      return arrow::Status::Invalid("column '", column_name, "': ", array->length(),
                                    " rows, the batch has ", batch.num_rows());
    }
    ARROW_RETURN_NOT_OK(array->Validate());
    return std::static_pointer_cast<arrow::UInt64Array>(array);
  };
  ARROW_ASSIGN_OR_RAISE(auto start, nanos(column::kStartTimeUnixNano));
  std::shared_ptr<arrow::UInt64Array> end;
  if (name == column::kDurationNs) {
    ARROW_ASSIGN_OR_RAISE(end, nanos(column::kEndTimeUnixNano));
  }
  const int64_t n = batch.num_rows();
  ARROW_ASSIGN_OR_RAISE(auto values, arrow::AllocateBuffer(n * sizeof(int64_t), pool));
  auto* out = reinterpret_cast<int64_t*>(values->mutable_data());
  const uint64_t* s = start->raw_values();
  if (end == nullptr) {
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<int64_t>(s[i] / 1000);
  } else {
    const uint64_t* e = end->raw_values();
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<int64_t>(e[i] - s[i]);
  }
  // Nulls in the nanosecond columns are refused by ValidateSpanTable; the derived
  // values of such rows are never stored.
  return arrow::ArrayData::Make(type, n, {nullptr, std::move(values)}, 0);
}

}  // namespace

arrow::Result<std::shared_ptr<arrow::RecordBatch>> ConformToSpanTableSchema(
    const arrow::RecordBatch& batch, arrow::MemoryPool* pool) {
  const auto& schema = SpanTableSchema();
  const auto& got = *batch.schema();
  std::vector<std::shared_ptr<arrow::ArrayData>> columns;
  columns.reserve(schema->num_fields());
  int found = 0;
  for (int i = 0; i < schema->num_fields(); ++i) {
    const auto& field = schema->field(i);
    const auto indices = got.GetAllFieldIndices(field->name());
    if (indices.size() > 1) {
      return arrow::Status::Invalid("duplicate column '", field->name(), "'");
    }
    if (indices.empty()) {
      if (!IsDerivedTimeColumn(field->name())) {
        return arrow::Status::Invalid("missing column '", field->name(), "' of type ",
                                      field->type()->ToString());
      }
      ARROW_ASSIGN_OR_RAISE(auto derived,
                            DeriveTimeColumn(batch, field->name(), field->type(), pool));
      columns.push_back(std::move(derived));
      continue;
    }
    ++found;
    const int index = indices[0];
    ARROW_RETURN_NOT_OK(
        CheckSpanTableType(*got.field(index)->type(), *field->type(), field->name()));
    ARROW_ASSIGN_OR_RAISE(auto column, Conform(batch.column_data(index), field->type(),
                                               field->name(), pool));
    columns.push_back(std::move(column));
  }
  if (found != got.num_fields()) {
    for (const auto& field : got.fields()) {
      if (schema->GetFieldIndex(field->name()) < 0) {
        return arrow::Status::Invalid("unknown column '", field->name(), "'");
      }
    }
  }
  return arrow::RecordBatch::Make(schema, batch.num_rows(), std::move(columns));
}

std::shared_ptr<arrow::RecordBatch> WithoutDerivedTimeColumns(
    const arrow::RecordBatch& batch) {
  arrow::FieldVector fields;
  std::vector<std::shared_ptr<arrow::ArrayData>> columns;
  for (int i = 0; i < batch.num_columns(); ++i) {
    const auto& field = batch.schema()->field(i);
    if (IsDerivedTimeColumn(field->name())) continue;
    fields.push_back(field);
    columns.push_back(batch.column_data(i));
  }
  return arrow::RecordBatch::Make(
      arrow::schema(std::move(fields), batch.schema()->metadata()), batch.num_rows(),
      std::move(columns));
}

namespace {

// `*type` and `*data` with every dictionary that holds no value replaced by a column of
// its value type (every slot null, as every index of an empty dictionary must be).
// Returns whether anything changed; untouched parts are shared.
arrow::Result<bool> PlainEmptyDictionaries(std::shared_ptr<arrow::DataType>* type,
                                           std::shared_ptr<arrow::ArrayData>* data) {
  const arrow::ArrayData& in = **data;
  switch ((*type)->id()) {
    case arrow::Type::DICTIONARY: {
      if (in.dictionary == nullptr || in.dictionary->length != 0 ||
          in.GetNullCount() != in.length) {
        return false;
      }
      const auto& value_type =
          arrow::internal::checked_cast<const arrow::DictionaryType&>(**type)
              .value_type();
      ARROW_ASSIGN_OR_RAISE(auto nulls, arrow::MakeArrayOfNull(value_type, in.length));
      *type = value_type;
      *data = nulls->data();
      return true;
    }
    case arrow::Type::STRUCT:
    case arrow::Type::LIST:
    case arrow::Type::MAP:
      break;
    default:
      return false;
  }
  // A map's data has one child, its entries struct<key, value>: rewrite that struct's
  // children and make the map type from the new key and value fields.
  const bool is_map = (*type)->id() == arrow::Type::MAP;
  const arrow::DataType& fields_of = is_map ? *(*type)->field(0)->type() : **type;
  const arrow::ArrayData& children_of = is_map ? *in.child_data[0] : in;
  arrow::FieldVector fields = fields_of.fields();
  std::vector<std::shared_ptr<arrow::ArrayData>> children = children_of.child_data;
  bool changed = false;
  for (size_t i = 0; i < fields.size(); ++i) {
    auto child_type = fields[i]->type();
    ARROW_ASSIGN_OR_RAISE(const bool child_changed,
                          PlainEmptyDictionaries(&child_type, &children[i]));
    if (child_changed) fields[i] = fields[i]->WithType(std::move(child_type));
    changed |= child_changed;
  }
  if (!changed) return false;
  auto out = std::make_shared<arrow::ArrayData>(in);
  if (is_map) {
    const auto& map_type = arrow::internal::checked_cast<const arrow::MapType&>(**type);
    *type =
        std::make_shared<arrow::MapType>(fields[0], fields[1], map_type.keys_sorted());
    auto entries = std::make_shared<arrow::ArrayData>(children_of);
    entries->type = (*type)->field(0)->type();
    entries->child_data = std::move(children);
    out->child_data = {std::move(entries)};
  } else {
    *type = (*type)->id() == arrow::Type::LIST ? arrow::list(fields[0])
                                               : arrow::struct_(fields);
    out->child_data = std::move(children);
  }
  out->type = *type;
  *data = std::move(out);
  return true;
}

}  // namespace

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WithoutEmptyDictionaries(
    const arrow::RecordBatch& batch) {
  arrow::FieldVector fields = batch.schema()->fields();
  std::vector<std::shared_ptr<arrow::ArrayData>> columns = batch.column_data();
  for (size_t i = 0; i < fields.size(); ++i) {
    auto type = fields[i]->type();
    ARROW_ASSIGN_OR_RAISE(const bool changed, PlainEmptyDictionaries(&type, &columns[i]));
    if (changed) fields[i] = fields[i]->WithType(std::move(type));
  }
  return arrow::RecordBatch::Make(
      arrow::schema(std::move(fields), batch.schema()->metadata()), batch.num_rows(),
      std::move(columns));
}

}  // namespace otlp_arrow::convert
