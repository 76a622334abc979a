// Whole-file reads (with transparent gzip) and crash-safe whole-file writes, shared
// by the IDX and safetensors readers and writers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::data {

// The bytes of `path`. Throws kiln::Error naming the file when it cannot be read.
std::vector<uint8_t> read_file(const std::string& path);

// True when `bytes` start with the gzip magic (1f 8b).
bool is_gzip(const uint8_t* bytes, std::size_t size);

// Inflates one or more concatenated gzip members. A corrupt stream or bytes after
// the last member throw kiln::Error naming `path` and the compressed byte offset.
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& compressed, const std::string& path);

// A gzip stream (one member, mtime 0, so equal input gives equal bytes).
std::vector<uint8_t> gzip(const std::vector<uint8_t>& bytes);

// Writes `chunks` one after another to PATH.tmp, flushes and fsyncs it, renames it
// over `path` and fsyncs the directory: a crash leaves either the old file or the
// new one, never a mix. On failure the temporary file is removed and the error
// (naming the file and the system's reason) is thrown.
struct ByteSpan {
  const void* data;
  std::size_t size;
};
void write_file_atomically(const std::string& path, const std::vector<ByteSpan>& chunks);

bool ends_with(const std::string& text, const std::string& suffix);

}  // namespace kiln::data
