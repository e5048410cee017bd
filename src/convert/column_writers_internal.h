// SPDX-License-Identifier: Apache-2.0
// Minimal column writers for the span-table encoder's hot path.
//
// Arrow's ArrayBuilders return a Status from every Append and check capacity through
// virtual calls; at one or two dozen values per span that overhead was 80% of encoding
// time. These writers append into geometrically growing pool buffers with no per-value
// Status: a failed allocation is remembered (sticky) and reported by Finish(). Validity
// is kept as one byte per slot while appending and packed into an Arrow bitmap at
// Finish(); it is not materialized at all until the first null. A buffer handed over
// at Finish() is replaced, in the next batch, by one of the same size (after one small
// start), so a reused encoder does not grow its buffers by doubling again.
//
// Every writer can roll back to a checkpoint: SaveMark() records its sizes,
// Rollback() returns to them (only to a mark taken since the last Finish()). This lets
// one encoder take many requests into one batch and drop a request that turns out bad
// half way without touching the rows of the others.

#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string_view>
#include <vector>

#include <arrow/array/data.h>
#include <arrow/buffer.h>
#include <arrow/memory_pool.h>
#include <arrow/result.h>
#include <arrow/status.h>
#include <arrow/type.h>
#include <arrow/util/bit_util.h>
#include <arrow/util/macros.h>

namespace otlp_arrow::convert::internal {

/// The sizes of a set of writers at one moment, in the order they were saved.
using Marks = std::vector<int64_t>;

/// Reads a Marks back in the order SaveMark() wrote it.
class MarkReader {
 public:
  explicit MarkReader(const Marks& marks) : next_(marks.data()) {}
  int64_t Next() { return *next_++; }

 private:
  const int64_t* next_;
};

/// memcpy for the short strings of telemetry (keys, names, values): two overlapping
/// fixed-size moves instead of a call into libc, up to 32 bytes ("http.status_code",
/// "/api/v1/items/{id}" and the like are 16 to 32).
inline void CopySmall(void* dst, const void* src, size_t n) {
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  if (n > 16 && n <= 32) {
    char a[16], b[16];
    std::memcpy(a, s, 16);
    std::memcpy(b, s + n - 16, 16);
    std::memcpy(d, a, 16);
    std::memcpy(d + n - 16, b, 16);
  } else if (n >= 8 && n <= 16) {
    uint64_t a, b;
    std::memcpy(&a, s, 8);
    std::memcpy(&b, s + n - 8, 8);
    std::memcpy(d, &a, 8);
    std::memcpy(d + n - 8, &b, 8);
  } else if (n >= 4 && n < 8) {
    uint32_t a, b;
    std::memcpy(&a, s, 4);
    std::memcpy(&b, s + n - 4, 4);
    std::memcpy(d, &a, 4);
    std::memcpy(d + n - 4, &b, 4);
  } else if (n < 4) {
    for (size_t i = 0; i < n; ++i) d[i] = s[i];
  } else {
    std::memcpy(d, s, n);
  }
}

/// A growable buffer of trivially copyable T in memory from an arrow::MemoryPool.
template <typename T>
class PodBuffer {
 public:
  explicit PodBuffer(arrow::MemoryPool* pool) : pool_(pool) {}

