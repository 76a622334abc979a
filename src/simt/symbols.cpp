#include "simt/symbols.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <sstream>

#include "simt/elf_file.h"
#include "simt/shared_memory.h"

namespace kiln::simt::detail {
namespace {

struct Search {
  std::uintptr_t address = 0;
  bool first = true;  // glibc lists the executable first
  std::string path;
  ElfW(Addr) bias = 0;
};

int find_object(dl_phdr_info* info, std::size_t, void* out) {
  auto& search = *static_cast<Search*>(out);
  const bool main_program = search.first;
  search.first = false;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& p = info->dlpi_phdr[i];
    const std::uintptr_t begin = info->dlpi_addr + p.p_vaddr;
    if (p.p_type == PT_LOAD && search.address >= begin && search.address - begin < p.p_memsz) {
      search.path = main_program ? "/proc/self/exe" : info->dlpi_name;
      search.bias = info->dlpi_addr;
      return 1;
    }
  }
  return 0;
}

std::string demangle(const char* symbol) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(symbol, nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(symbol);
}

// Calls visit(symbol, name) for every symbol of `file`'s symbol tables until it
// returns true.
template <class Visit>
void for_each_symbol(const MappedFile& file, Visit visit) {
  const auto* eh = file.at<ElfW(Ehdr)>(0);
  if (!eh || std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) return;
  const auto* sh = file.at<ElfW(Shdr)>(eh->e_shoff, eh->e_shnum);
  if (!sh || eh->e_shentsize != sizeof *sh) return;
  for (ElfW(Half) i = 0; i < eh->e_shnum; ++i) {
    const ElfW(Shdr)& s = sh[i];
    if (s.sh_type != SHT_SYMTAB || s.sh_entsize != sizeof(ElfW(Sym)) || s.sh_link >= eh->e_shnum) {
      continue;
    }
    const std::uint64_t count = s.sh_size / sizeof(ElfW(Sym));
    const auto* symbols = file.at<ElfW(Sym)>(s.sh_offset, count);
    if (!symbols) continue;
    for (std::uint64_t k = 0; k < count; ++k) {
      const char* name = file.string(sh[s.sh_link], symbols[k].st_name);
      if (name && visit(symbols[k], name)) return;
    }
  }
}

// The mangled name of the function symbol covering `offset` in `file`, or "".
std::string symbol_at(const MappedFile& file, std::uint64_t offset) {
  std::string found;
  for_each_symbol(file, [&](const ElfW(Sym)& sym, const char* name) {
    if (ELF64_ST_TYPE(sym.st_info) == STT_FUNC && offset >= sym.st_value &&
        offset - sym.st_value < (sym.st_size ? sym.st_size : 1)) {
      found = name;
      return true;
    }
    return false;
  });
  return found;
}

// The object file holding `address`; its path is empty if none does.
Search object_of(const void* address) {
  Search search;
  search.address = reinterpret_cast<std::uintptr_t>(address);
  dl_iterate_phdr(find_object, &search);
  return search;
}

}  // namespace

std::string function_name(const void* address) {
  const Search object = object_of(address);
  if (!object.path.empty()) {
    const MappedFile file(object.path.c_str());
    const std::string symbol = symbol_at(file, object.address - object.bias);
    if (!symbol.empty()) return demangle(symbol.c_str());
  }
  std::ostringstream out;
  out << "the kernel at " << address;
  return out.str();
}

std::size_t static_shared_bytes(const void* address) {
  const Search object = object_of(address);
  if (object.path.empty()) return 0;
  const MappedFile file(object.path.c_str());
  const std::string kernel = symbol_at(file, object.address - object.bias);
  if (kernel.compare(0, 2, "_Z") != 0) return 0;
  // A function-local static: _ZZ <the function's encoding> E <its own name>.
  const std::string prefix = "_ZZ" + kernel.substr(2) + "E";
  std::size_t bytes = 0;
  for_each_symbol(file, [&](const ElfW(Sym)& sym, const char* name) {
    if (ELF64_ST_TYPE(sym.st_info) == STT_OBJECT && std::strncmp(name, prefix.c_str(), prefix.size()) == 0 &&
        is_shared_array(name)) {
      bytes += sym.st_size;
    }
    return false;
  });
  return bytes;
}

}  // namespace kiln::simt::detail
