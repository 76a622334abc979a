#include "data/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "kiln/error.h"

namespace kiln::data {

namespace {

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

// Closes the descriptor on every path out of read_file.
struct FileDescriptor {
  int fd;
  ~FileDescriptor() { ::close(fd); }
};

}  // namespace

std::vector<uint8_t> read_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
  const FileDescriptor file{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
  KILN_CHECK(file.fd >= 0, path, ": cannot open for reading (", std::strerror(errno), ")");
  struct stat info;
  KILN_CHECK(::fstat(file.fd, &info) == 0, path, ": cannot stat (", std::strerror(errno), ")");
  KILN_CHECK(S_ISREG(info.st_mode), path, " is ", file_kind(info.st_mode),
             ", not a regular file; give the path of a file");
  std::vector<uint8_t> bytes(static_cast<std::size_t>(info.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(file.fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    KILN_CHECK(n >= 0, path, ": read error after ", done, " of ", bytes.size(), " bytes (",
               std::strerror(errno), ")");
    KILN_CHECK(n > 0, path, ": the file shrank while being read (", done, " of ", bytes.size(),
               " bytes)");
    done += static_cast<std::size_t>(n);
  }
  return bytes;
}

bool is_gzip(const uint8_t* bytes, std::size_t size) {
  return size >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

namespace {

struct Inflater {
  z_stream stream{};
  Inflater() {
    // 16 + MAX_WBITS: expect a gzip header and trailer (CRC-32 and length checked).
    KILN_CHECK(inflateInit2(&stream, 16 + MAX_WBITS) == Z_OK, "zlib: inflateInit2 failed");
  }
  ~Inflater() { inflateEnd(&stream); }
};

}  // namespace

std::vector<uint8_t> gunzip(const std::vector<uint8_t>& compressed, const std::string& path,
                            std::size_t max_bytes, bool* more) {
  KILN_CHECK(compressed.size() < (1ull << 32), path, ": gzip files of 4 GiB or more are not supported");
  Inflater z;
  std::vector<uint8_t> out;
  std::size_t consumed = 0;
  if (more) *more = false;
  while (consumed < compressed.size()) {
    if (!is_gzip(compressed.data() + consumed, compressed.size() - consumed)) {
      throw Error(detail::concat(path, ": trailing garbage at compressed byte offset ",
                                 consumed, " (", compressed.size() - consumed,
                                 " bytes after the gzip stream); the file is damaged: delete "
                                 "it and re-run scripts/fetch_data.sh"));
    }
    z.stream.next_in = const_cast<Bytef*>(compressed.data() + consumed);
    z.stream.avail_in = static_cast<uInt>(compressed.size() - consumed);
    int status = Z_OK;
    while (status != Z_STREAM_END) {
      // Inflates straight into `out`, growing it geometrically (4 KiB to 1 MiB per
      // step) but never more than one byte past the cap, so a bomb cannot grow it.
      const std::size_t room = max_bytes - std::min(max_bytes, out.size());
      const std::size_t step = std::clamp<std::size_t>(out.size(), 4096, 1 << 20);
      const std::size_t want = room < step ? room + 1 : step;
      const std::size_t start = out.size();
      out.resize(start + want);
      z.stream.next_out = out.data() + start;
      z.stream.avail_out = static_cast<uInt>(want);
      status = inflate(&z.stream, Z_NO_FLUSH);
      out.resize(start + want - z.stream.avail_out);
      const std::size_t offset = compressed.size() - z.stream.avail_in;
      const bool starved = z.stream.avail_in == 0 && z.stream.avail_out > 0;
      if ((status == Z_OK || status == Z_BUF_ERROR) && starved) {
        throw Error(detail::concat(path, ": truncated gzip stream (ends at compressed byte offset ",
                                   offset, " inside a member); delete it and re-run "
                                   "scripts/fetch_data.sh"));
      }
      if (status != Z_OK && status != Z_STREAM_END) {
        throw Error(detail::concat(path, ": corrupt gzip stream near compressed byte offset ",
                                   offset, " (zlib: ", z.stream.msg ? z.stream.msg : "error ",
                                   z.stream.msg ? "" : std::to_string(status),
                                   "); delete it and re-run scripts/fetch_data.sh"));
      }
      if (out.size() > max_bytes) {
        KILN_CHECK(more, path, ": decompresses to more than ", max_bytes, " bytes");
        out.resize(max_bytes);
        *more = true;
        return out;
      }
    }
    consumed = compressed.size() - z.stream.avail_in;
    inflateReset(&z.stream);
  }
  return out;
}

std::vector<uint8_t> gzip(const std::vector<uint8_t>& bytes) {
  KILN_CHECK(bytes.size() < (1ull << 32), "gzip: inputs of 4 GiB or more are not supported");
  z_stream z{};
  KILN_CHECK(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 9,
                          Z_DEFAULT_STRATEGY) == Z_OK,
             "zlib: deflateInit2 failed");
  std::vector<uint8_t> out(deflateBound(&z, static_cast<uLong>(bytes.size())));
  z.next_in = const_cast<Bytef*>(bytes.data());
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&z, Z_FINISH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  KILN_CHECK(status == Z_STREAM_END, "zlib: deflate failed (status ", status, ")");
  return out;
}

namespace {

[[noreturn]] void throw_system_error(const std::string& path, const char* what) {
  throw Error(detail::concat(path, ": ", what, " failed (", std::strerror(errno), ")"));
}

void write_all(int fd, const void* data, std::size_t size, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_system_error(path, "write");
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

std::string directory_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

void write_file_atomically(const std::string& path, const std::vector<ByteSpan>& chunks) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_system_error(tmp, "creating the temporary file");
  try {
    for (const ByteSpan& chunk : chunks) write_all(fd, chunk.data, chunk.size, tmp);
    if (::fsync(fd) != 0) throw_system_error(tmp, "fsync");
  } catch (...) {
    ::close(fd);
    std::remove(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int saved = errno;
    std::remove(tmp.c_str());
    errno = saved;
    throw_system_error(tmp, "close");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    std::remove(tmp.c_str());
    errno = saved;
    throw_system_error(path, "renaming the temporary file over it");
  }
  sync_directory(directory_of(path));
}

// Makes the rename itself durable; a file system that cannot fsync a directory
// (some network ones) still has the data, so failure here is not an error.
void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace kiln::data