  int64_t size() const { return size_; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  const arrow::Status& status() const { return status_; }

  void Append(T value) {
    if (ARROW_PREDICT_FALSE(size_ == capacity_) && !Grow(size_ + 1)) return;
    data_[size_++] = value;
  }
  void Append(const T* values, int64_t n) {
    if (n == 0) return;  // memcpy must not see the null data_ of an empty buffer
    if (ARROW_PREDICT_FALSE(size_ + n > capacity_) && !Grow(size_ + n)) return;
    CopySmall(data_ + size_, values, static_cast<size_t>(n) * sizeof(T));
    size_ += n;
  }
  /// Appends exactly N elements; N is known at compile time, so the copy is inlined.
  template <int N>
  void AppendFixed(const T* values) {
    if (ARROW_PREDICT_FALSE(size_ + N > capacity_) && !Grow(size_ + N)) return;
    std::memcpy(data_ + size_, values, N * sizeof(T));
    size_ += N;
  }
  void AppendRepeated(T value, int64_t n) {
    if (ARROW_PREDICT_FALSE(size_ + n > capacity_) && !Grow(size_ + n)) return;
    for (int64_t i = 0; i < n; ++i) data_[size_ + i] = value;
    size_ += n;
  }
  /// Appends `times` copies of the elements [begin, end) already in this buffer.
  void RepeatRange(int64_t begin, int64_t end, int64_t times) {
    const int64_t n = end - begin;
    if (n == 0 || times == 0) return;
    // After a failed allocation [begin, end) may not exist: nothing more is written.
    if (ARROW_PREDICT_FALSE(!status_.ok() || end > size_)) return;
    if (ARROW_PREDICT_FALSE(size_ + n * times > capacity_) && !Grow(size_ + n * times))
      return;
    if (end != size_) {
      for (int64_t t = 0; t < times; ++t) {
        std::memcpy(data_ + size_, data_ + begin, static_cast<size_t>(n) * sizeof(T));
        size_ += n;
      }
      return;
    }
    // The range is the tail (a resource's attributes just written, to be repeated on
    // each of its spans): copy the copies, doubling, so that a thousand repetitions
    // take ten memcpy calls rather than a thousand.
    int64_t copies = 0;
    while (copies < times) {
      const int64_t chunk = std::min(copies + 1, times - copies);
      std::memcpy(data_ + size_, data_ + begin,
                  static_cast<size_t>(chunk * n) * sizeof(T));
      size_ += chunk * n;
      copies += chunk;
    }
  }

  /// Hands the contents over as an Arrow buffer and starts anew. The next buffer is
  /// not allocated here (a one-shot encoder would hold twice the batch for nothing):
  /// it starts small and its first growth goes straight to this batch's size.
  arrow::Result<std::shared_ptr<arrow::Buffer>> Finish() {
    ARROW_RETURN_NOT_OK(status_);
    if (buffer_ == nullptr) ARROW_RETURN_NOT_OK(Grow(1) ? arrow::Status::OK() : status_);
    ARROW_RETURN_NOT_OK(buffer_->Resize(size_ * static_cast<int64_t>(sizeof(T)),
                                        /*shrink_to_fit=*/false));
    std::shared_ptr<arrow::Buffer> out = std::move(buffer_);
    capacity_hint_ = size_;
    buffer_.reset();
    data_ = nullptr;
    size_ = capacity_ = 0;
    return out;
  }

  void Reset() {
    size_ = 0;
    status_ = arrow::Status::OK();
  }

  void SaveMark(Marks* marks) const { marks->push_back(size_); }
  /// Back to the size of the mark. A failed allocation since is forgotten: nothing was
  /// written after it, and what came before the mark is intact.
  void Rollback(MarkReader* marks) { Truncate(marks->Next()); }
  void Truncate(int64_t size) {
    size_ = std::min(size_, size);
    status_ = arrow::Status::OK();
  }
  int64_t bytes() const { return size_ * static_cast<int64_t>(sizeof(T)); }

 private:
  bool Grow(int64_t min_capacity) {
    if (!status_.ok()) return false;
    int64_t capacity = capacity_ == 0 ? 64 : capacity_;
    if (min_capacity > capacity && capacity < capacity_hint_) capacity = capacity_hint_;
    while (capacity < min_capacity) capacity *= 2;
    const int64_t bytes = capacity * static_cast<int64_t>(sizeof(T));
    if (buffer_ == nullptr) {
      auto made = arrow::AllocateResizableBuffer(bytes, pool_);
      if (!made.ok()) {
        status_ = made.status();
        return false;
      }
      buffer_ = std::move(*made);
    } else {
      status_ = buffer_->Resize(bytes, /*shrink_to_fit=*/false);
      if (!status_.ok()) return false;
    }
    data_ = reinterpret_cast<T*>(buffer_->mutable_data());
    capacity_ = capacity;
    return true;
  }

  arrow::MemoryPool* pool_;
  std::shared_ptr<arrow::ResizableBuffer> buffer_;
  T* data_ = nullptr;
  int64_t size_ = 0;
  int64_t capacity_ = 0;
  int64_t capacity_hint_ = 0;  ///< size of the last batch's buffer
  arrow::Status status_;
};

/// Packs one byte per slot (0 or 1) into an Arrow bitmap.
arrow::Result<std::shared_ptr<arrow::Buffer>> PackBits(const uint8_t* bytes, int64_t n,
                                                       arrow::MemoryPool* pool);

/// Validity of a column: nothing until the first null, then one byte per slot.
class ValidityWriter {
 public:
  explicit ValidityWriter(arrow::MemoryPool* pool) : pool_(pool), bytes_(pool) {}

