// Whole-file reads (with transparent gzip) and crash-safe whole-file writes, shared
// by the IDX and safetensors readers and writers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::data {

// The bytes of `path`. Throws kiln::Error naming the file when it cannot be read
// or is not a regular file (a directory, a FIFO: never blocks on one).
std::vector<uint8_t> read_file(const std::string& path);

// True when `bytes` start with the gzip magic (1f 8b).
bool is_gzip(const uint8_t* bytes, std::size_t size);

// Inflates one or more concatenated gzip members. A corrupt stream or bytes after
// the last member throw kiln::Error naming `path` and the compressed byte offset.
// At most `max_bytes` are inflated (a gzip bomb is stopped there): with `more`
// given, the first max_bytes are returned and *more says whether the stream holds
// more; without it, a longer stream throws.
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& compressed, const std::string& path,
                            std::size_t max_bytes = SIZE_MAX, bool* more = nullptr);

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

// fsyncs a directory, making renames and new entries in it durable (best effort:
// some network file systems cannot).
void sync_directory(const std::string& dir);

bool ends_with(const std::string& text, const std::string& suffix);

}  // namespace kiln::data
