// SPDX-License-Identifier: Apache-2.0

#include <cstring>

#include <arrow/array/array_nested.h>
#include <arrow/buffer.h>
#include <arrow/util/bit_util.h>
#include <arrow/util/checked_cast.h>
#include <arrow/util/utf8.h>

#include "attributes_internal.h"
#include "otlp_arrow/model/otlp_json.h"
#include "proto_reader_internal.h"

namespace otlp_arrow::convert::internal {

arrow::Result<std::shared_ptr<arrow::Buffer>> PackBits(const uint8_t* bytes, int64_t n,
                                                       arrow::MemoryPool* pool) {
  ARROW_ASSIGN_OR_RAISE(auto bitmap, arrow::AllocateEmptyBitmap(n, pool));
  uint8_t* out = bitmap->mutable_data();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    out[i / 8] = static_cast<uint8_t>(
        bytes[i] | bytes[i + 1] << 1 | bytes[i + 2] << 2 | bytes[i + 3] << 3 |
        bytes[i + 4] << 4 | bytes[i + 5] << 5 | bytes[i + 6] << 6 | bytes[i + 7] << 7);
  }
  for (; i < n; ++i) {
    if (bytes[i]) arrow::bit_util::SetBit(out, i);
  }
  return std::shared_ptr<arrow::Buffer>(std::move(bitmap));
}

AttributesWriter::AttributesWriter(arrow::MemoryPool* pool)
    : pool_(pool),
      offsets_(pool),
      key_(pool),
      key_dict_(pool),
      type_(pool),
      str_(pool),
      str_dict_(pool),
      int_(pool),
      double_(pool),
      bool_(pool),
      bytes_(pool),
      ser_(pool) {
  key_hint_.fill(-1);
  str_hint_.fill(-1);
}

// Nested AnyValues (arrays and kvlists) have no fixed Arrow type, so they are kept as
// their OTLP/JSON encoding: lossless (int64 as strings, bytes as base64, NaN and
// infinities as strings) and queryable with the JSON functions of DuckDB, Spark and
// Trino.
arrow::Status AttributesWriter::AppendSerialized(const otlp::AnyValue& value) {
  scratch_.clear();
  const bool is_array = value.value_case() == otlp::AnyValue::kArrayValue;
  ARROW_RETURN_NOT_OK(is_array
                          ? model::ArrayValueToJson(value.array_value(), &scratch_)
                          : model::KeyValueListToJson(value.kvlist_value(), &scratch_));
  AppendSerializedValue(is_array ? AttributeType::kArray : AttributeType::kKvlist,
                        scratch_);
  return arrow::Status::OK();
}

bool ValidUtf8Text(std::string_view s) {
  [[maybe_unused]] static const bool tables_ready = (arrow::util::InitializeUTF8(), true);
  return arrow::util::ValidateUTF8(s);
}

namespace {

arrow::Status Malformed(const FieldPath& where, const char* what) {
  return arrow::Status::Invalid(where.ToString(), ": malformed protobuf (", what, ")");
}

arrow::Status NotUtf8(const FieldPath& where, const char* what) {
  return arrow::Status::Invalid(where.ToString(), ": ", what, " is not valid UTF-8");
}

}  // namespace

arrow::Status AttributesWriter::AppendWireEntry(std::string_view key_value,
                                                const FieldPath& where) {
  ProtoReader r(key_value);
  std::string_view key, value;
  int values = 0;
  uint32_t field, type;
  while (!r.done()) {
    if (!r.Tag(&field, &type)) return Malformed(where, "KeyValue tag");
    if (field == 1 && type == ProtoReader::kLen) {
      if (!r.Len(&key)) return Malformed(where, "KeyValue.key");
      // Every occurrence is checked, as protobuf's parser does, not just the last one.
      if (!ValidUtf8(key)) return NotUtf8(where, "key");
    } else if (field == 2 && type == ProtoReader::kLen) {
      if (!r.Len(&value)) return Malformed(where, "KeyValue.value");
      ++values;
    } else if (field == 3 && type == ProtoReader::kVarint) {
      uint64_t strindex;
      if (!r.Varint(&strindex)) return Malformed(where, "KeyValue.key_strindex");
      if (strindex != 0) {
        return arrow::Status::Invalid(where.ToString(),
                                      ": key_strindex is only valid in profiles");
      }
    } else if (!r.Skip(type)) {
      return Malformed(where, "KeyValue field");
    }
  }
  if (ARROW_PREDICT_FALSE(values > 1)) {
    // Repeated occurrences of a message field merge in protobuf; let protobuf do it.
    otlp::KeyValue kv;
    if (!kv.ParseFromArray(key_value.data(), static_cast<int>(key_value.size()))) {
      return Malformed(where, "KeyValue");
    }
    key_.Append(KeyIndex(kv.key()));
    return AppendValue(kv.value(), [&] { return where.ToString(); });
  }
  key_.Append(KeyIndex(key));
  return AppendWireValue(value, where);
}