  void AppendValid() {
    if (ARROW_PREDICT_FALSE(null_count_ > 0)) bytes_.Append(1);
    ++length_;
  }
  void AppendValid(int64_t n) {
    if (ARROW_PREDICT_FALSE(null_count_ > 0)) bytes_.AppendRepeated(1, n);
    length_ += n;
  }
  void AppendNull() {
    if (ARROW_PREDICT_FALSE(null_count_ == 0)) bytes_.AppendRepeated(1, length_);
    bytes_.Append(0);
    ++length_;
    ++null_count_;
  }
  void AppendNull(int64_t n) {
    if (n == 0) return;
    if (null_count_ == 0) bytes_.AppendRepeated(1, length_);
    bytes_.AppendRepeated(0, n);
    length_ += n;
    null_count_ += n;
  }
  /// Appends `times` copies of slots [begin, end).
  void RepeatRange(int64_t begin, int64_t end, int64_t times) {
    if (null_count_ > 0) {
      int64_t nulls = 0;
      for (int64_t i = begin; i < end; ++i) nulls += bytes_.data()[i] == 0;
      bytes_.RepeatRange(begin, end, times);
      null_count_ += nulls * times;
    }
    length_ += (end - begin) * times;
  }
  int64_t length() const { return length_; }
  int64_t null_count() const { return null_count_; }
  const arrow::Status& status() const { return bytes_.status(); }

  void SaveMark(Marks* marks) const {
    marks->push_back(length_);
    marks->push_back(null_count_);
  }
  void Rollback(MarkReader* marks) {
    length_ = marks->Next();
    null_count_ = marks->Next();
    // Before the first null there are no bytes: drop them if the nulls came after.
    if (null_count_ > 0) {
      bytes_.Truncate(length_);
    } else {
      bytes_.Reset();
    }
  }
  /// The packed bitmap's size (none without nulls).
  int64_t bytes() const { return null_count_ > 0 ? (length_ + 7) / 8 : 0; }

  /// The bitmap (null when there are no nulls); resets for the next batch.
  arrow::Result<std::shared_ptr<arrow::Buffer>> Finish() {
    ARROW_RETURN_NOT_OK(bytes_.status());
    std::shared_ptr<arrow::Buffer> out;
    if (null_count_ > 0) {
      ARROW_ASSIGN_OR_RAISE(out, PackBits(bytes_.data(), length_, pool_));
    }
    bytes_.Reset();
    length_ = null_count_ = 0;
    return out;
  }

 private:
  arrow::MemoryPool* pool_;
  PodBuffer<uint8_t> bytes_;
  int64_t length_ = 0;
  int64_t null_count_ = 0;
};

/// A fixed-width column of T (integers, floats, timestamps).
template <typename T>
class FixedWriter {
 public:
  explicit FixedWriter(arrow::MemoryPool* pool) : values_(pool), validity_(pool) {}

  void Append(T v) {
    values_.Append(v);
    validity_.AppendValid();
  }
  void AppendNull() {
    values_.Append(T{});
    validity_.AppendNull();
  }
  void AppendRepeated(T v, int64_t n) {
    values_.AppendRepeated(v, n);
    validity_.AppendValid(n);
  }
  void AppendNulls(int64_t n) {
    values_.AppendRepeated(T{}, n);
    validity_.AppendNull(n);
  }
  void RepeatRange(int64_t begin, int64_t end, int64_t times) {
    values_.RepeatRange(begin, end, times);
    validity_.RepeatRange(begin, end, times);
  }
  int64_t length() const { return validity_.length(); }

