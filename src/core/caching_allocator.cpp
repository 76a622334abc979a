#include "core/caching_allocator.h"

#include "kiln/error.h"

namespace kiln {

CachingAllocator::CachingAllocator(std::function<void*(std::size_t)> raw_alloc,
                                   std::function<void(void*)> raw_free)
    : raw_alloc_(std::move(raw_alloc)), raw_free_(std::move(raw_free)) {}

CachingAllocator::~CachingAllocator() { empty_cache(); }

std::size_t CachingAllocator::round_size(std::size_t bytes) {
  constexpr std::size_t kSmallStep = 512, kLargeStep = 2u << 20, kLarge = 1u << 20;
  const std::size_t step = bytes < kLarge ? kSmallStep : kLargeStep;
  return bytes == 0 ? step : (bytes + step - 1) / step * step;
}

void* CachingAllocator::alloc(std::size_t bytes) {
  const std::size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = cached_.lower_bound(size);
  if (it != cached_.end() && it->first <= 2 * size) {
    void* ptr = it->second;
    const std::size_t block = it->first;
    cached_.erase(it);
    in_use_[ptr] = block;
    stats_.bytes_cached -= block;
    stats_.bytes_in_use += block;
    ++stats_.cache_hits;
    return ptr;
  }
  void* ptr = raw_alloc_(size);
  if (!ptr && !cached_.empty()) {  // out of memory: give the cache back and retry once
    for (auto& [block, p] : cached_) raw_free_(p);
    cached_.clear();
    stats_.bytes_cached = 0;
    ptr = raw_alloc_(size);
  }
  KILN_CHECK(ptr != nullptr, "device out of memory allocating ", bytes, " bytes (",
             stats_.bytes_in_use, " bytes in use); try a smaller --batch-size");
  in_use_[ptr] = size;
  stats_.bytes_in_use += size;
  ++stats_.raw_allocs;
  return ptr;
}

void CachingAllocator::free(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = in_use_.find(ptr);
  KILN_CHECK(it != in_use_.end(), "CachingAllocator::free of a pointer it did not allocate");
  cached_.emplace(it->second, ptr);
  stats_.bytes_in_use -= it->second;
  stats_.bytes_cached += it->second;
  in_use_.erase(it);
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [size, ptr] : cached_) raw_free_(ptr);
  cached_.clear();
  stats_.bytes_cached = 0;
}

CachingAllocator::Stats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace kiln