arrow::Status AttributesWriter::AppendWireValue(std::string_view any_value,
                                                const FieldPath& where) {
  // A oneof: when several members are on the wire the last one wins, as in protobuf.
  AttributeType kind = AttributeType::kEmpty;
  std::string_view text;
  uint64_t number = 0;
  bool nested = false;
  ProtoReader r(any_value);
  uint32_t field, type;
  while (!r.done()) {
    if (!r.Tag(&field, &type)) return Malformed(where, "AnyValue tag");
    bool ok = true;
    if (type == ProtoReader::kLen &&
        (field == 1 || field == 5 || field == 6 || field == 7)) {
      ok = r.Len(&text);
      if (ok && field == 1 && !ValidUtf8(text)) {
        return NotUtf8(where, "value");
      }
      nested |= field == 5 || field == 6;
      kind = field == 1   ? AttributeType::kString
             : field == 5 ? AttributeType::kArray
             : field == 6 ? AttributeType::kKvlist
                          : AttributeType::kBytes;
    } else if (type == ProtoReader::kVarint && (field == 2 || field == 3)) {
      ok = r.Varint(&number);
      kind = field == 2 ? AttributeType::kBool : AttributeType::kInt;
    } else if (type == ProtoReader::kFixed64 && field == 4) {
      ok = r.Fixed64(&number);
      kind = AttributeType::kDouble;
    } else if (type == ProtoReader::kVarint && field == 8) {
      return arrow::Status::Invalid(where.ToString(),
                                    ": string_value_strindex is only valid in profiles");
    } else {
      ok = r.Skip(type);
    }
    if (!ok) return Malformed(where, "AnyValue");
  }
  if (ARROW_PREDICT_FALSE(nested)) {
    // Rare: arrays and kvlists (and anything that once held one) go through protobuf,
    // which checks every nested level, on their way to OTLP/JSON.
    otlp::AnyValue message;
    if (!message.ParseFromArray(any_value.data(), static_cast<int>(any_value.size()))) {
      return Malformed(where, "nested AnyValue");
    }
    return AppendValue(message, [&] { return where.ToString(); });
  }
  switch (kind) {
    case AttributeType::kString:
      str_.Append(StrIndex(text));
      break;
    case AttributeType::kBool:
      bool_.Append(number != 0 ? 1 : 0);
      break;
    case AttributeType::kInt:
      int_.Append(static_cast<int64_t>(number));
      break;
    case AttributeType::kDouble: {
      double d;
      std::memcpy(&d, &number, sizeof d);
      double_.Append(d);
      break;
    }
    case AttributeType::kBytes:
      bytes_.Append(text);
      break;
    default:
      break;
  }
  type_.Append(static_cast<uint8_t>(kind));
  return arrow::Status::OK();
}

arrow::Status AttributesWriter::AppendWireRepeated(
    const std::vector<std::string_view>& key_values, int64_t count,
    const FieldPath& where) {
  if (count == 0) return arrow::Status::OK();
  if (key_values.empty()) {
    offsets_.AppendEmpty(count);
    return arrow::Status::OK();
  }
  const Sizes begin = sizes();
  for (size_t i = 0; i < key_values.size(); ++i) {
    const FieldPath attribute{&where, "attributes", static_cast<int64_t>(i)};
    ARROW_RETURN_NOT_OK(AppendWireEntry(key_values[i], attribute));
  }
  CloseSlot();
  RepeatSlot(begin, count - 1);
  return arrow::Status::OK();
}