  void SaveMark(Marks* marks) const {
    values_.SaveMark(marks);
    validity_.SaveMark(marks);
  }
  void Rollback(MarkReader* marks) {
    values_.Rollback(marks);
    validity_.Rollback(marks);
  }
  int64_t bytes() const { return values_.bytes() + validity_.bytes(); }
  bool ok() const { return values_.status().ok() && validity_.status().ok(); }

  arrow::Result<std::shared_ptr<arrow::ArrayData>> Finish(
      const std::shared_ptr<arrow::DataType>& type) {
    const int64_t length = validity_.length();
    const int64_t nulls = validity_.null_count();
    ARROW_ASSIGN_OR_RAISE(auto bitmap, validity_.Finish());
    ARROW_ASSIGN_OR_RAISE(auto values, values_.Finish());
    return arrow::ArrayData::Make(type, length, {std::move(bitmap), std::move(values)},
                                  nulls);
  }

 private:
  PodBuffer<T> values_;
  ValidityWriter validity_;
};

/// A boolean column: one byte per value while appending, packed at Finish().
class BoolWriter {
 public:
  explicit BoolWriter(arrow::MemoryPool* pool)
      : pool_(pool), bytes_(pool), validity_(pool) {}
  void Append(bool v) {
    bytes_.Append(v ? 1 : 0);
    validity_.AppendValid();
  }
  void AppendNull() {
    bytes_.Append(0);
    validity_.AppendNull();
  }
  void RepeatRange(int64_t begin, int64_t end, int64_t times) {
    bytes_.RepeatRange(begin, end, times);
    validity_.RepeatRange(begin, end, times);
  }
  void SaveMark(Marks* marks) const {
    bytes_.SaveMark(marks);
    validity_.SaveMark(marks);
  }
  void Rollback(MarkReader* marks) {
    bytes_.Rollback(marks);
    validity_.Rollback(marks);
  }
  int64_t bytes() const { return (bytes_.size() + 7) / 8 + validity_.bytes(); }
  bool ok() const { return bytes_.status().ok() && validity_.status().ok(); }
  arrow::Result<std::shared_ptr<arrow::ArrayData>> Finish() {
    ARROW_RETURN_NOT_OK(bytes_.status());
    const int64_t length = validity_.length();
    const int64_t nulls = validity_.null_count();
    ARROW_ASSIGN_OR_RAISE(auto bitmap, validity_.Finish());
    ARROW_ASSIGN_OR_RAISE(auto values, PackBits(bytes_.data(), length, pool_));
    bytes_.Reset();
    return arrow::ArrayData::Make(arrow::boolean(), length,
                                  {std::move(bitmap), std::move(values)}, nulls);
  }

 private:
  arrow::MemoryPool* pool_;
  PodBuffer<uint8_t> bytes_;
  ValidityWriter validity_;
};

/// A fixed_size_binary column of Width bytes per value (ids: 16 or 8).
template <int Width>
class FixedBinaryWriter {
 public:
  explicit FixedBinaryWriter(arrow::MemoryPool* pool) : bytes_(pool), validity_(pool) {}
  /// `value` must hold Width bytes (the caller has checked).
  void Append(const char* value) {
    bytes_.template AppendFixed<Width>(reinterpret_cast<const uint8_t*>(value));
    validity_.AppendValid();
  }
  void AppendNull() {
    bytes_.AppendRepeated(0, Width);
    validity_.AppendNull();
  }
  void SaveMark(Marks* marks) const {
    bytes_.SaveMark(marks);
    validity_.SaveMark(marks);
  }
  void Rollback(MarkReader* marks) {
    bytes_.Rollback(marks);
    validity_.Rollback(marks);
  }
  int64_t bytes() const { return bytes_.bytes() + validity_.bytes(); }
  bool ok() const { return bytes_.status().ok() && validity_.status().ok(); }
  arrow::Result<std::shared_ptr<arrow::ArrayData>> Finish() {
    const int64_t length = validity_.length();
    const int64_t nulls = validity_.null_count();
    ARROW_ASSIGN_OR_RAISE(auto bitmap, validity_.Finish());
    ARROW_ASSIGN_OR_RAISE(auto values, bytes_.Finish());
    return arrow::ArrayData::Make(arrow::fixed_size_binary(Width), length,
                                  {std::move(bitmap), std::move(values)}, nulls);
  }

