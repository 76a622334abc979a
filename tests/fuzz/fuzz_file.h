// The readers take paths: each input is written to one in-memory file (memfd,
// a regular file on tmpfs) and read back through /proc/self/fd, so a fuzzing
// run touches no disk and exercises the real open/stat/read path.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "kiln/data/idx.h"
#include "kiln/error.h"

namespace kiln::fuzz {

inline const std::string& input_file(const uint8_t* data, std::size_t size) {
  static const int fd = ::memfd_create("kiln_fuzz_input", MFD_CLOEXEC);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (fd < 0 || ::ftruncate(fd, 0) != 0 ||
      (size > 0 && ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size))) {
    std::abort();  // the harness itself failed, not the reader
  }
  return path;
}

// Reads `path` as IDX labels (odd selector) or images; malformed files must
// give kiln::Error, which is the expected outcome.
inline void read_idx(uint8_t selector, const std::string& path) {
  try {
    if (selector & 1) {
      read_idx_labels(path);
    } else {
      read_idx_images(path);
    }
  } catch (const Error&) {
  }
}

}  // namespace kiln::fuzz