std::string_view ServiceNameFromWire(const std::vector<std::string_view>& key_values) {
  for (std::string_view kv : key_values) {
    ProtoReader r(kv);
    std::string_view key, value;
    uint32_t field, type;
    while (!r.done() && r.Tag(&field, &type)) {
      if (field == 1 && type == ProtoReader::kLen) {
        if (!r.Len(&key)) break;
      } else if (field == 2 && type == ProtoReader::kLen) {
        if (!r.Len(&value)) break;
      } else if (!r.Skip(type)) {
        break;
      }
    }
    if (key != "service.name") continue;
    ProtoReader v(value);
    std::string_view text;
    bool is_string = false;
    while (!v.done() && v.Tag(&field, &type)) {
      if (field == 1 && type == ProtoReader::kLen) {
        if (!v.Len(&text)) break;
        is_string = true;
      } else if (!v.Skip(type)) {
        break;
      } else {
        is_string = false;  // a later member of the oneof wins
      }
    }
    return is_string ? text : std::string_view();
  }
  return {};
}

namespace {

bool Holds(uint8_t type, AttributeType a, AttributeType b) {
  return type == static_cast<uint8_t>(a) || type == static_cast<uint8_t>(b);
}

// Spreads the compact values of one type over a child with one slot per entry: the value
// where the entry has that type, a null elsewhere.
template <typename T>
arrow::Result<std::shared_ptr<arrow::ArrayData>> ExpandFixed(
    const std::shared_ptr<arrow::DataType>& type, PodBuffer<T>* compact,
    const uint8_t* types, int64_t n, AttributeType which, arrow::MemoryPool* pool) {
  ARROW_RETURN_NOT_OK(compact->status());
  ARROW_ASSIGN_OR_RAISE(auto values, arrow::AllocateBuffer(n * sizeof(T), pool));
  ARROW_ASSIGN_OR_RAISE(auto bitmap, arrow::AllocateEmptyBitmap(n, pool));
  T* out = reinterpret_cast<T*>(values->mutable_data());
  uint8_t* valid = bitmap->mutable_data();
  const T* in = compact->data();
  int64_t j = 0;
  for (int64_t e = 0; e < n; ++e) {
    if (types[e] == static_cast<uint8_t>(which)) {
      out[e] = in[j++];
      arrow::bit_util::SetBit(valid, e);
    } else {
      out[e] = T{};
    }
  }
  // Given back, not kept: a reused encoder holds little between batches, and the next
  // batch's first growth goes straight to this one's size.
  ARROW_RETURN_NOT_OK(compact->Finish().status());
  return arrow::ArrayData::Make(type, n, {std::move(bitmap), std::move(values)}, n - j);
}

arrow::Result<std::shared_ptr<arrow::ArrayData>> ExpandBool(PodBuffer<uint8_t>* compact,
                                                            const uint8_t* types,
                                                            int64_t n,
                                                            arrow::MemoryPool* pool) {
  ARROW_RETURN_NOT_OK(compact->status());
  ARROW_ASSIGN_OR_RAISE(auto values, arrow::AllocateEmptyBitmap(n, pool));
  ARROW_ASSIGN_OR_RAISE(auto bitmap, arrow::AllocateEmptyBitmap(n, pool));
  int64_t j = 0;
  for (int64_t e = 0; e < n; ++e) {
    if (types[e] == static_cast<uint8_t>(AttributeType::kBool)) {
      if (compact->data()[j++]) arrow::bit_util::SetBit(values->mutable_data(), e);
      arrow::bit_util::SetBit(bitmap->mutable_data(), e);
    }
  }
  compact->Reset();
  return arrow::ArrayData::Make(arrow::boolean(), n,
                                {std::move(bitmap), std::move(values)}, n - j);
}

// The character data is used as it is; only the offsets are spread out.
arrow::Result<std::shared_ptr<arrow::ArrayData>> ExpandString(
    const std::shared_ptr<arrow::DataType>& type, StringWriter* compact,
    const uint8_t* types, int64_t n, AttributeType a, AttributeType b,
    arrow::MemoryPool* pool) {
  ARROW_ASSIGN_OR_RAISE(auto packed, compact->Finish(type));
  const int32_t* in = packed->GetValues<int32_t>(1);
  ARROW_ASSIGN_OR_RAISE(auto offsets,
                        arrow::AllocateBuffer((n + 1) * sizeof(int32_t), pool));
  ARROW_ASSIGN_OR_RAISE(auto bitmap, arrow::AllocateEmptyBitmap(n, pool));
  int32_t* out = reinterpret_cast<int32_t*>(offsets->mutable_data());
  uint8_t* valid = bitmap->mutable_data();
  int64_t j = 0;
  out[0] = 0;
  for (int64_t e = 0; e < n; ++e) {
    if (Holds(types[e], a, b)) {
      ++j;
      arrow::bit_util::SetBit(valid, e);
    }
    out[e + 1] = in[j];
  }
  return arrow::ArrayData::Make(
      type, n, {std::move(bitmap), std::move(offsets), packed->buffers[2]}, n - j);
}

}  // namespace

