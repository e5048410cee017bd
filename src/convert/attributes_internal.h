// SPDX-License-Identifier: Apache-2.0
// Attribute lists as map<utf8, struct<type, str, int, double, bool, bytes, ser>>: the
// builder the encoder appends to, and the typed view the decoder reads from.

#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/array.h>
#include <arrow/status.h>

#include "column_writers_internal.h"
#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/model/otlp.h"

namespace otlp_arrow::convert::internal {

using KeyValues = google::protobuf::RepeatedPtrField<otlp::KeyValue>;

/// \brief An OTLP field path for error messages
/// ("resource_spans[0].scope_spans[1].spans[7]"), built on the stack as a chain and
/// turned into a string only when an error is reported.
struct FieldPath {
  const FieldPath* parent = nullptr;
  const char* name = "";
  int64_t index = -1;  ///< -1 for a field that is not repeated

  std::string ToString() const {
    std::string out = parent != nullptr ? parent->ToString() + "." : std::string();
    out += name;
    if (index >= 0) out += "[" + std::to_string(index) + "]";
    return out;
  }
};

/// \brief Writes OTLP attribute lists as a map column (see column_writers_internal.h for
/// why not ArrayBuilders).
///
/// Each attribute appends its key, its type code and its value to a compact list of its
/// own type only. The struct's children — one slot per attribute, null except where the
/// type matches — are expanded from the type codes in one pass at Finish(). That is 3
/// appends per attribute instead of 14 (a value or a null, plus validity, for each of
/// seven children).
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
      key_.Append(KeyIndex(kv.key()));
      ARROW_RETURN_NOT_OK(AppendValue(kv.value(), [&] {
        return std::string(path()) + ".attributes[" + std::to_string(i) + "]";
      }));
    }
    offsets_.Append(type_.size());
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
    const Sizes begin = sizes();
    ARROW_RETURN_NOT_OK(Append(attributes, path));
    RepeatSlot(begin, count - 1);
    return arrow::Status::OK();
  }

  /// \brief Wire-format input (OTLP bytes, no protobuf objects): appends one KeyValue to
  /// the open slot; CloseSlot() ends the slot. `where` names the field for errors.
  arrow::Status AppendWireEntry(std::string_view key_value, const FieldPath& where);
  void CloseSlot() { offsets_.Append(type_.size()); }

  /// \brief Wire-format AppendRepeated: one slot of `key_values`, copied to `count`
  /// slots.
  arrow::Status AppendWireRepeated(const std::vector<std::string_view>& key_values,
                                   int64_t count, const FieldPath& where);

  /// \brief Checkpoints (see column_writers_internal.h).
  void SaveMark(Marks* marks) const {
    offsets_.SaveMark(marks);
    key_.SaveMark(marks);
    key_dict_.SaveMark(marks);
    type_.SaveMark(marks);
    str_.SaveMark(marks);
    str_dict_.SaveMark(marks);
    int_.SaveMark(marks);
    double_.SaveMark(marks);
    bool_.SaveMark(marks);
    bytes_.SaveMark(marks);
    ser_.SaveMark(marks);
  }
  /// The hints may then point past a dictionary's end; IndexOf() checks them.
  void Rollback(MarkReader* marks) {
    offsets_.Rollback(marks);
    key_.Rollback(marks);
    key_dict_.Rollback(marks);
    type_.Rollback(marks);
    str_.Rollback(marks);
    str_dict_.Rollback(marks);
    int_.Rollback(marks);
    double_.Rollback(marks);
    bool_.Rollback(marks);
    bytes_.Rollback(marks);
    ser_.Rollback(marks);
  }
  /// \brief About the bytes of the finished column: per entry its type, key index and
  /// a slot in each value child (string index, int64, double, bool, the offsets of
  /// bytes and serialized values) with their validity bits; plus the dictionaries and
  /// the characters of bytes and serialized values.
  int64_t bytes() const {
    constexpr int64_t kBytesPerEntry = 1 + 4 + 4 + 8 + 8 + 4 + 4 + 1;
    return offsets_.bytes() + key_dict_.bytes() + str_dict_.bytes() + bytes_.bytes() +
           ser_.bytes() + type_.size() * kBytesPerEntry;
  }
  /// \brief False after a failed allocation, or past what 32-bit offsets reach.
  bool ok() const {
    return offsets_.ok() && key_.status().ok() && key_dict_.ok() && type_.status().ok() &&
           str_.status().ok() && str_dict_.ok() && int_.status().ok() &&
           double_.status().ok() && bool_.status().ok() && bytes_.ok() && ser_.ok() &&
           type_.size() <= std::numeric_limits<int32_t>::max();
  }

  /// \brief The finished map column (AttributesType()); resets for the next batch.
  arrow::Result<std::shared_ptr<arrow::ArrayData>> Finish();

  /// \brief Appends for encoders without OTLP objects (OTAP): per entry AppendKey()
  /// then one Append*Value(); CloseSlot() ends the slot.
  void AppendKey(std::string_view key) { key_.Append(KeyIndex(key)); }
  void AppendEmptyValue() { type_.Append(static_cast<uint8_t>(AttributeType::kEmpty)); }
  void AppendStrValue(std::string_view value) {
    str_.Append(StrIndex(value));
    type_.Append(static_cast<uint8_t>(AttributeType::kString));
  }
  void AppendIntValue(int64_t value) {
    int_.Append(value);
    type_.Append(static_cast<uint8_t>(AttributeType::kInt));
  }
  void AppendDoubleValue(double value) {
    double_.Append(value);
    type_.Append(static_cast<uint8_t>(AttributeType::kDouble));
  }
  void AppendBoolValue(bool value) {
    bool_.Append(value ? 1 : 0);
    type_.Append(static_cast<uint8_t>(AttributeType::kBool));
  }
  void AppendBytesValue(std::string_view value) {
    bytes_.Append(value);
    type_.Append(static_cast<uint8_t>(AttributeType::kBytes));
  }
  /// \brief `json`: the OTLP/JSON of an ArrayValue (kArray) or a KeyValueList (kKvlist),
  /// as model::ArrayValueToJson / KeyValueListToJson write it.
  void AppendSerializedValue(AttributeType type, std::string_view json) {
    ser_.Append(json);
    type_.Append(static_cast<uint8_t>(type));
  }
  /// \brief `count` empty slots.
  void AppendEmptySlots(int64_t count) { offsets_.AppendEmpty(count); }

  struct Sizes {
    int64_t entries, str, i64, f64, b, bytes, ser;
  };
  Sizes sizes() const {
    return {type_.size(), str_.size(),     int_.size(),  double_.size(),
            bool_.size(), bytes_.length(), ser_.length()};
  }
  /// \brief Copies the slot written since `begin` (sizes() then) `times` more times.
  void RepeatSlot(const Sizes& begin, int64_t times) {
    const Sizes end = sizes();
    key_.RepeatRange(begin.entries, end.entries, times);
    type_.RepeatRange(begin.entries, end.entries, times);
    str_.RepeatRange(begin.str, end.str, times);
    int_.RepeatRange(begin.i64, end.i64, times);
    double_.RepeatRange(begin.f64, end.f64, times);
    bool_.RepeatRange(begin.b, end.b, times);
    bytes_.RepeatRange(begin.bytes, end.bytes, times);
    ser_.RepeatRange(begin.ser, end.ser, times);
    for (int64_t t = 1; t <= times; ++t) {
      offsets_.Append(end.entries + t * (end.entries - begin.entries));
    }
  }

 private:
  arrow::Status AppendWireValue(std::string_view any_value, const FieldPath& where);

  // Dictionary indices of keys and string values, with a hint per position in the
  // attribute list: the same keys (and often values) come at the same positions span
  // after span, and a hit costs one comparison instead of a hash lookup.
  static constexpr size_t kHints = 32;
  size_t Position() const {
    return static_cast<size_t>(type_.size() - offsets_.last()) & (kHints - 1);
  }
  int32_t KeyIndex(std::string_view key) {
    return key_dict_.IndexOf(key, &key_hint_[Position()]);
  }
  // Values: the last value at this position, then the last string value of any
  // position (one value on every attribute of a span).
  int32_t StrIndex(std::string_view value) {
    return last_str_ = str_dict_.IndexOf(value, &str_hint_[Position()], last_str_);
  }

  template <typename PathFn>
  arrow::Status AppendValue(const otlp::AnyValue& value, PathFn&& path);
  arrow::Status AppendSerialized(const otlp::AnyValue& value);

  arrow::MemoryPool* pool_;
  OffsetsWriter offsets_;
  PodBuffer<int32_t> key_;  // one per entry: index into key_dict_
  StringDictionary key_dict_;
  PodBuffer<uint8_t> type_;  // one per entry
  PodBuffer<int32_t> str_;   // compact: only the string values, indices into str_dict_
  StringDictionary str_dict_;
  std::array<int32_t, kHints> key_hint_;
  std::array<int32_t, kHints> str_hint_;
  int32_t last_str_ = -1;
  PodBuffer<int64_t> int_;    // compact: only the int values
  PodBuffer<double> double_;  // compact: only the double values
  PodBuffer<uint8_t> bool_;   // compact: only the bool values
  StringWriter bytes_;        // compact: only the bytes values
  StringWriter ser_;          // compact: only the arrays and kvlists, as OTLP/JSON
  std::string scratch_;
};

