// SPDX-License-Identifier: Apache-2.0
// Typed views of the columns of a decoded OTAP record batch: found by name, plain or
// dictionary-encoded, checked once when bound so that reading a row cannot fail.

#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <arrow/array.h>
#include <arrow/record_batch.h>
#include <arrow/status.h>
#include <arrow/util/bit_util.h>
#include <arrow/util/macros.h>

namespace otlp_arrow::convert::internal {

/// \brief The value type a column must have (plain, or as a dictionary's values).
enum class OtapKind {
  kUtf8,
  kBinary,
  kFixedBinary8,
  kFixedBinary16,
  kInt32,
  kInt64,
  kUInt8,
  kUInt16,
  kUInt32,
  kUnsigned,  ///< uint8, uint16, uint32 or uint64 (attribute parent ids)
  kDouble,
  kBool,
  kDurationNs,
  kTimestampNs,  ///< any time zone
};

/// \brief The dictionary last checked for each column of a stream ("SPANS column
/// 'name'"): a stream's dictionaries stay the same objects from batch to batch until a
/// delta or a replacement arrives, so a batch does not validate them again. One entry
/// per column, so replaced dictionaries are not kept alive.
class OtapValidatedDictionaries {
 public:
  /// \brief Whether `data` is the dictionary last validated for `column`; if so,
  /// `*unique` says whether its values are distinct.
  bool Contains(const std::string& column, const arrow::ArrayData* data,
                bool* unique) const {
    auto it = last_.find(column);
    if (it == last_.end() || it->second.data.get() != data) return false;
    *unique = it->second.unique;
    return true;
  }
  void Add(const std::string& column, std::shared_ptr<arrow::ArrayData> data,
           bool unique) {
    last_[column] = {std::move(data), unique};
  }

 private:
  struct Entry {
    // Holding the data keeps its address from being reused by another dictionary.
    std::shared_ptr<arrow::ArrayData> data;
    bool unique = false;
  };
  std::unordered_map<std::string, Entry> last_;
};

/// \brief Names a place for error messages: "SPAN_ATTRS column 'parent_id'".
struct OtapColumnName {
  std::string payload;
  std::string column;  ///< "resource.id" for a struct child

  std::string Prefix() const { return payload + " column '" + column + "'"; }
  std::string Row(int64_t row) const { return Prefix() + " row " + std::to_string(row); }
};

/// \brief One column of an OTAP record (or a child of one of its struct columns):
/// absent (every row null), plain, or dictionary<any integer, value>. A null slot, a
/// null dictionary value and a null parent struct all read as null.
class OtapColumn {
 public:
  /// \brief Binds the column `name` of `batch` (absent is fine); checks its type, its
  /// values (offsets, UTF-8) and its dictionary indices. Errors name `payload`.
  arrow::Status Bind(const arrow::RecordBatch& batch, const std::string& payload,
                     const std::string& name, OtapKind kind,
                     OtapValidatedDictionaries* validated);

  /// \brief Binds the child `name` of the struct column `parent` (bound with
  /// BindStruct), whose nulls make the child null.
  arrow::Status BindChild(const arrow::StructArray* parent, const std::string& payload,
                          const std::string& parent_name, const std::string& name,
                          OtapKind kind, OtapValidatedDictionaries* validated);

  bool present() const { return values_ != nullptr; }
  const OtapColumnName& name() const { return name_; }

  ARROW_FORCE_INLINE bool IsValid(int64_t row) const {
    if (values_ == nullptr) return false;
    if (outer_validity_ != nullptr &&
        !arrow::bit_util::GetBit(outer_validity_, outer_offset_ + row)) {
      return false;
    }
    if (parent_validity_ != nullptr &&
        !arrow::bit_util::GetBit(parent_validity_, parent_offset_ + row)) {
      return false;
    }
    if (values_validity_ == nullptr) return true;
    return arrow::bit_util::GetBit(values_validity_, values_offset_ + Index(row));
  }