arrow::Result<std::shared_ptr<arrow::ArrayData>> AttributesWriter::Finish() {
  using T = AttributeType;
  const auto& map_type = static_cast<const arrow::MapType&>(*AttributesType());
  const int64_t n = type_.size();
  const uint8_t* types = type_.data();
  const auto& str_type = AttributeValueType()->field(1)->type();
  ARROW_ASSIGN_OR_RAISE(auto str,
                        ExpandFixed(str_type, &str_, types, n, T::kString, pool_));
  ARROW_ASSIGN_OR_RAISE(str->dictionary, str_dict_.Finish());
  ARROW_ASSIGN_OR_RAISE(auto i64,
                        ExpandFixed(arrow::int64(), &int_, types, n, T::kInt, pool_));
  ARROW_ASSIGN_OR_RAISE(
      auto f64, ExpandFixed(arrow::float64(), &double_, types, n, T::kDouble, pool_));
  ARROW_ASSIGN_OR_RAISE(auto b, ExpandBool(&bool_, types, n, pool_));
  ARROW_ASSIGN_OR_RAISE(auto bytes, ExpandString(arrow::binary(), &bytes_, types, n,
                                                 T::kBytes, T::kBytes, pool_));
  ARROW_ASSIGN_OR_RAISE(auto ser, ExpandString(arrow::utf8(), &ser_, types, n, T::kArray,
                                               T::kKvlist, pool_));
  ARROW_ASSIGN_OR_RAISE(auto type_values, type_.Finish());
  auto type =
      arrow::ArrayData::Make(arrow::uint8(), n, {nullptr, std::move(type_values)}, 0);
  ARROW_ASSIGN_OR_RAISE(auto key_indices, key_.Finish());
  auto keys = arrow::ArrayData::Make(map_type.key_type(), n, {nullptr, key_indices}, 0);
  ARROW_ASSIGN_OR_RAISE(keys->dictionary, key_dict_.Finish());
  auto value = arrow::ArrayData::Make(AttributeValueType(), n, {nullptr}, 0);
  value->child_data = {type, str, i64, f64, b, bytes, ser};
  auto entries = arrow::ArrayData::Make(map_type.value_type(), n, {nullptr}, 0);
  entries->child_data = {keys, value};
  const int64_t slots = offsets_.slots();
  ARROW_ASSIGN_OR_RAISE(auto offsets, offsets_.Finish(n));
  auto map = arrow::ArrayData::Make(AttributesType(), slots, {nullptr, offsets}, 0);
  map->child_data = {entries};
  return map;
}

// --- AttributesColumn
// --------------------------------------------------------------------

