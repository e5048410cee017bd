// SPDX-License-Identifier: Apache-2.0
// Writes protobuf wire format back to front, so every nested message's length is known
// right after its contents are written: one pass, no size pre-computation, no message
// objects.

#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include <arrow/util/macros.h>

namespace otlp_arrow::convert::internal {

class ReverseProtoWriter {
 public:
  /// Writes into `out`, reusing its capacity (a caller that keeps the string across calls
  /// writes into warm memory); Finish() moves the bytes to its front.
  explicit ReverseProtoWriter(std::string* out) : out_(out) {
    out_->resize(out_->capacity());
    capacity_ = pos_ = out_->size();
  }

  /// Leaves exactly the bytes written in `out`.
  void Finish() {
    const size_t used = size();
    std::memmove(out_->data(), out_->data() + pos_, used);
    out_->resize(used);
  }

  enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

  /// Bytes written so far; Mark() before a message's fields, then EndMessage(field,
  /// mark).
  size_t size() const { return capacity_ - pos_; }
  size_t Mark() const { return size(); }

  void Raw(const void* data, size_t n) {
    if (n == 0) return;
    Reserve(n);
    pos_ -= n;
    char* p = out_->data() + pos_;
    if (n <= 16) {  // ids and short strings: no call into libc
      const char* src = static_cast<const char*>(data);
      for (size_t i = 0; i < n; ++i) p[i] = src[i];
    } else {
      std::memcpy(p, data, n);
    }
  }
  void Varint(uint64_t v) {
    if (v < 0x80) {  // tags, lengths, counts: almost always one byte
      Reserve(1);
      out_->data()[--pos_] = static_cast<char>(v);
      return;
    }
    const int n = VarintSize(v);
    Reserve(n);
    pos_ -= n;
    char* p = out_->data() + pos_;
    for (int i = 0; i < n - 1; ++i, v >>= 7) p[i] = static_cast<char>(v | 0x80);
    p[n - 1] = static_cast<char>(v);
  }
  void Tag(uint32_t field, WireType type) { Varint((field << 3) | type); }

  void VarintField(uint32_t field, uint64_t v) {
    Varint(v);
    Tag(field, kVarint);
  }
  /// proto3 scalar: written only when not the default.
  void OptionalVarint(uint32_t field, uint64_t v) {
    if (v != 0) VarintField(field, v);
  }
  void Fixed64Field(uint32_t field, uint64_t v) {
    Reserve(8);
    pos_ -= 8;
    char* p = out_->data() + pos_;
    for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
    Tag(field, kFixed64);
  }
  void OptionalFixed64(uint32_t field, uint64_t v) {
    if (v != 0) Fixed64Field(field, v);
  }
  void OptionalFixed32(uint32_t field, uint32_t v) {
    if (v == 0) return;
    Reserve(4);
    pos_ -= 4;
    char* p = out_->data() + pos_;
    for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
    Tag(field, kFixed32);
  }
  void BytesField(uint32_t field, std::string_view v) {
    Raw(v.data(), v.size());
    Varint(v.size());
    Tag(field, kLen);
  }
  void OptionalBytes(uint32_t field, std::string_view v) {
    if (!v.empty()) BytesField(field, v);
  }
  /// Closes a message whose fields were written since `mark`.
  void EndMessage(uint32_t field, size_t mark) {
    Varint(size() - mark);
    Tag(field, kLen);
  }

 private:
  static int VarintSize(uint64_t v) {
    int n = 1;
    while (v >= 0x80) {
      v >>= 7;
      ++n;
    }
    return n;
  }
  void Reserve(size_t n) {
    if (ARROW_PREDICT_TRUE(pos_ >= n)) return;
    Grow(n);
  }
  void Grow(size_t n) {
    const size_t used = size();
    size_t capacity = capacity_ < 4096 ? 4096 : capacity_ * 2;
    while (capacity - used < n) capacity *= 2;
    std::string bigger;
    bigger.resize(capacity);
    if (used > 0) std::memcpy(bigger.data() + capacity - used, out_->data() + pos_, used);
    out_->swap(bigger);
    capacity_ = capacity;
    pos_ = capacity - used;
  }

  std::string* out_;
  size_t capacity_ = 0;
  size_t pos_ = 0;
};

}  // namespace otlp_arrow::convert::internal
