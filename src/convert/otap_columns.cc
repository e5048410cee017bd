// SPDX-License-Identifier: Apache-2.0

#include <string_view>
#include <unordered_set>

#include <arrow/array/validate.h>
#include <arrow/type.h>
#include <arrow/util/checked_cast.h>

#include "otap_columns_internal.h"

namespace otlp_arrow::convert::internal {

namespace {

const char* KindName(OtapKind kind) {
  switch (kind) {
    case OtapKind::kUtf8:
      return "utf8";
    case OtapKind::kBinary:
      return "binary";
    case OtapKind::kFixedBinary8:
      return "fixed_size_binary[8]";
    case OtapKind::kFixedBinary16:
      return "fixed_size_binary[16]";
    case OtapKind::kInt32:
      return "int32";
    case OtapKind::kInt64:
      return "int64";
    case OtapKind::kUInt8:
      return "uint8";
    case OtapKind::kUInt16:
      return "uint16";
    case OtapKind::kUInt32:
      return "uint32";
    case OtapKind::kUnsigned:
      return "an unsigned integer";
    case OtapKind::kDouble:
      return "double";
    case OtapKind::kBool:
      return "bool";
    case OtapKind::kDurationNs:
      return "duration[ns]";
    case OtapKind::kTimestampNs:
      return "timestamp[ns]";
  }
  return "?";
}

bool Matches(const arrow::DataType& type, OtapKind kind) {
  using T = arrow::Type;
  switch (kind) {
    case OtapKind::kUtf8:
      return type.id() == T::STRING;
    case OtapKind::kBinary:
      return type.id() == T::BINARY;
    case OtapKind::kFixedBinary8:
    case OtapKind::kFixedBinary16:
      return type.id() == T::FIXED_SIZE_BINARY &&
             arrow::internal::checked_cast<const arrow::FixedSizeBinaryType&>(type)
                     .byte_width() == (kind == OtapKind::kFixedBinary8 ? 8 : 16);
    case OtapKind::kInt32:
      return type.id() == T::INT32;
    case OtapKind::kInt64:
      return type.id() == T::INT64;
    case OtapKind::kUInt8:
      return type.id() == T::UINT8;
    case OtapKind::kUInt16:
      return type.id() == T::UINT16;
    case OtapKind::kUInt32:
      return type.id() == T::UINT32;
    case OtapKind::kUnsigned:
      return type.id() == T::UINT8 || type.id() == T::UINT16 || type.id() == T::UINT32 ||
             type.id() == T::UINT64;
    case OtapKind::kDouble:
      return type.id() == T::DOUBLE;
    case OtapKind::kBool:
      return type.id() == T::BOOL;
    case OtapKind::kDurationNs:
      return type.id() == T::DURATION &&
             arrow::internal::checked_cast<const arrow::DurationType&>(type).unit() ==
                 arrow::TimeUnit::NANO;
    case OtapKind::kTimestampNs:
      return type.id() == T::TIMESTAMP &&
             arrow::internal::checked_cast<const arrow::TimestampType&>(type).unit() ==
                 arrow::TimeUnit::NANO;
  }
  return false;
}

const uint8_t* Validity(const arrow::ArrayData& data) {
  return data.null_count == 0 || data.buffers[0] == nullptr ? nullptr
                                                            : data.buffers[0]->data();
}

// Whether a utf8 or binary array holds no value twice (nulls apart): then equal
// dictionary indices and equal strings are the same thing.
bool DistinctStrings(const arrow::Array& values) {
  if (values.type_id() != arrow::Type::STRING &&
      values.type_id() != arrow::Type::BINARY) {
    return false;
  }
  const auto& strings = arrow::internal::checked_cast<const arrow::BinaryArray&>(values);
  std::unordered_set<std::string_view> seen;
  seen.reserve(static_cast<size_t>(strings.length()));
  for (int64_t i = 0; i < strings.length(); ++i) {
    if (strings.IsValid(i) && !seen.insert(strings.GetView(i)).second) return false;
  }
  return true;
}

}  // namespace

arrow::Status BindStruct(const arrow::RecordBatch& batch, const std::string& payload,
                         const std::string& name, const arrow::StructArray** out) {
  *out = nullptr;
  const auto& schema = *batch.schema();
  const auto indices = schema.GetAllFieldIndices(name);
  if (indices.empty()) return arrow::Status::OK();
  if (indices.size() > 1) {
    return arrow::Status::Invalid(payload, " column '", name, "': appears ",
                                  indices.size(), " times");
  }
  const auto& column = batch.column(indices[0]);
  if (column->type_id() != arrow::Type::STRUCT) {
    return arrow::Status::Invalid(payload, " column '", name,
                                  "': expected a struct, got ",
                                  column->type()->ToString());
  }
  const arrow::Status valid = column->Validate();
  if (!valid.ok()) {
    return arrow::Status::Invalid(payload, " column '", name, "': ", valid.message());
  }
  *out = arrow::internal::checked_cast<const arrow::StructArray*>(column.get());
  return arrow::Status::OK();
}

arrow::Status OtapColumn::Bind(const arrow::RecordBatch& batch,
                               const std::string& payload, const std::string& name,
                               OtapKind kind, OtapValidatedDictionaries* validated) {
  *this = OtapColumn();
  name_ = {payload, name};
  const auto indices = batch.schema()->GetAllFieldIndices(name);
  if (indices.empty()) return arrow::Status::OK();
  if (indices.size() > 1) {
    return arrow::Status::Invalid(name_.Prefix(), ": appears ", indices.size(), " times");
  }
  return BindArray(batch.column(indices[0]), kind, validated);
}

arrow::Status OtapColumn::BindChild(const arrow::StructArray* parent,
                                    const std::string& payload,
                                    const std::string& parent_name,
                                    const std::string& name, OtapKind kind,
                                    OtapValidatedDictionaries* validated) {
  *this = OtapColumn();
  name_ = {payload, parent_name + "." + name};
  if (parent == nullptr) return arrow::Status::OK();
  const auto& type = *parent->struct_type();
  const auto indices = type.GetAllFieldIndices(name);
  if (indices.empty()) return arrow::Status::OK();
  if (indices.size() > 1) {
    return arrow::Status::Invalid(name_.Prefix(), ": appears ", indices.size(), " times");
  }
  // field() applies the struct's offset to the child.
  ARROW_RETURN_NOT_OK(BindArray(parent->field(indices[0]), kind, validated));
  parent_validity_ = Validity(*parent->data());
  parent_offset_ = parent->offset();
  return arrow::Status::OK();
}

arrow::Status OtapColumn::BindArray(const std::shared_ptr<arrow::Array>& array,
                                    OtapKind kind, OtapValidatedDictionaries* validated) {
  const arrow::Array* values = array.get();
  if (array->type_id() == arrow::Type::DICTIONARY) {
    const auto& dict_type =
        arrow::internal::checked_cast<const arrow::DictionaryType&>(*array->type());
    if (!Matches(*dict_type.value_type(), kind)) {
      return arrow::Status::Invalid(name_.Prefix(), ": expected ", KindName(kind),
                                    " or a dictionary of it, got ",
                                    array->type()->ToString());
    }
    const auto& dict_array =
        arrow::internal::checked_cast<const arrow::DictionaryArray&>(*array);
    const arrow::Status valid = dict_array.indices()->Validate();
    if (!valid.ok()) return arrow::Status::Invalid(name_.Prefix(), ": ", valid.message());
    dictionary_ = dict_array.dictionary();
    const std::string column = name_.Prefix();
    if (!validated->Contains(column, dictionary_->data().get(), &unique_values_)) {
      const arrow::Status status = dictionary_->ValidateFull();
      if (!status.ok()) {
        return arrow::Status::Invalid(column, " dictionary: ", status.message());
      }
      unique_values_ = DistinctStrings(*dictionary_);
      validated->Add(column, dictionary_->data(), unique_values_);
    }
    values = dictionary_.get();
    const auto& indices = *dict_array.indices()->data();
    index_width_ = dict_type.index_type()->byte_width();
    // Validate() has checked the buffer's size against the length; a zero-length
    // column may come without one.
    indices_ = indices.buffers[1] != nullptr
                   ? indices.buffers[1]->data() + indices.offset * index_width_
                   : nullptr;
    outer_validity_ = Validity(indices);
    outer_offset_ = indices.offset;
    const uint64_t length = static_cast<uint64_t>(dictionary_->length());
    const int64_t values_nulls = dictionary_->null_count();
    for (int64_t row = 0; row < array->length(); ++row) {
      if (outer_validity_ != nullptr &&
          !arrow::bit_util::GetBit(outer_validity_, outer_offset_ + row)) {
        continue;
      }
      if (static_cast<uint64_t>(Index(row)) >= length) {
        return arrow::Status::Invalid(
            name_.Row(row), ": dictionary index ", static_cast<int64_t>(Index(row)),
            " out of range (the dictionary has ", length, " values)");
      }
    }
    if (values_nulls != 0) values_validity_ = Validity(*dictionary_->data());
  } else {
    if (!Matches(*array->type(), kind)) {
      return arrow::Status::Invalid(name_.Prefix(), ": expected ", KindName(kind),
                                    " or a dictionary of it, got ",
                                    array->type()->ToString());
    }
    const arrow::Status status = array->ValidateFull();
    if (!status.ok())
      return arrow::Status::Invalid(name_.Prefix(), ": ", status.message());
    outer_validity_ = Validity(*array->data());
    outer_offset_ = array->offset();
    // The values are the array itself: their validity is the outer one.
  }
  values_ = values;
  const auto& data = *values->data();
  values_offset_ = data.offset;
  switch (values->type_id()) {
    case arrow::Type::STRING:
    case arrow::Type::BINARY:
      offsets_ = data.GetValues<int32_t>(1, 0);
      data_ = data.buffers[2] != nullptr ? data.buffers[2]->data()
                                         : reinterpret_cast<const uint8_t*>("");
      break;
    case arrow::Type::BOOL:
      data_ = data.buffers[1] != nullptr ? data.buffers[1]->data()
                                         : reinterpret_cast<const uint8_t*>("");
      break;
    default:
      width_ = values->type()->byte_width();
      data_ = data.buffers[1] != nullptr ? data.buffers[1]->data()
                                         : reinterpret_cast<const uint8_t*>("");
      break;
  }
  if (!has_index()) {
    // Plain: a slot's own validity is the outer one, already set.
    values_validity_ = nullptr;
  }
  return arrow::Status::OK();
}

}  // namespace otlp_arrow::convert::internal