 private:
  PodBuffer<uint8_t> bytes_;
  ValidityWriter validity_;
};

/// A utf8 or binary column with 32-bit offsets.
class StringWriter {
 public:
  explicit StringWriter(arrow::MemoryPool* pool)
      : offsets_(pool), data_(pool), validity_(pool) {
    offsets_.Append(0);
  }
  void Append(std::string_view v) {
    data_.Append(reinterpret_cast<const uint8_t*>(v.data()),
                 static_cast<int64_t>(v.size()));
    AppendOffset();
    validity_.AppendValid();
  }
  void AppendNull() {
    offsets_.Append(offsets_.data()[offsets_.size() - 1]);
    validity_.AppendNull();
  }
  void AppendNulls(int64_t n) {
    offsets_.AppendRepeated(offsets_.data()[offsets_.size() - 1], n);
    validity_.AppendNull(n);
  }
  /// Appends `times` copies of the values [begin, end) already in this column.
  void RepeatRange(int64_t begin, int64_t end, int64_t times) {
    if (begin == end || times == 0) return;
    // After a failed allocation the offsets of [begin, end) may never have been
    // written: nothing more is (the caller rolls back).
    if (!offsets_.status().ok() || !data_.status().ok()) return;
    // The characters of the values are contiguous: copied as one block per repetition
    // (doubling when they are the tail), the offsets shifted by the block's size.
    const int32_t first = offsets_.data()[begin];
    const int64_t bytes = offsets_.data()[end] - first;
    const int64_t base = data_.size();
    // Past 2 GiB the offsets have wrapped and Finish() refuses the column; copy nothing.
    if (base <= std::numeric_limits<int32_t>::max() && bytes >= 0) {
      data_.RepeatRange(first, offsets_.data()[end], times);
    }
    for (int64_t t = 0; t < times; ++t) {
      const int64_t shift = base + t * bytes - first;
      for (int64_t i = begin + 1; i <= end; ++i) {
        // Offsets past 2 GiB wrap here and are refused in Finish(), as in Append().
        offsets_.Append(static_cast<int32_t>(offsets_.data()[i] + shift));
      }
    }
    validity_.RepeatRange(begin, end, times);
  }
  int64_t length() const { return validity_.length(); }
  void SaveMark(Marks* marks) const {
    offsets_.SaveMark(marks);
    data_.SaveMark(marks);
    validity_.SaveMark(marks);
  }
  void Rollback(MarkReader* marks) {
    offsets_.Rollback(marks);
    data_.Rollback(marks);
    validity_.Rollback(marks);
  }
  int64_t bytes() const { return offsets_.bytes() + data_.bytes() + validity_.bytes(); }
  /// False after a failed allocation, or with more characters than 32-bit offsets
  /// reach (Finish() would refuse the column).
  bool ok() const {
    return offsets_.status().ok() && data_.status().ok() && validity_.status().ok() &&
           data_.size() <= std::numeric_limits<int32_t>::max();
  }
  /// The value at `i` (valid until the next append).
  std::string_view View(int64_t i) const {
    const int32_t* offsets = offsets_.data();
    return {reinterpret_cast<const char*>(data_.data()) + offsets[i],
            static_cast<size_t>(offsets[i + 1] - offsets[i])};
  }

  arrow::Result<std::shared_ptr<arrow::ArrayData>> Finish(
      const std::shared_ptr<arrow::DataType>& type) {
    if (data_.size() > std::numeric_limits<int32_t>::max()) {
      return arrow::Status::CapacityError("string column over 2 GiB in one batch");
    }
    const int64_t length = validity_.length();
    const int64_t nulls = validity_.null_count();
    ARROW_ASSIGN_OR_RAISE(auto bitmap, validity_.Finish());
    ARROW_ASSIGN_OR_RAISE(auto offsets, offsets_.Finish());
    ARROW_ASSIGN_OR_RAISE(auto data, data_.Finish());
    offsets_.Append(0);
    return arrow::ArrayData::Make(
        type, length, {std::move(bitmap), std::move(offsets), std::move(data)}, nulls);
  }