arrow::Status AttributesColumn::Bind(const std::shared_ptr<arrow::Array>& array,
                                     std::string name, std::string row_label) {
  name_ = std::move(name);
  row_label_ = std::move(row_label);
  map_ = arrow::internal::checked_cast<const arrow::MapArray*>(array.get());
  ARROW_RETURN_NOT_OK(key_.Bind(map_->keys(), name_ + ".key"));
  const auto& items =
      arrow::internal::checked_cast<const arrow::StructArray&>(*map_->items());
  type_ = arrow::internal::checked_cast<const arrow::UInt8Array*>(items.field(0).get());
  ARROW_RETURN_NOT_OK(str_.Bind(items.field(1), name_ + ".value.str"));
  int_ = arrow::internal::checked_cast<const arrow::Int64Array*>(items.field(2).get());
  double_ =
      arrow::internal::checked_cast<const arrow::DoubleArray*>(items.field(3).get());
  bool_ = arrow::internal::checked_cast<const arrow::BooleanArray*>(items.field(4).get());
  bytes_ = arrow::internal::checked_cast<const arrow::BinaryArray*>(items.field(5).get());
  ser_ = arrow::internal::checked_cast<const arrow::StringArray*>(items.field(6).get());

  // Validate every slot and every entry a slot reaches: a key, a known type, and the
  // child that type names. Entries no slot reaches are never read. The caller has run
  // ValidateFull(), so offsets do not decrease and the slots reach exactly the entries
  // [begin(0), end(length - 1)): one tight pass over them decides, and only a failure
  // takes the loop below, which finds the first bad entry to name it.
  const int64_t length = map_->length();
  if (length == 0) return arrow::Status::OK();
  if (map_->null_count() == 0 && items.null_count() == 0 &&
      EntriesValid(begin(0), end(length - 1))) {
    return arrow::Status::OK();
  }
  for (int64_t row = 0; row < length; ++row) {
    if (map_->IsNull(row)) {
      return arrow::Status::Invalid("column '", name_, "' ", row_label_, " ", row,
                                    ": null (an empty attribute list is an empty map)");
    }
    for (int64_t e = begin(row); e < end(row); ++e) {
      ARROW_RETURN_NOT_OK(ValidateEntry(row, e, items));
    }
  }
  return arrow::Status::OK();
}

bool AttributesColumn::EntriesValid(int64_t first, int64_t last) const {
  // Validity bitmap and offset of the child each type code keeps its value in (none
  // for the empty value); a null bitmap means no nulls.
  struct Bits {
    const uint8_t* bitmap = nullptr;
    int64_t offset = 0;
    bool Valid(int64_t i) const {
      return bitmap == nullptr || arrow::bit_util::GetBit(bitmap, offset + i);
    }
  };
  auto bits = [](const arrow::Array* array) {
    return Bits{array->null_count() == 0 ? nullptr : array->null_bitmap_data(),
                array->offset()};
  };
  Bits child[kMaxAttributeType + 1];
  child[static_cast<int>(AttributeType::kString)] = bits(&str_.array());
  child[static_cast<int>(AttributeType::kInt)] = bits(int_);
  child[static_cast<int>(AttributeType::kDouble)] = bits(double_);
  child[static_cast<int>(AttributeType::kBool)] = bits(bool_);
  child[static_cast<int>(AttributeType::kKvlist)] = bits(ser_);
  child[static_cast<int>(AttributeType::kArray)] = bits(ser_);
  child[static_cast<int>(AttributeType::kBytes)] = bits(bytes_);
  const Bits key = bits(&key_.array());
  const Bits type = bits(type_);
  const uint8_t* types = type_->raw_values();
  bool ok = true;
  for (int64_t e = first; e < last; ++e) {
    const uint8_t t = types[e];
    ok &= key.Valid(e) & type.Valid(e) & (t <= kMaxAttributeType);
    ok &= child[t & kMaxAttributeType].Valid(e);
  }
  return ok;
}

arrow::Status AttributesColumn::ValidateEntry(int64_t row, int64_t e,
                                              const arrow::StructArray& items) const {
  const int64_t index = e - begin(row);
  if (!key_.IsValid(e)) {
    return arrow::Status::Invalid("column '", name_, ".key' ", row_label_, " ", row,
                                  " entry ", index, ": null key");
  }
  if (items.IsNull(e) || type_->IsNull(e)) {
    return arrow::Status::Invalid("column '", name_, ".value' ", row_label_, " ", row,
                                  " entry ", index,
                                  ": null value (an empty value has type 0)");
  }
  const uint8_t t = type_->Value(e);
  bool present = true;
  const char* child = "";
  switch (static_cast<AttributeType>(t)) {
    case AttributeType::kEmpty:
      break;
    case AttributeType::kString:
      present = str_.IsValid(e);
      child = "str";
      break;
    case AttributeType::kInt:
      present = int_->IsValid(e);
      child = "int";
      break;
    case AttributeType::kDouble:
      present = double_->IsValid(e);
      child = "double";
      break;
    case AttributeType::kBool:
      present = bool_->IsValid(e);
      child = "bool";
      break;
    case AttributeType::kBytes:
      present = bytes_->IsValid(e);
      child = "bytes";
      break;
    case AttributeType::kKvlist:
    case AttributeType::kArray:
      present = ser_->IsValid(e);
      child = "ser";
      break;
    default:
      return arrow::Status::Invalid("column '", name_, ".value.type' ", row_label_, " ",
                                    row, " entry ", index, ": ", static_cast<int>(t),
                                    " is not an attribute type (0..",
                                    static_cast<int>(kMaxAttributeType), ")");
  }
  if (!present) {
    return arrow::Status::Invalid("column '", name_, ".value.", child, "' ", row_label_,
                                  " ", row, " entry ", index, ": null, but type ",
                                  static_cast<int>(t), " keeps its value there");
  }
  return arrow::Status::OK();
}

