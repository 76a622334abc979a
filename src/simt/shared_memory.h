// The static __shared__ arrays of every loaded object, found once in the objects'
// ELF symbol tables, so that each block start can poison them (see simt.h).
#pragma once

#include "simt/simt.h"

namespace kiln::simt::detail {

// All three expect the launch mutex held: they share one cached scan.
// Rescans when an object was loaded or unloaded since the last scan (a few
// milliseconds); otherwise costs one dl_iterate_phdr step.
void update_static_shared();
// Writes 0xFF over every array found by the last update (one memset per range).
void poison_static_shared();
SharedPoison static_shared_coverage();
// True for the mangled name of a static __shared__ array (tagged kiln_shared).
bool is_shared_array(const char* name);

}  // namespace kiln::simt::detail
