// SPDX-License-Identifier: Apache-2.0
//
// A CBOR reader written for the few shapes OTAP puts in `ser` rather than libcbor
// (Debian 12 ships 0.8): libcbor's cbor_load builds the whole item tree before any
// nesting bound can be applied and frees it recursively, and its streaming API would
// take as much code as this reader to map onto AnyValue with the Go consumer's rules
// (text keys only, duplicate keys, int64 range, fxamacker's limits).

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>

#include "attributes_internal.h"
#include "otap_cbor_internal.h"

namespace otlp_arrow::convert::internal {

namespace {

constexpr uint8_t kBreak = 0xff;

double HalfToDouble(uint16_t half) {
  const int exponent = (half >> 10) & 0x1f;
  const int mantissa = half & 0x3ff;
  double value;
  if (exponent == 0) {
    value = std::ldexp(mantissa, -24);
  } else if (exponent != 31) {
    value = std::ldexp(mantissa + 1024, exponent - 25);
  } else {
    value = mantissa == 0 ? INFINITY : NAN;
  }
  return (half & 0x8000) != 0 ? -value : value;
}

class CborReader {
 public:
  explicit CborReader(std::string_view bytes)
      : data_(reinterpret_cast<const uint8_t*>(bytes.data())), size_(bytes.size()) {}

  arrow::Status ReadTop(otlp::AnyValue* out) {
    ARROW_RETURN_NOT_OK(ReadItem(out, 0));
    if (pos_ != size_) return Error("trailing bytes after the data item");
    return arrow::Status::OK();
  }

 private:
  arrow::Status Error(const char* what) const {
    return arrow::Status::Invalid("CBOR: ", what, " at byte ", pos_);
  }

  // Reads the initial byte and its argument. `*indefinite` is set for additional
  // information 31 (whose meaning depends on the major type).
  arrow::Status Head(int* major, uint8_t* info, uint64_t* argument, bool* indefinite) {
    if (pos_ >= size_) return Error("truncated item");
    const uint8_t initial = data_[pos_++];
    *major = initial >> 5;
    *info = initial & 0x1f;
    *indefinite = false;
    *argument = 0;
    if (*info < 24) {
      *argument = *info;
    } else if (*info <= 27) {
      const size_t n = size_t{1} << (*info - 24);
      if (size_ - pos_ < n) return Error("truncated argument");
      for (size_t i = 0; i < n; ++i) *argument = (*argument << 8) | data_[pos_ + i];
      pos_ += n;
    } else if (*info == 31) {
      *indefinite = true;
    } else {
      return Error("reserved additional information");
    }
    return arrow::Status::OK();
  }

  bool AtBreak() const { return pos_ < size_ && data_[pos_] == kBreak; }

  // A byte or text string (major 2 or 3), definite or made of definite chunks.
  arrow::Status ReadString(int major, uint64_t length, bool indefinite,
                           std::string* out) {
    out->clear();
    if (!indefinite) return AppendChunk(length, out);
    while (true) {
      if (pos_ >= size_) return Error("truncated indefinite-length string");
      if (data_[pos_] == kBreak) {
        ++pos_;
        return arrow::Status::OK();
      }
      int chunk_major = 0;
      uint8_t info = 0;
      uint64_t chunk_length = 0;
      bool chunk_indefinite = false;
      ARROW_RETURN_NOT_OK(Head(&chunk_major, &info, &chunk_length, &chunk_indefinite));
      if (chunk_major != major || chunk_indefinite) {
        return Error("bad chunk in an indefinite-length string");
      }
      ARROW_RETURN_NOT_OK(AppendChunk(chunk_length, out));
    }
  }

  arrow::Status AppendChunk(uint64_t length, std::string* out) {
    if (length > size_ - pos_) return Error("truncated string");
    out->append(reinterpret_cast<const char*>(data_ + pos_), length);
    pos_ += length;
    return arrow::Status::OK();
  }

  arrow::Status ReadItem(otlp::AnyValue* out, int depth) {
    int major = 0;
    uint8_t info = 0;
    uint64_t argument = 0;
    bool indefinite = false;
    ARROW_RETURN_NOT_OK(Head(&major, &info, &argument, &indefinite));
    switch (major) {
      case 0:
        if (indefinite) return Error("indefinite length on an integer");
        if (argument > static_cast<uint64_t>(INT64_MAX)) {
          return Error("integer past int64");
        }
        out->set_int_value(static_cast<int64_t>(argument));
        return arrow::Status::OK();
      case 1:
        if (indefinite) return Error("indefinite length on an integer");
        if (argument > static_cast<uint64_t>(INT64_MAX)) {
          return Error("negative integer past int64");
        }
        out->set_int_value(-1 - static_cast<int64_t>(argument));
        return arrow::Status::OK();
      case 2:
        ARROW_RETURN_NOT_OK(ReadString(2, argument, indefinite, &scratch_));
        out->set_bytes_value(scratch_);
        return arrow::Status::OK();
      case 3:
        ARROW_RETURN_NOT_OK(ReadString(3, argument, indefinite, &scratch_));
        if (!ValidUtf8(scratch_)) return Error("text string that is not UTF-8");
        out->set_string_value(scratch_);
        return arrow::Status::OK();
      case 4:
        return ReadArray(argument, indefinite, out->mutable_array_value(), depth + 1);
      case 5:
        return ReadMap(argument, indefinite, out->mutable_kvlist_value(), depth + 1);
      case 6:
        return Error("tagged item (tags are not supported)");
      default:
        return ReadSimple(info, argument, indefinite, out);
    }
  }