arrow::Status AttributesColumn::Decode(int64_t row, KeyValues* out) const {
  const int64_t b = begin(row);
  const int64_t e = end(row);
  out->Reserve(out->size() + static_cast<int>(e - b));
  for (int64_t i = b; i < e; ++i) {
    otlp::KeyValue* kv = out->Add();
    const std::string_view key = key_.View(i);
    // Assigned, not set_key(p, n), which allocates twice (see span_table_decoder.cc).
    kv->mutable_key()->assign(key.data(), key.size());
    ARROW_RETURN_NOT_OK(DecodeValue(i, kv->mutable_value()));
  }
  return arrow::Status::OK();
}

arrow::Status AttributesColumn::DecodeValue(int64_t entry, otlp::AnyValue* out) const {
  switch (static_cast<AttributeType>(type_->Value(entry))) {
    case AttributeType::kEmpty:
      return arrow::Status::OK();
    case AttributeType::kString: {
      const std::string_view v = str_.View(entry);
      out->mutable_string_value()->assign(v.data(), v.size());
      return arrow::Status::OK();
    }
    case AttributeType::kInt:
      out->set_int_value(int_->Value(entry));
      return arrow::Status::OK();
    case AttributeType::kDouble:
      out->set_double_value(double_->Value(entry));
      return arrow::Status::OK();
    case AttributeType::kBool:
      out->set_bool_value(bool_->Value(entry));
      return arrow::Status::OK();
    case AttributeType::kBytes: {
      const std::string_view v = bytes_->GetView(entry);
      out->mutable_bytes_value()->assign(v.data(), v.size());
      return arrow::Status::OK();
    }
    case AttributeType::kKvlist:
    case AttributeType::kArray: {
      const std::string_view v = ser_->GetView(entry);
      const bool is_array =
          type_->Value(entry) == static_cast<uint8_t>(AttributeType::kArray);
      auto status = is_array
                        ? model::ArrayValueFromJson(v, out->mutable_array_value())
                        : model::KeyValueListFromJson(v, out->mutable_kvlist_value());
      if (!status.ok()) {
        return arrow::Status::Invalid(
            "column '", name_, ".value.ser' entry ", entry, ": not an OTLP/JSON ",
            is_array ? "ArrayValue" : "KeyValueList", ": ", status.message());
      }
      return arrow::Status::OK();
    }
  }
  return arrow::Status::Invalid("column '", name_, ".value.type' entry ", entry,
                                ": unknown type");
}

bool AttributesColumn::EntriesEqual(int64_t a, int64_t b) const {
  if (!key_.Equal(a, b)) return false;
  const uint8_t t = type_->Value(a);
  if (t != type_->Value(b)) return false;
  switch (static_cast<AttributeType>(t)) {
    case AttributeType::kEmpty:
      return true;
    case AttributeType::kString:
      return str_.Equal(a, b);
    case AttributeType::kInt:
      return int_->Value(a) == int_->Value(b);
    case AttributeType::kDouble: {
      // Bit equality: keeps -0.0 apart from 0.0 and NaN equal to itself.
      const double x = double_->Value(a);
      const double y = double_->Value(b);
      return std::memcmp(&x, &y, sizeof(double)) == 0;
    }
    case AttributeType::kBool:
      return bool_->Value(a) == bool_->Value(b);
    case AttributeType::kBytes:
      return bytes_->GetView(a) == bytes_->GetView(b);
    case AttributeType::kKvlist:
    case AttributeType::kArray:
      return ser_->GetView(a) == ser_->GetView(b);
  }
  return false;
}

