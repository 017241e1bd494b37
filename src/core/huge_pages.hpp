// An allocator for large arrays read at random (the locator's fast grid and leaf records): blocks
// of 4 MB and more are mapped on 2 MB boundaries and marked MADV_HUGEPAGE, so that the kernel
// backs them with transparent huge pages where it can ("madvise" mode, Debian's default).
//
// Why: a random point touches a few cache lines spread over hundreds of megabytes. With 4 KB
// pages each of those reads also misses the TLB, and the page walk itself misses the cache; with
// 2 MB pages the TLB covers the whole index. Where huge pages are unavailable the memory is
// ordinary memory: the hint changes speed, never behaviour.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

namespace wangge {

template <typename T>
class HugePageAllocator {
 public:
  using value_type = T;
  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n > max_size()) throw std::bad_array_new_length();
    const std::size_t bytes = n * sizeof(T);
    if (bytes < kThreshold) return std::allocator<T>{}.allocate(n);
    const std::size_t size = round_up(bytes);
    // Map one huge page more than needed and trim both ends to a 2 MB boundary.
    void* raw = mmap(nullptr, size + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const auto start = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t aligned = (start + kHuge - 1) & ~(kHuge - 1);
    if (aligned > start) munmap(raw, aligned - start);
    const std::uintptr_t tail = aligned + size, end = start + size + kHuge;
    if (end > tail) munmap(reinterpret_cast<void*>(tail), end - tail);
    madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);  // a hint; failure is harmless
    return reinterpret_cast<T*>(aligned);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < kThreshold) return std::allocator<T>{}.deallocate(p, n);
    munmap(p, round_up(bytes));
  }
  static constexpr std::size_t max_size() noexcept { return (std::size_t{1} << 46) / sizeof(T); }

  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }

 private:
  static constexpr std::size_t kHuge = std::size_t{2} << 20;
  static constexpr std::size_t kThreshold = std::size_t{4} << 20;
  static std::size_t round_up(std::size_t bytes) { return (bytes + kHuge - 1) & ~(kHuge - 1); }
};

template <typename T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace wangge
