// SPDX-License-Identifier: Apache-2.0
// A bounds-checked reader of protobuf wire format, for encoding OTLP bytes into the span
// table without building protobuf objects. Every read checks the remaining length; a
// malformed input makes a read return false, never read past the end.

#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace otlp_arrow::convert::internal {

class ProtoReader {
 public:
  enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

  explicit ProtoReader(std::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}

  bool done() const { return p_ == end_; }

  bool Varint(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return false;
      const uint8_t b = *p_++;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) {
        *out = v;
        return true;
      }
    }
    return false;  // more than 10 bytes
  }
  /// Reads a field tag; field numbers must be positive and wire types known.
  bool Tag(uint32_t* field, uint32_t* type) {
    uint64_t tag;
    if (!Varint(&tag) || tag > 0xffffffffULL) return false;
    *field = static_cast<uint32_t>(tag >> 3);
    *type = static_cast<uint32_t>(tag & 7);
    return *field != 0;
  }
  bool Fixed64(uint64_t* out) {
    if (end_ - p_ < 8) return false;
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p_[i];
    p_ += 8;
    *out = v;
    return true;
  }
  bool Fixed32(uint32_t* out) {
    if (end_ - p_ < 4) return false;
    *out = static_cast<uint32_t>(p_[0]) | static_cast<uint32_t>(p_[1]) << 8 |
           static_cast<uint32_t>(p_[2]) << 16 | static_cast<uint32_t>(p_[3]) << 24;
    p_ += 4;
    return true;
  }
  bool Len(std::string_view* out) {
    uint64_t n;
    if (!Varint(&n) || n > static_cast<uint64_t>(end_ - p_)) return false;
    *out = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  /// Skips a field of the given wire type (unknown fields are ignored, as protobuf does).
  bool Skip(uint32_t type) {
    uint64_t u64;
    uint32_t u32;
    std::string_view sv;
    switch (type) {
      case kVarint:
        return Varint(&u64);
      case kFixed64:
        return Fixed64(&u64);
      case kLen:
        return Len(&sv);
      case kFixed32:
        return Fixed32(&u32);
      default:
        return false;  // groups (3, 4) are not used by OTLP; 6, 7 do not exist
    }
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace otlp_arrow::convert::internal