/// \brief Whether `s` is valid UTF-8, by Arrow's validator.
bool ValidUtf8Text(std::string_view s);

/// \brief Whether `s` is valid UTF-8 (proto3 strings must be). Inline because the
/// encoder checks every attribute key and string value: they are short and nearly always
/// ASCII, which a few word loads settle; other text goes to ValidUtf8Text().
inline bool ValidUtf8(std::string_view s) {
  const char* data = s.data();
  const size_t size = s.size();
  uint64_t high_bits = 0;
  if (size >= 8) {
    uint64_t word;
    for (size_t i = 0; i + 8 <= size; i += 8) {
      std::memcpy(&word, data + i, 8);
      high_bits |= word;
    }
    std::memcpy(&word, data + size - 8, 8);  // the tail, overlapping the last word
    high_bits |= word;
  } else {
    for (size_t i = 0; i < size; ++i) high_bits |= static_cast<uint8_t>(data[i]);
  }
  if ((high_bits & 0x8080808080808080ULL) == 0) return true;
  return ValidUtf8Text(s);
}

/// \brief The string value of the `service.name` attribute among wire-format KeyValues,
/// or an empty view.
std::string_view ServiceNameFromWire(const std::vector<std::string_view>& key_values);

/// \brief A utf8 column that may arrive plain or as dictionary<int, utf8> (the span
/// table's encoding of attribute keys and string values, and of strings shared by a
/// resource or scope). Null reads as "" (proto3).
class StringColumn {
 public:
  /// \brief Binds `array`; anything but utf8 or a dictionary of utf8 is an error naming
  /// `name`. A dictionary must not hold nulls (a null is a null index).
  arrow::Status Bind(const std::shared_ptr<arrow::Array>& array, const std::string& name);

