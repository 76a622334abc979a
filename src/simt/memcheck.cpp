// Guarded allocations for memcheck: each one a mapping of its own,
//   [guard page][redzone | data | slack][guard page]
// with the data ending 16-byte aligned against the upper guard page. Freed
// mappings stay in a quarantine (PROT_NONE) so a use after free faults too.
#include "simt/memcheck.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <sstream>

#include "simt/symbols.h"

namespace kiln::simt {
namespace {

constexpr std::size_t kAlign = 16;
constexpr std::size_t kQuarantineBytes = std::size_t{64} << 20;
// Redzone bytes: a signalling NaN as float (0x7FBADBAD), so a read of one shows
// in results like the 0xFF poison does, and a write is told apart from both.
constexpr unsigned char kPattern[4] = {0xAD, 0xDB, 0xBA, 0x7F};

std::size_t page() {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}
std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }
std::uintptr_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

void fill_redzone(unsigned char* begin, unsigned char* end) {
  for (unsigned char* p = begin; p < end; ++p) *p = kPattern[addr(p) & 3u];
}
// The first byte in [begin, end) that is not the pattern, or null.
const unsigned char* first_written(const unsigned char* begin, const unsigned char* end) {
  for (const unsigned char* p = begin; p < end; ++p) {
    if (*p != kPattern[addr(p) & 3u]) return p;
  }
  return nullptr;
}

std::atomic<bool>& enabled() {
  static std::atomic<bool> on{[] {
    const char* env = std::getenv("KILN_SIMT_MEMCHECK");
    return env && *env && std::strcmp(env, "0") != 0;
  }()};
  return on;
}

struct Allocation {
  unsigned char* mapping;  // the lower guard page
  std::size_t mapping_bytes;
  unsigned char* data;
  std::size_t bytes;
  std::uint64_t id;
  unsigned char* redzone() const { return mapping + page(); }
  unsigned char* slack_end() const { return data + round_up(bytes ? bytes : 1, kAlign); }
};

struct Registry {
  std::mutex mutex;
  std::map<std::uintptr_t, Allocation> live;  // by mapping address
  std::deque<Allocation> freed;               // oldest first, PROT_NONE
  std::size_t freed_bytes = 0;
  std::uint64_t next_id = 1;
};
Registry& registry() {
  static Registry* r = new Registry;  // leaked: buffers may be freed in static destruction
  return *r;
}

// The allocation whose mapping holds `address`, from `live` or `freed`.
const Allocation* find(const Registry& r, std::uintptr_t address, bool& freed) {
  freed = false;
  auto it = r.live.upper_bound(address);
  if (it != r.live.begin()) {
    --it;
    if (address - it->first < it->second.mapping_bytes) return &it->second;
  }
  for (auto f = r.freed.rbegin(); f != r.freed.rend(); ++f) {
    if (address - addr(f->mapping) < f->mapping_bytes) {
      freed = true;
      return &*f;
    }
  }
  return nullptr;
}

std::string describe_allocation(const Allocation& a, const LaunchInfo& info) {
  std::ostringstream out;
  out << "allocation #" << a.id << " (" << a.bytes << " bytes at " << static_cast<void*>(a.data);
  for (std::size_t i = 0; i < info.arg_count; ++i) {
    const std::uintptr_t p = addr(info.pointer_args[i]);
    if (info.pointer_args[i] && p >= addr(a.data) && p <= addr(a.data) + a.bytes) {
      out << ", kernel argument " << i + 1;
      break;
    }
  }
  out << ")";
  return out.str();
}

// ---- dynamic shared memory -------------------------------------------------------
struct DynamicShared {
  unsigned char* begin = nullptr;  // usable: [begin, end), guard pages either side
  unsigned char* end = nullptr;
  unsigned char* data = nullptr;
  std::size_t bytes = 0;
  unsigned char* protected_to = nullptr;  // [begin, protected_to) is PROT_NONE
};
DynamicShared& dynamic_shared() {
  static DynamicShared d = [] {
    DynamicShared s;
    const std::size_t usable = round_up(detail::kMaxDynamicShared, page()) + page();
    void* m = ::mmap(nullptr, usable + 2 * page(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    KILN_CHECK(m != MAP_FAILED, "simt: cannot map ", usable, " bytes of dynamic shared memory");
    s.begin = static_cast<unsigned char*>(m) + page();
    s.end = s.begin + usable;
    KILN_CHECK(::mprotect(s.begin, usable, PROT_READ | PROT_WRITE) == 0,
               "simt: mprotect of dynamic shared memory failed");
    s.protected_to = s.begin;
    return s;
  }();
  return d;
}

}  // namespace

bool memcheck() { return enabled().load(std::memory_order_relaxed); }
void set_memcheck(bool on) { enabled().store(on); }

void* memcheck_alloc(std::size_t bytes) {
  const std::size_t padded = round_up(bytes ? bytes : 1, kAlign);
  const std::size_t inner = round_up(padded, page());
  const std::size_t total = inner + 2 * page();
  void* m = ::mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  KILN_CHECK(m != MAP_FAILED, "simt memcheck: out of memory mapping ", bytes, " bytes");
  auto* mapping = static_cast<unsigned char*>(m);
  KILN_CHECK(::mprotect(mapping + page(), inner, PROT_READ | PROT_WRITE) == 0,
             "simt memcheck: mprotect failed for ", bytes, " bytes");
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  Allocation a{mapping, total, mapping + page() + inner - padded, bytes, r.next_id++};
  fill_redzone(a.redzone(), a.data);
  std::memset(a.data, 0xFF, bytes);
  fill_redzone(a.data + bytes, a.slack_end());
  r.live.emplace(addr(mapping), a);
  return a.data;
}

bool memcheck_free(void* ptr) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (r.live.empty()) return false;
  const std::uintptr_t p = addr(ptr);
  auto it = r.live.upper_bound(p);
  if (it == r.live.begin()) return false;
  --it;
  if (addr(it->second.data) != p) return false;
  const Allocation a = it->second;
  r.live.erase(it);
  ::mprotect(a.mapping, a.mapping_bytes, PROT_NONE);
  r.freed.push_back(a);
  r.freed_bytes += a.mapping_bytes;
  while (r.freed_bytes > kQuarantineBytes) {
    ::munmap(r.freed.front().mapping, r.freed.front().mapping_bytes);
    r.freed_bytes -= r.freed.front().mapping_bytes;
    r.freed.pop_front();
  }
  return true;
}

namespace detail {

unsigned char* place_dynamic_shared(std::size_t bytes) {
  DynamicShared& d = dynamic_shared();
  d.bytes = bytes;
  unsigned char* guard_to = d.begin;
  if (memcheck()) {
    d.data = d.end - round_up(bytes, kAlign);
    guard_to = d.begin + (addr(d.data) - addr(d.begin)) / page() * page();
  } else {
    d.data = d.begin;
  }
  if (guard_to != d.protected_to) {
    ::mprotect(d.begin, static_cast<std::size_t>(d.end - d.begin), PROT_READ | PROT_WRITE);
    if (guard_to > d.begin) {
      ::mprotect(d.begin, static_cast<std::size_t>(guard_to - d.begin), PROT_NONE);
    }
    d.protected_to = guard_to;
  }
  return d.data;
}

void reset_dynamic_shared() {
  DynamicShared& d = dynamic_shared();
  std::memset(d.data, 0xFF, d.bytes);
  if (memcheck()) {
    fill_redzone(d.protected_to, d.data);
    fill_redzone(d.data + d.bytes, d.end);
  }
}

void check_dynamic_shared(const LaunchInfo& info) {
  if (!memcheck()) return;
  const DynamicShared& d = dynamic_shared();
  const unsigned char* bad = first_written(d.protected_to, d.data);
  if (!bad) bad = first_written(d.data + d.bytes, d.end);
  if (!bad) return;
  throw KernelError(kiln::detail::concat(
      "simt memcheck: ", kernel_name(info), " wrote out of bounds of dynamic shared memory (",
      d.bytes, " bytes) at byte offset ", addr(bad) - addr(d.data), " in block (", blockIdx.x,
      ",", blockIdx.y, ",", blockIdx.z, ")"));
}

void check_global_redzones(const LaunchInfo& info) {
  if (!memcheck()) return;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (auto& [key, a] : r.live) {
    const unsigned char* bad = first_written(a.redzone(), a.data);
    if (!bad) bad = first_written(a.data + a.bytes, a.slack_end());
    if (!bad) continue;
    const std::string what = describe_allocation(a, info);
    const long long offset = static_cast<long long>(addr(bad)) - static_cast<long long>(addr(a.data));
    fill_redzone(a.redzone(), a.data);  // report each corruption once
    fill_redzone(a.data + a.bytes, a.slack_end());
    throw KernelError(kiln::detail::concat("simt memcheck: ", kernel_name(info),
                                           " wrote out of bounds of ", what, " at byte offset ",
                                           offset));
  }
}

std::string describe_address(std::uintptr_t address, const LaunchInfo& info) {
  const DynamicShared& d = dynamic_shared();
  if (d.begin && address + page() >= addr(d.begin) && address < addr(d.end) + page()) {
    return kiln::detail::concat("dynamic shared memory (", d.bytes, " bytes) at byte offset ",
                                static_cast<long long>(address) - static_cast<long long>(addr(d.data)));
  }
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  bool freed = false;
  const Allocation* a = find(r, address, freed);
  if (!a) return {};
  return kiln::detail::concat(freed ? "freed " : "", describe_allocation(*a, info),
                              " at byte offset ",
                              static_cast<long long>(address) - static_cast<long long>(addr(a->data)));
}

std::string kernel_name(const LaunchInfo& info) {
  return info.kernel ? "kernel " + function_name(info.kernel) : std::string("a kernel");
}

}  // namespace detail
}  // namespace kiln::simt