  /// \brief The row of the values array (the dictionary's for a dictionary column).
  ARROW_FORCE_INLINE int64_t Index(int64_t row) const {
    switch (index_width_) {
      case 0:
        return row;
      case 1:
        return static_cast<const uint8_t*>(indices_)[row];
      case 2:
        return static_cast<const uint16_t*>(indices_)[row];
      case 4:
        return static_cast<const uint32_t*>(indices_)[row];
      default:
        return static_cast<int64_t>(static_cast<const uint64_t*>(indices_)[row]);
    }
  }
  /// \brief Whether the column is dictionary-encoded.
  bool has_index() const { return index_width_ != 0; }

  /// \brief For a dictionary column without nulls (no null slot, no null value, no
  /// null parent) whose values are distinct: the number of values, so that Index() is
  /// the value itself and can index a table. 0 otherwise.
  int64_t distinct_dictionary_length() const {
    if (index_width_ == 0 || !unique_values_ || outer_validity_ != nullptr ||
        parent_validity_ != nullptr || values_validity_ != nullptr) {
      return 0;
    }
    return dictionary_->length();
  }

  /// rief View(a) == View(b), without reading the strings when both rows hold
  /// dictionary indices (equal, or different in a dictionary of distinct values).
  ARROW_FORCE_INLINE bool SameView(int64_t a, int64_t b) const {
    if (index_width_ != 0 && IsValid(a) && IsValid(b)) {
      // Distinct dictionary values: the index is the value.
      if (Index(a) == Index(b)) return true;
      if (unique_values_) return false;
    }
    return View(a) == View(b);
  }

  /// \brief utf8 / binary: the value, "" when null.
  ARROW_FORCE_INLINE std::string_view View(int64_t row) const {
    if (!IsValid(row)) return {};
    const int64_t i = Index(row) + values_offset_;
    return std::string_view(reinterpret_cast<const char*>(data_) + offsets_[i],
                            static_cast<size_t>(offsets_[i + 1] - offsets_[i]));
  }
  /// \brief fixed_size_binary: the bytes, nullptr when null.
  ARROW_FORCE_INLINE const uint8_t* Fixed(int64_t row) const {
    if (!IsValid(row)) return nullptr;
    return data_ + (Index(row) + values_offset_) * width_;
  }
  int32_t width() const { return width_; }

  /// \brief Fixed-width numbers (int32, int64, uint8/16/32/64, double, duration,
  /// timestamp): the value, 0 when null.
  template <typename T>
  ARROW_FORCE_INLINE T Get(int64_t row) const {
    if (!IsValid(row)) return T{};
    T value;
    std::memcpy(&value, data_ + (Index(row) + values_offset_) * sizeof(T), sizeof(T));
    return value;
  }
  /// \brief kUnsigned: the value whatever its width, 0 when null.
  ARROW_FORCE_INLINE uint64_t Unsigned(int64_t row) const {
    switch (width_) {
      case 1:
        return Get<uint8_t>(row);
      case 2:
        return Get<uint16_t>(row);
      case 4:
        return Get<uint32_t>(row);
      default:
        return Get<uint64_t>(row);
    }
  }
  ARROW_FORCE_INLINE bool GetBool(int64_t row) const {
    return IsValid(row) && arrow::bit_util::GetBit(data_, values_offset_ + Index(row));
  }

 private:
  arrow::Status BindArray(const std::shared_ptr<arrow::Array>& array, OtapKind kind,
                          OtapValidatedDictionaries* validated);

  OtapColumnName name_;
  const arrow::Array* values_ = nullptr;
  std::shared_ptr<arrow::Array> dictionary_;
  const uint8_t* outer_validity_ = nullptr;
  int64_t outer_offset_ = 0;
  const uint8_t* parent_validity_ = nullptr;
  int64_t parent_offset_ = 0;
  const uint8_t* values_validity_ = nullptr;
  int64_t values_offset_ = 0;
  const void* indices_ = nullptr;  // already offset
  int index_width_ = 0;            // 0: plain
  bool unique_values_ = false;     // a dictionary whose values are all distinct
  const int32_t* offsets_ = nullptr;
  const uint8_t* data_ = nullptr;
  int32_t width_ = 0;
};

/// \brief A struct column (`resource`, `scope`, `status`): absent or struct.
arrow::Status BindStruct(const arrow::RecordBatch& batch, const std::string& payload,
                         const std::string& name, const arrow::StructArray** out);

}  // namespace otlp_arrow::convert::internal