  std::string_view View(int64_t i) const {
    if (plain_ != nullptr) {
      return plain_->IsNull(i) ? std::string_view() : plain_->GetView(i);
    }
    if (array_->IsNull(i)) return {};
    return values_->GetView(int32_indices_ != nullptr ? int32_indices_[i]
                                                      : dict_->GetValueIndex(i));
  }
  bool IsValid(int64_t i) const { return array_->IsValid(i); }
  const arrow::Array& array() const { return *array_; }

  /// \brief View(a) == View(b), without looking the strings up when two int32
  /// dictionary indices are equal (the rows of one resource or scope).
  bool Equal(int64_t a, int64_t b) const {
    if (int32_indices_ != nullptr && int32_indices_[a] == int32_indices_[b] &&
        array_->IsValid(a) && array_->IsValid(b)) {
      return true;
    }
    return View(a) == View(b);
  }

  /// \brief Whether the `n` values from `a0` and from `b0` are the same, compared as
  /// blocks: the lengths and characters of plain strings, or the int32 indices of a
  /// dictionary. False may still mean equal values (stored differently); nulls are
  /// not looked at (the caller compares validity).
  bool SameRuns(int64_t a0, int64_t b0, int64_t n) const;

 private:
  const arrow::Array* array_ = nullptr;
  const arrow::StringArray* plain_ = nullptr;
  const arrow::DictionaryArray* dict_ = nullptr;
  const arrow::StringArray* values_ = nullptr;
  const int32_t* int32_indices_ = nullptr;
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
  /// Whether every entry in [first, last) has a key, a known type and its value: the
  /// fast check; ValidateEntry() says what is wrong.
  bool EntriesValid(int64_t first, int64_t last) const;
  arrow::Status ValidateEntry(int64_t row, int64_t entry,
                              const arrow::StructArray& items) const;
  arrow::Status DecodeValue(int64_t entry, otlp::AnyValue* out) const;
  bool EntriesEqual(int64_t a, int64_t b) const;
  /// Whether the `n` entries from `a0` and from `b0` are the same bytes (which implies
  /// equal; unequal bytes may still be equal entries).
  bool SlotsIdentical(int64_t a0, int64_t b0, int64_t n) const;

  std::string name_;
  std::string row_label_;
  const arrow::MapArray* map_ = nullptr;
  StringColumn key_;
  const arrow::UInt8Array* type_ = nullptr;
  StringColumn str_;
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
  AttributeType type = AttributeType::kEmpty;
  switch (value.value_case()) {
    case C::kStringValue:
      str_.Append(StrIndex(value.string_value()));
      type = AttributeType::kString;
      break;
    case C::kIntValue:
      int_.Append(value.int_value());
      type = AttributeType::kInt;
      break;
    case C::kDoubleValue:
      double_.Append(value.double_value());
      type = AttributeType::kDouble;
      break;
    case C::kBoolValue:
      bool_.Append(value.bool_value() ? 1 : 0);
      type = AttributeType::kBool;
      break;
    case C::kBytesValue:
      bytes_.Append(value.bytes_value());
      type = AttributeType::kBytes;
      break;
    case C::kArrayValue:
    case C::kKvlistValue:
      return AppendSerialized(value);
    case C::kStringValueStrindex:
      return arrow::Status::Invalid(path(),
                                    ": string_value_strindex is only valid in profiles");
    case C::VALUE_NOT_SET:
      break;
  }
  type_.Append(static_cast<uint8_t>(type));
  return arrow::Status::OK();
}

}  // namespace otlp_arrow::convert::internal
