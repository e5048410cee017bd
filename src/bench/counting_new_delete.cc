// SPDX-License-Identifier: Apache-2.0
// Replaces the global operator new and delete so that MemoryMeasurement sees the heap:
// protobuf messages and arenas, strings, Arrow's C++ objects. Linked only into programs
// that measure (the benchmarks, their test, `otlp-arrow bench`), as an object library:
// a replacement in a static library would be dropped by the linker.
//
// Allocation is plain malloc, exactly as libstdc++'s own operator new; outside a
// measurement the only extra work is one relaxed atomic load. Sizes are malloc's usable
// sizes, the same on allocation and on release, so sized and unsized delete agree.

#include <malloc.h>

#include <cstdlib>
#include <new>

#include "memory_counter_internal.h"

namespace {

using otlp_arrow::bench::internal::g_counters;

[[maybe_unused]] const bool kLinked = [] {
  g_counters.heap_counting_linked.store(true, std::memory_order_relaxed);
  return true;
}();

void Counted(void* p) {
  if (p != nullptr && g_counters.enabled.load(std::memory_order_relaxed)) {
    otlp_arrow::bench::internal::OnHeapAllocate(
        static_cast<int64_t>(malloc_usable_size(p)));
  }
}

void* Allocate(std::size_t size) {
  if (size == 0) size = 1;
  for (;;) {
    if (void* p = std::malloc(size)) {
      Counted(p);
      return p;
    }
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

void* AllocateAligned(std::size_t size, std::align_val_t align) {
  const auto alignment = static_cast<std::size_t>(align);
  if (size == 0) size = 1;
  for (;;) {
    void* p = nullptr;
    if (posix_memalign(&p, alignment < sizeof(void*) ? sizeof(void*) : alignment, size) ==
        0) {
      Counted(p);
      return p;
    }
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

void Release(void* p) noexcept {
  if (p == nullptr) return;
  if (g_counters.enabled.load(std::memory_order_relaxed)) {
    otlp_arrow::bench::internal::OnHeapFree(static_cast<int64_t>(malloc_usable_size(p)));
  }
  std::free(p);
}

}  // namespace

void* operator new(std::size_t size) { return Allocate(size); }
void* operator new[](std::size_t size) { return Allocate(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return Allocate(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return Allocate(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t size, std::align_val_t align) {
  return AllocateAligned(size, align);
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return AllocateAligned(size, align);
}
void* operator new(std::size_t size, std::align_val_t align,
                   const std::nothrow_t&) noexcept {
  try {
    return AllocateAligned(size, align);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, std::align_val_t align,
                     const std::nothrow_t&) noexcept {
  try {
    return AllocateAligned(size, align);
  } catch (...) {
    return nullptr;
  }
}

void operator delete(void* p) noexcept { Release(p); }
void operator delete[](void* p) noexcept { Release(p); }
void operator delete(void* p, std::size_t) noexcept { Release(p); }
void operator delete[](void* p, std::size_t) noexcept { Release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { Release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { Release(p); }
void operator delete(void* p, std::align_val_t) noexcept { Release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { Release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { Release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { Release(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  Release(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  Release(p);
}
