#include "core/caching_allocator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "kiln/error.h"

namespace kiln {
namespace {

struct CountingHeap {
  int allocs = 0, frees = 0;
  std::set<void*> live;
  CachingAllocator make() {
    return CachingAllocator(
        [this](std::size_t n) {
          ++allocs;
          void* p = std::malloc(n);
          live.insert(p);
          return p;
        },
        [this](void* p) {
          ++frees;
          live.erase(p);
          std::free(p);
        });
  }
};

TEST(CachingAllocator, ReusesFreedBlocksWithoutRawAllocations) {
  CountingHeap heap;
  {
    CachingAllocator a = heap.make();
    for (int step = 0; step < 10; ++step) {  // a "training step" allocating the same sizes
      void* x = a.alloc(1000);
      void* y = a.alloc(300000);
      a.free(x);
      a.free(y);
    }
    EXPECT_EQ(heap.allocs, 2);
    EXPECT_EQ(a.stats().cache_hits, 18u);
  }
  EXPECT_EQ(heap.frees, 2);  // the destructor returns the cache
  EXPECT_TRUE(heap.live.empty());
}

TEST(CachingAllocator, DoesNotServeFromBlocksMoreThanTwiceTheRequest) {
  CountingHeap heap;
  CachingAllocator a = heap.make();
  a.free(a.alloc(1 << 16));
  void* small = a.alloc(512);
  EXPECT_EQ(heap.allocs, 2);
  a.free(small);
}

TEST(CachingAllocator, RoundsSizes) {
  EXPECT_EQ(CachingAllocator::round_size(0), 512u);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024u);
  EXPECT_EQ(CachingAllocator::round_size((1u << 20) + 1), 2u << 20);
}

TEST(CachingAllocator, RetriesAfterEmptyingTheCacheWhenOutOfMemory) {
  int budget = 1;  // blocks the raw allocator may hand out before it is "out of memory"
  CachingAllocator a(
      [&](std::size_t n) -> void* {
        if (budget == 0) return nullptr;
        --budget;
        return std::malloc(n);
      },
      [&](void* p) {
        ++budget;
        std::free(p);
      });
  a.free(a.alloc(512));
  void* big = a.alloc(1 << 22);  // the cached 512 B block cannot serve it: evict, retry
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(a.stats().bytes_cached, 0u);
  EXPECT_THROW(a.alloc(1 << 22), Error);  // nothing left to evict
  a.free(big);
}

TEST(CachingAllocator, RejectsForeignPointers) {
  CountingHeap heap;
  CachingAllocator a = heap.make();
  int x = 0;
  EXPECT_THROW(a.free(&x), Error);
}

}  // namespace
}  // namespace kiln
