// The simt device's memory under memcheck, apart from the rest of the emulator
// so that the runtime can allocate without seeing CUDA's names.
#pragma once

#include <cstddef>

namespace kiln::simt {

// Memcheck (KILN_SIMT_MEMCHECK=1 when the process starts, or set_memcheck):
//  - every simt allocation gets its own mapping whose data ends 16-byte aligned
//    right before a PROT_NONE guard page, with another guard page below; the
//    bytes between the data and the guards (the front of the first page, the
//    alignment slack at the end) are a redzone filled with a NaN pattern;
//  - dynamic shared memory likewise ends at a guard page and has a redzone in
//    front;
//  - a read or write that reaches a guard page faults and the launch throws a
//    KernelError naming the kernel, the allocation (and the kernel argument that
//    points into it) and the byte offset; a redzone write is found when the
//    launch ends (global memory) or the block ends (dynamic shared memory).
// Without memcheck a fault in a kernel (any SIGSEGV, a stack overflow, an
// integer division by zero) is a KernelError too, without the allocation.
bool memcheck();
void set_memcheck(bool on);  // applies to later allocations and launches
void* memcheck_alloc(std::size_t bytes);  // poisoned with 0xFF like other simt memory
bool memcheck_free(void* ptr);            // false if ptr is not a memcheck allocation

}  // namespace kiln::simt
