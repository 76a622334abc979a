// CachingAllocator: keeps freed device blocks for reuse so a training step, after
// the first, performs no cudaMalloc/cudaFree. Sizes are rounded (512 B steps below
// 1 MiB, 2 MiB steps above) and a request is served by the smallest cached block
// that fits and is at most twice its size. Device-neutral (takes raw alloc/free),
// so it is tested on the host. Reuse is safe without events because kiln issues
// all work of a device on one stream, in order.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>

namespace kiln {

class CachingAllocator {
 public:
  struct Stats {
    std::size_t raw_allocs = 0, cache_hits = 0, bytes_in_use = 0, bytes_cached = 0;
  };

  CachingAllocator(std::function<void*(std::size_t)> raw_alloc,
                   std::function<void(void*)> raw_free);
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  void* alloc(std::size_t bytes);
  void free(void* ptr);
  void empty_cache();  // returns every cached block to raw_free
  Stats stats() const;

  static std::size_t round_size(std::size_t bytes);

 private:
  std::function<void*(std::size_t)> raw_alloc_;
  std::function<void(void*)> raw_free_;
  std::multimap<std::size_t, void*> cached_;         // size -> free block
  std::unordered_map<void*, std::size_t> in_use_;    // block -> size
  Stats stats_;
  mutable std::mutex mutex_;
};

}  // namespace kiln
