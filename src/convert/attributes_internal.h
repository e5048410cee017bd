// SPDX-License-Identifier: Apache-2.0
// Attribute lists as map<utf8, struct<type, str, int, double, bool, bytes, ser>>: the builder
// the encoder appends to, and the typed view the decoder reads from.

#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/status.h>

#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/model/otlp.h"

namespace otlp_arrow::convert::internal {

using KeyValues = google::protobuf::RepeatedPtrField<otlp::KeyValue>;

/// \brief Appends OTLP attribute lists to a map column. Keeps raw pointers to the child
/// builders so the per-attribute path makes no virtual calls or lookups.
class AttributesBuilder {
 public:
  explicit AttributesBuilder(arrow::MemoryPool* pool);

  /// \brief The map builder, to be owned by a parent builder or finished directly.
  const std::shared_ptr<arrow::MapBuilder>& builder() const { return map_; }

  /// \brief Appends one map slot holding `attributes` in order. `path` names the OTLP field
  /// for error messages and is only evaluated on error.
  template <typename PathFn>
  arrow::Status Append(const KeyValues& attributes, PathFn&& path) {
    ARROW_RETURN_NOT_OK(map_->Append());
    for (int i = 0; i < attributes.size(); ++i) {
      const otlp::KeyValue& kv = attributes[i];
      if (kv.key_strindex() != 0) {
        return arrow::Status::Invalid(path(), ".attributes[", i,
                                      "]: key_strindex is only valid in profiles");
      }
      ARROW_RETURN_NOT_OK(key_->Append(kv.key()));
      ARROW_RETURN_NOT_OK(AppendValue(kv.value(), [&] {
        return std::string(path()) + ".attributes[" + std::to_string(i) + "]";
      }));
    }
    return arrow::Status::OK();
  }

  /// \brief Appends `count` copies of row `row` of a finished map array of this type.
  arrow::Status AppendCopies(const arrow::ArrayData& source, int64_t row, int64_t count);

 private:
  template <typename PathFn>
  arrow::Status AppendValue(const otlp::AnyValue& value, PathFn&& path);
  arrow::Status AppendSerialized(const otlp::AnyValue& value);

  std::shared_ptr<arrow::MapBuilder> map_;
  arrow::StringBuilder* key_;
  arrow::StructBuilder* value_;
  arrow::UInt8Builder* type_;
  arrow::StringBuilder* str_;
  arrow::Int64Builder* int_;
  arrow::DoubleBuilder* double_;
  arrow::BooleanBuilder* bool_;
  arrow::BinaryBuilder* bytes_;
  arrow::StringBuilder* ser_;
  std::string scratch_;
};

/// \brief Typed, validated view of a map column of attributes.
class AttributesColumn {
 public:
  /// \brief Binds and validates `array` (already type-checked against AttributesType()).
  /// `name` is the column path and `row_label` what one slot is ("row", "event", "link"),
  /// both for error messages.
  arrow::Status Bind(const std::shared_ptr<arrow::Array>& array, std::string name,
                     std::string row_label);

  /// \brief Entries [begin, end) of the map slot at `row`.
  int64_t begin(int64_t row) const { return map_->value_offset(row); }
  int64_t end(int64_t row) const { return map_->value_offset(row + 1); }

  /// \brief Appends entries of slot `row` to `out`, in order.
  arrow::Status Decode(int64_t row, KeyValues* out) const;

  /// \brief Whether slots `a` and `b` hold the same attributes, bit for bit.
  bool SlotsEqual(int64_t a, int64_t b) const;

 private:
  arrow::Status ValidateEntry(int64_t row, int64_t entry,
                              const arrow::StructArray& items) const;
  arrow::Status DecodeValue(int64_t entry, otlp::AnyValue* out) const;
  bool EntriesEqual(int64_t a, int64_t b) const;