  arrow::Status ReadSimple(uint8_t info, uint64_t argument, bool indefinite,
                           otlp::AnyValue* out) {
    if (indefinite) return Error("unexpected break");
    switch (info) {
      case 20:
      case 21:
        out->set_bool_value(info == 21);
        return arrow::Status::OK();
      case 22:  // null
      case 23:  // undefined
        out->Clear();
        return arrow::Status::OK();
      case 25:
        out->set_double_value(HalfToDouble(static_cast<uint16_t>(argument)));
        return arrow::Status::OK();
      case 26: {
        float f;
        const auto bits = static_cast<uint32_t>(argument);
        std::memcpy(&f, &bits, sizeof f);
        out->set_double_value(static_cast<double>(f));
        return arrow::Status::OK();
      }
      case 27: {
        double d;
        std::memcpy(&d, &argument, sizeof d);
        out->set_double_value(d);
        return arrow::Status::OK();
      }
      default:
        return Error("unsupported simple value");
    }
  }

  // Checks a container's size before anything is allocated for it: each element takes
  // at least one byte.
  arrow::Status CheckContainer(uint64_t count, uint64_t bytes_per_element, int depth) {
    if (depth > kMaxCborNesting) return Error("nesting deeper than 32");
    if (count > static_cast<uint64_t>(kMaxCborContainerSize)) {
      return Error("container with more than 131072 elements");
    }
    if (count * bytes_per_element > size_ - pos_) return Error("truncated container");
    return arrow::Status::OK();
  }

  arrow::Status ReadArray(uint64_t count, bool indefinite, otlp::ArrayValue* out,
                          int depth) {
    ARROW_RETURN_NOT_OK(CheckContainer(indefinite ? 0 : count, 1, depth));
    for (uint64_t i = 0; indefinite || i < count; ++i) {
      if (indefinite) {
        if (pos_ >= size_) return Error("truncated indefinite-length array");
        if (data_[pos_] == kBreak) {
          ++pos_;
          break;
        }
        if (i >= static_cast<uint64_t>(kMaxCborContainerSize)) {
          return Error("container with more than 131072 elements");
        }
      }
      ARROW_RETURN_NOT_OK(ReadItem(out->add_values(), depth));
    }
    return arrow::Status::OK();
  }

  arrow::Status ReadMap(uint64_t count, bool indefinite, otlp::KeyValueList* out,
                        int depth) {
    ARROW_RETURN_NOT_OK(CheckContainer(indefinite ? 0 : count, 2, depth));
    std::unordered_map<std::string, int> positions;
    std::string key;
    for (uint64_t i = 0; indefinite || i < count; ++i) {
      if (indefinite) {
        if (pos_ >= size_) return Error("truncated indefinite-length map");
        if (data_[pos_] == kBreak) {
          ++pos_;
          break;
        }
        if (i >= static_cast<uint64_t>(kMaxCborContainerSize)) {
          return Error("container with more than 131072 elements");
        }
      }
      int major = 0;
      uint8_t info = 0;
      uint64_t argument = 0;
      bool key_indefinite = false;
      ARROW_RETURN_NOT_OK(Head(&major, &info, &argument, &key_indefinite));
      if (major != 3) return Error("map key that is not a text string");
      ARROW_RETURN_NOT_OK(ReadString(3, argument, key_indefinite, &key));
      if (!ValidUtf8(key)) return Error("map key that is not UTF-8");
      auto [it, inserted] = positions.try_emplace(key, out->values_size());
      otlp::KeyValue* kv;
      if (inserted) {
        kv = out->add_values();
        kv->set_key(key);
      } else {
        kv = out->mutable_values(it->second);
        kv->clear_value();
      }
      ARROW_RETURN_NOT_OK(ReadItem(kv->mutable_value(), depth));
    }
    return arrow::Status::OK();
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string scratch_;
};

}  // namespace

arrow::Status DecodeCbor(std::string_view bytes, otlp::AnyValue* out) {
  out->Clear();
  return CborReader(bytes).ReadTop(out);
}

}  // namespace otlp_arrow::convert::internal
