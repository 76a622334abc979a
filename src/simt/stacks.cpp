#include "simt/stacks.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "kiln/error.h"

namespace kiln::simt::detail {
namespace {

std::size_t page_size() {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

std::size_t read_stack_size() {
  std::size_t kib = 128;
  if (const char* env = std::getenv("KILN_SIMT_STACK_KB"); env && *env) {
    char* end = nullptr;
    const unsigned long long value = std::strtoull(env, &end, 10);
    KILN_CHECK(*end == '\0' && value >= 64 && value <= 64 * 1024,
               "KILN_SIMT_STACK_KB must be a whole number of KiB in [64, 65536], got '", env,
               "'");
    kib = static_cast<std::size_t>(value);
  }
  const std::size_t bytes = kib * 1024;
  return (bytes + page_size() - 1) / page_size() * page_size();
}

// Stacks are never unmapped: a process that launched a 1024-thread block once is
// likely to do so again, and the untouched pages of a mapping cost no memory.
struct Pool {
  std::mutex mutex;
  std::vector<void*> free;  // lowest address (the guard page) of each free mapping
};
Pool& pool() {
  static Pool* instance = new Pool;  // leaked: fibers may outlive static destructors
  return *instance;
}

}  // namespace

std::size_t stack_size() {
  static const std::size_t size = read_stack_size();
  return size;
}

boost::context::stack_context PooledStack::allocate() {
  const std::size_t usable = stack_size();
  void* base = nullptr;
  {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    if (!p.free.empty()) {
      base = p.free.back();
      p.free.pop_back();
    }
  }
  if (!base) {
    const std::size_t total = usable + page_size();
    base = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                  -1, 0);
    if (base == MAP_FAILED) throw std::bad_alloc();
    if (::mprotect(base, page_size(), PROT_NONE) != 0) {
      ::munmap(base, total);
      throw std::bad_alloc();
    }
  }
  boost::context::stack_context stack;
  stack.size = usable;
  stack.sp = static_cast<char*>(base) + page_size() + usable;  // stacks grow down
  return stack;
}

void PooledStack::deallocate(boost::context::stack_context& stack) noexcept {
  void* base = static_cast<char*>(stack.sp) - stack.size - page_size();
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  try {
    p.free.push_back(base);
  } catch (...) {
    ::munmap(base, stack.size + page_size());
  }
}

}  // namespace kiln::simt::detail
