// Guard-paged fiber stacks, kept in a free list so a launch of many small blocks
// does not mmap/munmap a stack per emulated thread.
#pragma once

#include <cstddef>

#include <boost/context/stack_context.hpp>

namespace kiln::simt::detail {

// Usable stack bytes per fiber: KILN_SIMT_STACK_KB (at least 64) or 128 KiB.
std::size_t stack_size();

// A Boost.Context StackAllocator (copyable; all copies share the one pool).
// Each stack is one mapping whose lowest page is PROT_NONE, so an overflow
// faults instead of silently writing into the neighbouring stack.
struct PooledStack {
  boost::context::stack_context allocate();
  void deallocate(boost::context::stack_context& stack) noexcept;
};

}  // namespace kiln::simt::detail
