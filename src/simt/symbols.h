// Names for error messages: which kernel a function pointer is.
#pragma once

#include <cstddef>
#include <string>

namespace kiln::simt::detail {

// The demangled name of the function at `address`, from the symbol table of the
// loaded object that holds it, or "the kernel at 0x..." without one. Reads the
// object's file: for error messages, not for every launch.
std::string function_name(const void* address);

// The bytes of static __shared__ arrays declared in the body of the kernel at
// `address` (found by their mangled names, which embed the kernel's); arrays
// in __device__ functions it calls are not counted. 0 without a symbol table.
std::size_t static_shared_bytes(const void* address);

}  // namespace kiln::simt::detail
