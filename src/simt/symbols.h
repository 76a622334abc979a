// Names for error messages: which kernel a function pointer is.
#pragma once

#include <string>

namespace kiln::simt::detail {

// The demangled name of the function at `address`, from the symbol table of the
// loaded object that holds it, or "the kernel at 0x..." without one. Reads the
// object's file: for error messages, not for every launch.
std::string function_name(const void* address);

}  // namespace kiln::simt::detail
