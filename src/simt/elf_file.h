// A read-only view of an ELF file on disk, for the symbol tables the emulator
// reads (static shared arrays, kernel names).
#pragma once

#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kiln::simt::detail {

class MappedFile {
 public:
  explicit MappedFile(const char* path) {
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) {
        data_ = static_cast<const unsigned char*>(p);
        size_ = static_cast<std::size_t>(st.st_size);
      }
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<unsigned char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // `count` Ts at `offset`, or null unless all of them lie in the file.
  template <class T>
  const T* at(std::uint64_t offset, std::uint64_t count = 1) const {
    if (!data_ || offset > size_ || count > (size_ - offset) / sizeof(T) ||
        offset % alignof(T) != 0) {
      return nullptr;
    }
    return reinterpret_cast<const T*>(data_ + offset);
  }
  // The NUL-terminated string at `index` of string table `table`, or null.
  const char* string(const ElfW(Shdr)& table, std::uint64_t index) const {
    const char* begin = at<char>(table.sh_offset, table.sh_size);
    if (!begin || index >= table.sh_size) return nullptr;
    const std::size_t left = static_cast<std::size_t>(table.sh_size - index);
    return std::memchr(begin + index, '\0', left) ? begin + index : nullptr;
  }

 private:
  const unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace kiln::simt::detail
