// Test helpers for the data layer: a temporary directory removed at scope exit, raw
// file I/O, and an assertion that a call throws kiln::Error mentioning given parts.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "kiln/error.h"

namespace kiln::test {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kiln_test_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Passes when `call` throws kiln::Error whose message contains every one of `parts`.
inline testing::AssertionResult throws_error_with(const std::function<void()>& call,
                                                  const std::vector<std::string>& parts) {
  try {
    call();
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& part : parts) {
      if (message.find(part) == std::string::npos) {
        return testing::AssertionFailure() << "message lacks \"" << part << "\": " << message;
      }
    }
    return testing::AssertionSuccess() << message;
  }
  return testing::AssertionFailure() << "no kiln::Error thrown";
}

}  // namespace kiln::test