  std::string name_;
  std::string row_label_;
  const arrow::MapArray* map_ = nullptr;
  const arrow::StringArray* key_ = nullptr;
  const arrow::UInt8Array* type_ = nullptr;
  const arrow::StringArray* str_ = nullptr;
  const arrow::Int64Array* int_ = nullptr;
  const arrow::DoubleArray* double_ = nullptr;
  const arrow::BooleanArray* bool_ = nullptr;
  const arrow::BinaryArray* bytes_ = nullptr;
  const arrow::StringArray* ser_ = nullptr;
};

// --- implementation of the templates --------------------------------------------------------

template <typename PathFn>
arrow::Status AttributesBuilder::AppendValue(const otlp::AnyValue& value, PathFn&& path) {
  using C = otlp::AnyValue::ValueCase;
  ARROW_RETURN_NOT_OK(value_->Append());
  // Exactly one child holds the value; the others get a null, so all stay the same length.
  ARROW_RETURN_NOT_OK(type_->Reserve(1));
  ARROW_RETURN_NOT_OK(int_->Reserve(1));
  ARROW_RETURN_NOT_OK(double_->Reserve(1));
  ARROW_RETURN_NOT_OK(bool_->Reserve(1));
  switch (value.value_case()) {
    case C::kStringValue:
      type_->UnsafeAppend(static_cast<uint8_t>(AttributeType::kString));
      ARROW_RETURN_NOT_OK(str_->Append(value.string_value()));
      int_->UnsafeAppendNull();
      double_->UnsafeAppendNull();
      bool_->UnsafeAppendNull();
      ARROW_RETURN_NOT_OK(bytes_->AppendNull());
      return ser_->AppendNull();
    case C::kIntValue:
      type_->UnsafeAppend(static_cast<uint8_t>(AttributeType::kInt));
      ARROW_RETURN_NOT_OK(str_->AppendNull());
      int_->UnsafeAppend(value.int_value());
      double_->UnsafeAppendNull();
      bool_->UnsafeAppendNull();
      ARROW_RETURN_NOT_OK(bytes_->AppendNull());
      return ser_->AppendNull();
    case C::kDoubleValue:
      type_->UnsafeAppend(static_cast<uint8_t>(AttributeType::kDouble));
      ARROW_RETURN_NOT_OK(str_->AppendNull());
      int_->UnsafeAppendNull();
      double_->UnsafeAppend(value.double_value());
      bool_->UnsafeAppendNull();
      ARROW_RETURN_NOT_OK(bytes_->AppendNull());
      return ser_->AppendNull();
    case C::kBoolValue:
      type_->UnsafeAppend(static_cast<uint8_t>(AttributeType::kBool));
      ARROW_RETURN_NOT_OK(str_->AppendNull());
      int_->UnsafeAppendNull();
      double_->UnsafeAppendNull();
      bool_->UnsafeAppend(value.bool_value());
      ARROW_RETURN_NOT_OK(bytes_->AppendNull());
      return ser_->AppendNull();
    case C::kBytesValue:
      type_->UnsafeAppend(static_cast<uint8_t>(AttributeType::kBytes));
      ARROW_RETURN_NOT_OK(str_->AppendNull());
      int_->UnsafeAppendNull();
      double_->UnsafeAppendNull();
      bool_->UnsafeAppendNull();
      ARROW_RETURN_NOT_OK(bytes_->Append(value.bytes_value()));
      return ser_->AppendNull();
    case C::kArrayValue:
    case C::kKvlistValue:
      return AppendSerialized(value);
    case C::kStringValueStrindex:
      return arrow::Status::Invalid(path(),
                                    ": string_value_strindex is only valid in profiles");
    case C::VALUE_NOT_SET:
      break;
  }
  type_->UnsafeAppend(static_cast<uint8_t>(AttributeType::kEmpty));
  ARROW_RETURN_NOT_OK(str_->AppendNull());
  int_->UnsafeAppendNull();
  double_->UnsafeAppendNull();
  bool_->UnsafeAppendNull();
  ARROW_RETURN_NOT_OK(bytes_->AppendNull());
  return ser_->AppendNull();
}

}  // namespace otlp_arrow::convert::internal
