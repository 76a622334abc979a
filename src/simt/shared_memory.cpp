// Static __shared__ arrays are found by the ABI tag the __shared__ macro gives
// them, not by their section alone: g++ 12 drops the section attribute of statics
// in function templates but keeps the tag, which is part of the mangled name and
// so survives into every unstripped object's symbol table.
#include "simt/shared_memory.h"
#include "simt/elf_file.h"

#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>
#include <vector>

// The kiln_shared section of the object that links the emulator; weak, so null
// when it declares no static shared memory. Kept as well as the scan because it
// needs no file: the arrays in it stay poisoned when no symbol table is readable.
extern "C" char __start_kiln_shared[] __attribute__((weak));
extern "C" char __stop_kiln_shared[] __attribute__((weak));

namespace kiln::simt::detail {
namespace {

// abi_tag("kiln_shared") of the __shared__ macro, as the Itanium ABI mangles it.
constexpr char kTag[] = "B11kiln_shared";
constexpr char kSection[] = "kiln_shared";
constexpr unsigned char kClass = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;

struct Range {
  std::uintptr_t begin, end;
};

struct Scan {
  bool done = false;
  unsigned long long adds = 0, subs = 0;  // dl_iterate_phdr's counters when scanned
  std::vector<Range> ranges;              // sorted and disjoint
  std::vector<std::string> unscanned;
};
Scan& scan_state() {
  static Scan scan;
  return scan;
}

struct Object {
  std::string path;
  bool main_program;
  ElfW(Addr) bias;  // 0 for a non-PIE executable
  const ElfW(Phdr)* phdr;
  ElfW(Half) phnum;
};

int collect_object(dl_phdr_info* info, std::size_t, void* out) {
  auto& objects = *static_cast<std::vector<Object>*>(out);
  const bool main_program = objects.empty();  // glibc lists the executable first
  objects.push_back(Object{main_program ? "/proc/self/exe" : info->dlpi_name, main_program,
                           info->dlpi_addr, info->dlpi_phdr, info->dlpi_phnum});
  return 0;
}

int read_counters(dl_phdr_info* info, std::size_t, void* out) {
  auto* counters = static_cast<unsigned long long*>(out);
  counters[0] = info->dlpi_adds;
  counters[1] = info->dlpi_subs;
  return 1;  // the counters are the same in every entry
}

}  // namespace

// A function-local static (_ZZ) with the tag last: only a discriminator (_N or
// __NN_, for same-named statics of one function) or a compiler suffix such as
// .lto_priv.0 may follow it. A tag further in would belong to an enclosing name.
bool is_shared_array(const char* name) {
  if (std::strncmp(name, "_ZZ", 3) != 0) return false;
  const auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  for (const char* p = std::strstr(name, kTag); p; p = std::strstr(p + 1, kTag)) {
    const char* rest = p + sizeof kTag - 1;
    if (rest[0] == '_' && rest[1] == '_') {
      const char* digits = rest + 2;
      rest = digits;
      while (digit(*rest)) ++rest;
      if (rest == digits || *rest != '_') continue;
      ++rest;
    } else if (rest[0] == '_' && digit(rest[1])) {
      rest += 2;
    }
    if (*rest == '\0' || *rest == '.') return true;
  }
  return false;
}

namespace {

struct ObjectScan {
  bool symbols = false;  // had a symbol table, so every tagged array was found
  bool section = false;  // has a kiln_shared section
};

// Adds the object's tagged arrays and its kiln_shared section to `ranges`.
ObjectScan scan_object(const Object& object, std::vector<Range>& ranges) {
  ObjectScan result;
  const MappedFile file(object.path.c_str());
  const auto* eh = file.at<ElfW(Ehdr)>(0);
  if (!eh || std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != kClass) {
    return result;
  }
  // A library rebuilt on disk since it was loaded would name wrong addresses.
  const auto* ph = file.at<ElfW(Phdr)>(eh->e_phoff, eh->e_phnum);
  if (!ph || eh->e_phentsize != sizeof *ph || eh->e_phnum != object.phnum ||
      std::memcmp(ph, object.phdr, sizeof *ph * object.phnum) != 0) {
    return result;
  }
  const auto* sh = file.at<ElfW(Shdr)>(eh->e_shoff, eh->e_shnum);
  if (!sh || eh->e_shentsize != sizeof *sh || eh->e_shstrndx >= eh->e_shnum) return result;

  // Defence against a malformed file: only the object's writable segments.
  const auto writable = [&](ElfW(Addr) addr, std::uint64_t size) {
    for (ElfW(Half) i = 0; i < object.phnum; ++i) {
      const ElfW(Phdr)& p = object.phdr[i];
      if (p.p_type == PT_LOAD && (p.p_flags & PF_W) && addr >= p.p_vaddr &&
          size <= p.p_memsz && addr - p.p_vaddr <= p.p_memsz - size) {
        return true;
      }
    }
    return false;
  };
  const auto add = [&](ElfW(Addr) addr, std::uint64_t size) {
    if (size == 0 || !writable(addr, size)) return;
    const std::uintptr_t begin = object.bias + addr;
    ranges.push_back(Range{begin, begin + static_cast<std::uintptr_t>(size)});
  };

  for (ElfW(Half) i = 0; i < eh->e_shnum; ++i) {
    const ElfW(Shdr)& s = sh[i];
    const char* name = file.string(sh[eh->e_shstrndx], s.sh_name);
    if ((s.sh_flags & SHF_ALLOC) && name && std::strcmp(name, kSection) == 0) {
      result.section = true;
      add(s.sh_addr, s.sh_size);
    }
    if (s.sh_type != SHT_SYMTAB || s.sh_entsize != sizeof(ElfW(Sym)) || s.sh_link >= eh->e_shnum) {
      continue;
    }
    const auto* symbols = file.at<ElfW(Sym)>(s.sh_offset, s.sh_size / sizeof(ElfW(Sym)));
    if (!symbols) continue;
    result.symbols = true;
    const ElfW(Shdr)& names = sh[s.sh_link];
    for (std::uint64_t k = 0; k < s.sh_size / sizeof(ElfW(Sym)); ++k) {
      const ElfW(Sym)& sym = symbols[k];
      // ELF64_ST_TYPE: the same bits as ELF32_ST_TYPE.
      if (ELF64_ST_TYPE(sym.st_info) != STT_OBJECT || sym.st_size == 0 ||
          sym.st_shndx == SHN_UNDEF || sym.st_shndx >= SHN_LORESERVE) {
        continue;
      }
      const char* symbol = file.string(names, sym.st_name);
      if (symbol && is_shared_array(symbol)) add(sym.st_value, sym.st_size);
    }
  }
  return result;
}

}  // namespace

void update_static_shared() {
  Scan& scan = scan_state();
  unsigned long long counters[2] = {0, 0};
  dl_iterate_phdr(read_counters, counters);
  if (scan.done && counters[0] == scan.adds && counters[1] == scan.subs) return;

  std::vector<Object> objects;
  dl_iterate_phdr(collect_object, &objects);
  std::vector<Range> ranges;
  std::vector<std::string> unscanned;
  const auto start = reinterpret_cast<std::uintptr_t>(__start_kiln_shared);
  const auto stop = reinterpret_cast<std::uintptr_t>(__stop_kiln_shared);
  if (start < stop) ranges.push_back(Range{start, stop});
  for (const Object& object : objects) {
    const ObjectScan found = scan_object(object, ranges);
    // System libraries come stripped and hold no kernels; the program and any
    // object with static shared memory may hold templated kernels.
    if (!found.symbols && (object.main_program || found.section)) {
      unscanned.push_back(object.path);
    }
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  std::vector<Range> merged;
  for (const Range& r : ranges) {
    if (!merged.empty() && r.begin <= merged.back().end) {
      merged.back().end = std::max(merged.back().end, r.end);
    } else {
      merged.push_back(r);
    }
  }
  scan.done = true;
  scan.adds = counters[0];
  scan.subs = counters[1];
  scan.ranges = std::move(merged);
  scan.unscanned = std::move(unscanned);
}

void poison_static_shared() {
  for (const Range& r : scan_state().ranges) {
    std::memset(reinterpret_cast<void*>(r.begin), 0xFF, r.end - r.begin);
  }
}

SharedPoison static_shared_coverage() {
  const Scan& scan = scan_state();
  SharedPoison coverage;
  coverage.ranges = scan.ranges.size();
  for (const Range& r : scan.ranges) coverage.bytes += r.end - r.begin;
  coverage.unscanned = scan.unscanned;
  return coverage;
}

}  // namespace kiln::simt::detail
