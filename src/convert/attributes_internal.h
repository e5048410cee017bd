// SPDX-License-Identifier: Apache-2.0
// Attribute lists as map<utf8, struct<type, str, int, double, bool, bytes, ser>>: the
// builder the encoder appends to, and the typed view the decoder reads from.

#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <arrow/array.h>
#include <arrow/status.h>

#include "column_writers_internal.h"
#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/model/otlp.h"
#include "proto_writer_internal.h"

namespace otlp_arrow::convert::internal {

using KeyValues = google::protobuf::RepeatedPtrField<otlp::KeyValue>;

/// \brief Writes OTLP attribute lists as a map column (see column_writers_internal.h for
/// why not ArrayBuilders).
class AttributesWriter {
 public:
  explicit AttributesWriter(arrow::MemoryPool* pool);

  /// \brief Appends one map slot holding `attributes` in order. `path` names the OTLP
  /// field for error messages and is only evaluated on error.
  template <typename PathFn>
  arrow::Status Append(const KeyValues& attributes, PathFn&& path) {
    for (int i = 0; i < attributes.size(); ++i) {
      const otlp::KeyValue& kv = attributes[i];
      if (ARROW_PREDICT_FALSE(kv.key_strindex() != 0)) {
        return arrow::Status::Invalid(path(), ".attributes[", i,
                                      "]: key_strindex is only valid in profiles");
      }
      key_.Append(kv.key());
      ARROW_RETURN_NOT_OK(AppendValue(kv.value(), [&] {
        return std::string(path()) + ".attributes[" + std::to_string(i) + "]";
      }));
    }
    entries_ += attributes.size();
    offsets_.Append(entries_);
    return arrow::Status::OK();
  }

  /// \brief Appends `attributes` to `count` slots: encoded once, then copied.
  template <typename PathFn>
  arrow::Status AppendRepeated(const KeyValues& attributes, int64_t count,
                               PathFn&& path) {
    if (count == 0) return arrow::Status::OK();
    if (attributes.empty()) {
      offsets_.AppendEmpty(count);
      return arrow::Status::OK();
    }
    const int64_t begin = entries_;
    ARROW_RETURN_NOT_OK(Append(attributes, path));
    const int64_t end = entries_;
    const int64_t times = count - 1;
    key_.RepeatRange(begin, end, times);
    type_.RepeatRange(begin, end, times);
    str_.RepeatRange(begin, end, times);
    int_.RepeatRange(begin, end, times);
    double_.RepeatRange(begin, end, times);
    bool_.RepeatRange(begin, end, times);
    bytes_.RepeatRange(begin, end, times);
    ser_.RepeatRange(begin, end, times);
    for (int64_t t = 0; t < times; ++t) {
      entries_ += end - begin;
      offsets_.Append(entries_);
    }
    return arrow::Status::OK();
  }

  /// \brief The finished map column (AttributesType()); resets for the next batch.
  arrow::Result<std::shared_ptr<arrow::ArrayData>> Finish();

 private:
  template <typename PathFn>
  arrow::Status AppendValue(const otlp::AnyValue& value, PathFn&& path);
  arrow::Status AppendSerialized(const otlp::AnyValue& value);

  // One null in every value child except the one named by the type.
  void NullsExcept(AttributeType type) {
    if (type != AttributeType::kString) str_.AppendNull();
    if (type != AttributeType::kInt) int_.AppendNull();
    if (type != AttributeType::kDouble) double_.AppendNull();
    if (type != AttributeType::kBool) bool_.AppendNull();
    if (type != AttributeType::kBytes) bytes_.AppendNull();
    if (type != AttributeType::kArray && type != AttributeType::kKvlist)
      ser_.AppendNull();
    type_.Append(static_cast<uint8_t>(type));
  }

  arrow::MemoryPool* pool_;
  int64_t entries_ = 0;
  OffsetsWriter offsets_;
  StringWriter key_;
  FixedWriter<uint8_t> type_;
  StringWriter str_;
  FixedWriter<int64_t> int_;
  FixedWriter<double> double_;
  BoolWriter bool_;
  StringWriter bytes_;
  StringWriter ser_;
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

  /// \brief Writes slot `row` as repeated KeyValue field `field` of the message being
  /// written back to front (the wire form Decode() + SerializeAsString() would give).
  arrow::Status WriteProto(int64_t row, uint32_t field, ReverseProtoWriter* writer) const;

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

// --- implementation of the templates
// --------------------------------------------------------

template <typename PathFn>
arrow::Status AttributesWriter::AppendValue(const otlp::AnyValue& value, PathFn&& path) {
  using C = otlp::AnyValue::ValueCase;
  switch (value.value_case()) {
    case C::kStringValue:
      str_.Append(value.string_value());
      NullsExcept(AttributeType::kString);
      return arrow::Status::OK();
    case C::kIntValue:
      int_.Append(value.int_value());
      NullsExcept(AttributeType::kInt);
      return arrow::Status::OK();
    case C::kDoubleValue:
      double_.Append(value.double_value());
      NullsExcept(AttributeType::kDouble);
      return arrow::Status::OK();
    case C::kBoolValue:
      bool_.Append(value.bool_value());
      NullsExcept(AttributeType::kBool);
      return arrow::Status::OK();
    case C::kBytesValue:
      bytes_.Append(value.bytes_value());
      NullsExcept(AttributeType::kBytes);
      return arrow::Status::OK();
    case C::kArrayValue:
    case C::kKvlistValue:
      return AppendSerialized(value);
    case C::kStringValueStrindex:
      return arrow::Status::Invalid(path(),
                                    ": string_value_strindex is only valid in profiles");
    case C::VALUE_NOT_SET:
      break;
  }
  NullsExcept(AttributeType::kEmpty);
  return arrow::Status::OK();
}

}  // namespace otlp_arrow::convert::internal