 private:
  void AppendOffset() {
    // Offsets past 2 GiB wrap here and are refused in Finish().
    offsets_.Append(static_cast<int32_t>(data_.size()));
  }

  PodBuffer<int32_t> offsets_;
  PodBuffer<uint8_t> data_;
  ValidityWriter validity_;
};

/// a == b for the short strings of telemetry, without a call into libc for up to 32
/// bytes.
inline bool SameShortString(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  if (n > 32) return std::memcmp(a.data(), b.data(), n) == 0;
  if (n >= 8) {
    uint64_t x, y, acc = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::memcpy(&x, a.data() + i, 8);
      std::memcpy(&y, b.data() + i, 8);
      acc |= x ^ y;
    }
    std::memcpy(&x, a.data() + n - 8, 8);
    std::memcpy(&y, b.data() + n - 8, 8);
    return (acc | (x ^ y)) == 0;
  }
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

/// Hash of a short string (keys and values of attributes): 8 bytes at a time, a
/// multiply-xorshift mix per word. Not for untrusted adversarial keys in a long-lived
/// table; the dictionaries here live for one batch.
inline uint64_t HashShortString(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xFF51AFD7ED558CCDULL);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t w = 0;
    CopySmall(&w, p, n);
    h = (h ^ w) * 0x94D049BB133111EBULL;
    h ^= h >> 29;
  }
  return h;
}

/// \brief The distinct strings of one batch, each with its int32 dictionary index: the
/// dictionary of a dictionary<int32, utf8> column. Open addressing with linear probing;
/// a slot keeps the index and 32 bits of the hash, so a miss rarely compares strings.
class StringDictionary {
 public:
  explicit StringDictionary(arrow::MemoryPool* pool)
      : pool_(pool), values_(pool), slots_(pool) {}

  /// The index of `v`, added when new.
  int32_t IndexOf(std::string_view v) {
    if (ARROW_PREDICT_FALSE(2 * (size_ + 1) > capacity_)) {
      Rehash();
      if (!slots_.status().ok()) return 0;  // out of memory: Finish() reports it
    }
    const uint64_t h = HashShortString(v);
    const uint32_t tag = static_cast<uint32_t>(h >> 32);
    Slot* slots = slots_.data();
    for (uint64_t i = h & (capacity_ - 1);; i = (i + 1) & (capacity_ - 1)) {
      Slot& slot = slots[i];
      if (slot.index_plus_one == 0) {
        slot = {size_ + 1, tag};
        values_.Append(v);
        return size_++;
      }
      if (slot.tag == tag && SameShortString(values_.View(slot.index_plus_one - 1), v)) {
        return slot.index_plus_one - 1;
      }
    }
  }
  /// IndexOf(v), trying `*hint` first (an index the caller saw at the same place last
  /// time: attributes come in the same order span after span), and updating it.
  int32_t IndexOf(std::string_view v, int32_t* hint) {
    const int32_t h = *hint;
    if (h >= 0 && h < size_ && SameShortString(values_.View(h), v)) return h;
    return *hint = IndexOf(v);
  }
  /// IndexOf(v), trying `*hint` and then `second` first.
  int32_t IndexOf(std::string_view v, int32_t* hint, int32_t second) {
    if (second >= 0 && second < size_ && SameShortString(values_.View(second), v)) {
      return *hint = second;
    }
    return IndexOf(v, hint);
  }
  int32_t size() const { return size_; }

  void SaveMark(Marks* marks) const {
    values_.SaveMark(marks);
    marks->push_back(size_);
  }
  /// Back to the strings of the mark; the hash table is rebuilt when strings go.
  void Rollback(MarkReader* marks) {
    values_.Rollback(marks);
    const auto size = static_cast<int32_t>(marks->Next());
    if (size == size_ && slots_.status().ok()) return;
    size_ = size;
    const int64_t capacity = std::max<int64_t>(64, capacity_);
    capacity_ = 0;
    Rebuild(capacity);
    if (!slots_.status().ok()) {
      // Out of memory again (the rollback of a request that ran out): no table; the
      // next IndexOf() builds it, so the rows before the mark still finish.
      slots_ = PodBuffer<Slot>(pool_);
      capacity_ = 0;
    }
  }
  int64_t bytes() const { return values_.bytes(); }
  bool ok() const { return values_.ok() && slots_.status().ok(); }