namespace {

/// Whether the `n` strings from `a0` and from `b0` have the same lengths and bytes:
/// one pass over the offsets and one memcmp, not one comparison per string.
bool SameStringRuns(const arrow::BinaryArray& strings, int64_t a0, int64_t b0,
                    int64_t n) {
  const int32_t* offsets = strings.raw_value_offsets();
  const int32_t a_first = offsets[a0], b_first = offsets[b0];
  bool same = true;
  for (int64_t i = 1; i <= n; ++i) {
    same &= offsets[a0 + i] - a_first == offsets[b0 + i] - b_first;
  }
  const uint8_t* data = strings.raw_data();
  return same && std::memcmp(data + a_first, data + b_first,
                             static_cast<size_t>(offsets[a0 + n] - a_first)) == 0;
}

}  // namespace

arrow::Status StringColumn::Bind(const std::shared_ptr<arrow::Array>& array,
                                 const std::string& name) {
  array_ = array.get();
  plain_ = nullptr;
  dict_ = nullptr;
  values_ = nullptr;
  int32_indices_ = nullptr;
  if (array->type_id() == arrow::Type::STRING) {
    plain_ = arrow::internal::checked_cast<const arrow::StringArray*>(array.get());
    return arrow::Status::OK();
  }
  if (array->type_id() == arrow::Type::DICTIONARY) {
    const auto& type =
        arrow::internal::checked_cast<const arrow::DictionaryType&>(*array->type());
    if (type.value_type()->id() == arrow::Type::STRING) {
      dict_ = arrow::internal::checked_cast<const arrow::DictionaryArray*>(array.get());
      values_ = arrow::internal::checked_cast<const arrow::StringArray*>(
          dict_->dictionary().get());
      if (values_->null_count() != 0) {
        return arrow::Status::Invalid("column '", name,
                                      "': the dictionary holds nulls (a null value is "
                                      "a null index)");
      }
      if (type.index_type()->id() == arrow::Type::INT32) {
        int32_indices_ =
            arrow::internal::checked_cast<const arrow::Int32Array&>(*dict_->indices())
                .raw_values();
      }
      return arrow::Status::OK();
    }
  }
  return arrow::Status::Invalid("column '", name,
                                "': expected type string or dictionary<string>, got ",
                                array->type()->ToString());
}

bool StringColumn::SameRuns(int64_t a0, int64_t b0, int64_t n) const {
  if (plain_ != nullptr) return SameStringRuns(*plain_, a0, b0, n);
  if (int32_indices_ != nullptr) {
    return std::memcmp(int32_indices_ + a0, int32_indices_ + b0,
                       static_cast<size_t>(n) * sizeof(int32_t)) == 0;
  }
  return false;
}

bool AttributesColumn::SlotsIdentical(int64_t a0, int64_t b0, int64_t n) const {
  const uint8_t* types = type_->raw_values();
  if (std::memcmp(types + a0, types + b0, static_cast<size_t>(n)) != 0) return false;
  if (!key_.SameRuns(a0, b0, n) || !str_.SameRuns(a0, b0, n)) {
    return false;
  }
  for (int64_t i = 0; i < n; ++i) {
    switch (static_cast<AttributeType>(types[a0 + i])) {
      case AttributeType::kString:
      case AttributeType::kEmpty:
        break;
      case AttributeType::kInt:
      case AttributeType::kDouble:
      case AttributeType::kBool:
      case AttributeType::kBytes:
      case AttributeType::kKvlist:
      case AttributeType::kArray:
        if (!EntriesEqual(a0 + i, b0 + i)) return false;
        break;
    }
  }
  return true;
}

bool AttributesColumn::SlotsEqual(int64_t a, int64_t b) const {
  const int64_t a0 = begin(a), n = end(a) - a0;
  const int64_t b0 = begin(b);
  if (end(b) - b0 != n) return false;
  // The encoder repeats a resource's attributes byte for byte on each of its rows, so
  // the rows of one resource are identical; comparing them as blocks is the common
  // case. Anything else (a null string value that still spans bytes, say) is compared
  // entry by entry.
  if (n == 0 || a0 == b0 || SlotsIdentical(a0, b0, n)) return true;
  for (int64_t i = 0; i < n; ++i) {
    if (!EntriesEqual(a0 + i, b0 + i)) return false;
  }
  return true;
}

}  // namespace otlp_arrow::convert::internal