  /// The dictionary (utf8, no nulls); starts a new, empty one.
  arrow::Result<std::shared_ptr<arrow::ArrayData>> Finish() {
    ARROW_RETURN_NOT_OK(slots_.status());
    ARROW_ASSIGN_OR_RAISE(auto values, values_.Finish(arrow::utf8()));
    // A small table is kept for the next batch; a large one (many distinct values)
    // is given back, so a reused encoder holds little between batches.
    if (capacity_ <= kKeptCapacity) {
      if (capacity_ > 0) std::memset(slots_.data(), 0, capacity_ * sizeof(Slot));
    } else {
      slots_ = PodBuffer<Slot>(pool_);
      start_capacity_ = capacity_;  // the next batch starts at this size
      capacity_ = 0;
    }
    size_ = 0;
    return values;
  }

 private:
  struct Slot {
    int32_t index_plus_one;  // 0: empty
    uint32_t tag;            // high half of the hash
  };

  void Rehash() {
    Rebuild(capacity_ == 0 ? std::max<int64_t>(64, start_capacity_) : capacity_ * 2);
  }

  /// A table of at least `capacity` slots (a power of two), at most half full, holding
  /// the strings there are.
  void Rebuild(int64_t capacity) {
    while (2 * (static_cast<int64_t>(size_) + 1) > capacity) capacity *= 2;
    slots_.Reset();
    slots_.AppendRepeated(Slot{0, 0}, capacity);
    if (!slots_.status().ok()) return;
    capacity_ = capacity;
    Slot* slots = slots_.data();
    for (int32_t index = 0; index < size_; ++index) {
      const uint64_t h = HashShortString(values_.View(index));
      uint64_t i = h & (capacity_ - 1);
      while (slots[i].index_plus_one != 0) i = (i + 1) & (capacity_ - 1);
      slots[i] = {index + 1, static_cast<uint32_t>(h >> 32)};
    }
  }

  static constexpr int64_t kKeptCapacity = 1024;  // 8 KiB

  arrow::MemoryPool* pool_;
  StringWriter values_;
  PodBuffer<Slot> slots_;
  int64_t capacity_ = 0;
  int64_t start_capacity_ = 0;
  int32_t size_ = 0;
};

/// List (or map) offsets: one slot per parent row.
class OffsetsWriter {
 public:
  explicit OffsetsWriter(arrow::MemoryPool* pool) : offsets_(pool) { offsets_.Append(0); }
  /// Closes the current slot at child length `end`.
  void Append(int64_t end) { offsets_.Append(static_cast<int32_t>(end)); }
  void AppendEmpty(int64_t n) {
    offsets_.AppendRepeated(offsets_.data()[offsets_.size() - 1], n);
  }
  int64_t slots() const { return offsets_.size() - 1; }
  int32_t last() const { return offsets_.data()[offsets_.size() - 1]; }
  int32_t at(int64_t slot) const { return offsets_.data()[slot]; }
  void SaveMark(Marks* marks) const { offsets_.SaveMark(marks); }
  void Rollback(MarkReader* marks) { offsets_.Rollback(marks); }
  int64_t bytes() const { return offsets_.bytes(); }
  bool ok() const { return offsets_.status().ok(); }
  arrow::Result<std::shared_ptr<arrow::Buffer>> Finish(int64_t child_length) {
    if (child_length > std::numeric_limits<int32_t>::max()) {
      return arrow::Status::CapacityError("list column over 2^31 entries in one batch");
    }
    ARROW_ASSIGN_OR_RAISE(auto out, offsets_.Finish());
    offsets_.Append(0);
    return out;
  }

 private:
  PodBuffer<int32_t> offsets_;
};

}  // namespace otlp_arrow::convert::internal
