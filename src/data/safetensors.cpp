#include "kiln/data/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "data/file_io.h"
#include "kiln/error.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors stores little-endian data; kiln's reader and writer assume a little-endian host"
#endif

namespace kiln {

namespace {

using nlohmann::json;

constexpr const char* kMetadataKey = "__metadata__";
// The reference implementation refuses larger headers; so does kiln.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

std::string header_json(const std::vector<NamedTensor>& tensors,
                        const std::map<std::string, std::string>& metadata,
                        const std::string& path) {
  json header = json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  uint64_t offset = 0;
  for (const NamedTensor& t : tensors) {
    KILN_CHECK(!t.name.empty() && t.name != kMetadataKey, path, ": cannot save a tensor named '",
               t.name, "'");
    KILN_CHECK(!header.contains(t.name), path, ": two tensors named '", t.name, "'");
    KILN_CHECK(t.tensor != nullptr && t.tensor->defined(), path, ": tensor '", t.name,
               "' is empty");
    const uint64_t bytes = static_cast<uint64_t>(t.tensor->numel()) * sizeof(float);
    header[t.name] = {{"dtype", "F32"},
                      {"shape", t.tensor->shape()},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

// Parses the header, refusing duplicate top-level keys (which JSON parsers would
// otherwise resolve silently, last one wins).
json parse_header(const std::string& text, const std::string& path) {
  std::set<std::string> names;
  std::string duplicate;
  auto reject_duplicates = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key && !names.insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text, reject_duplicates);
  } catch (const json::parse_error& e) {
    throw Error(detail::concat(path, ": the safetensors header is not valid JSON (", e.what(),
                               ", header byte ", e.byte, " = file byte offset ", 8 + e.byte - 1,
                               ")"));
  } catch (const json::exception& e) {  // out_of_range: a number beyond double's range
    throw Error(detail::concat(path, ": the safetensors header is not valid JSON (", e.what(), ")"));
  }
  KILN_CHECK(duplicate.empty(), path, ": the safetensors header names '", duplicate, "' twice");
  KILN_CHECK(header.is_object(), path, ": the safetensors header is not a JSON object");
  return header;
}

std::map<std::string, std::string> parse_metadata(const json& value, const std::string& path) {
  KILN_CHECK(value.is_object(), path, ": __metadata__ must be an object of strings");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    KILN_CHECK(item.is_string(), path, ": __metadata__ value of '", key, "' is not a string");
    metadata[key] = item.get<std::string>();
  }
  return metadata;
}

bool is_known_dtype(const std::string& dtype) {
  static const std::set<std::string> known = {"BOOL", "U8", "I8", "I16", "U16", "F16", "BF16",
                                              "I32", "U32", "F32", "F64", "I64", "U64",
                                              "F8_E4M3", "F8_E5M2"};
  return known.count(dtype) > 0;
}

struct Entry {
  std::string name;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

Entry parse_entry(const std::string& name, const json& value, const std::string& path) {
  const std::string where = detail::concat(path, ": tensor '", name, "': ");
  KILN_CHECK(value.is_object() && value.contains("dtype") && value.contains("shape") &&
                 value.contains("data_offsets"),
             where, "needs dtype, shape and data_offsets");
  const json& dtype = value["dtype"];
  KILN_CHECK(dtype.is_string(), where, "dtype is not a string");
  KILN_CHECK(is_known_dtype(dtype.get<std::string>()), where, "unknown dtype '",
             dtype.get<std::string>(), "'");
  KILN_CHECK(dtype == "F32", where, "dtype ", dtype.get<std::string>(),
             " is not supported (kiln reads F32 only)");
  Entry entry;
  entry.name = name;
  const json& shape = value["shape"];
  KILN_CHECK(shape.is_array(), where, "shape is not an array");
  uint64_t numel = 1;
  for (const json& d : shape) {
    KILN_CHECK(d.is_number_unsigned() && d.get<uint64_t>() < (uint64_t{1} << 40), where,
               "shape ", shape.dump(), " holds a dimension that is not a size");
    numel *= d.get<uint64_t>();
    KILN_CHECK(numel < (uint64_t{1} << 40), where, "shape ", shape.dump(), " is too large");
    entry.shape.push_back(d.get<int64_t>());
  }
  const json& offsets = value["data_offsets"];
  KILN_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                 offsets[1].is_number_unsigned(),
             where, "data_offsets ", offsets.dump(), " is not [begin, end]");
  entry.begin = offsets[0].get<uint64_t>();
  entry.end = offsets[1].get<uint64_t>();
  KILN_CHECK(entry.begin <= entry.end, where, "data_offsets ", offsets.dump(), " end before they begin");
  KILN_CHECK(entry.end - entry.begin == numel * sizeof(float), where, "data_offsets ",
             offsets.dump(), " span ", entry.end - entry.begin, " bytes but shape ",
             shape.dump(), " of F32 needs ", numel * sizeof(float));
  return entry;
}

// The entries must tile the data section exactly: no overlap, no hole, nothing past
// its end (as the format requires).
void check_layout(std::vector<Entry>& entries, uint64_t data_bytes, const std::string& path) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  for (const Entry& e : entries) {
    KILN_CHECK(e.end <= data_bytes, path, ": tensor '", e.name, "': data_offsets [", e.begin,
               ", ", e.end, ") run past the end of the ", data_bytes, "-byte data section");
    KILN_CHECK(e.begin >= expected, path, ": tensor '", e.name, "': data_offsets [", e.begin,
               ", ", e.end, ") overlap the previous tensor, which ends at ", expected);
    KILN_CHECK(e.begin == expected, path, ": hole in the data section: bytes [", expected,
               ", ", e.begin, ") belong to no tensor");
    expected = e.end;
  }
  KILN_CHECK(expected == data_bytes, path, ": ", data_bytes - expected,
             " bytes after the last tensor's data (file truncated, or not written by a "
             "safetensors writer)");
}

}  // namespace

void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string header = header_json(tensors, metadata, path);
  const uint64_t header_size = header.size();
  std::vector<std::vector<float>> host_data;
  host_data.reserve(tensors.size());
  for (const NamedTensor& t : tensors) host_data.push_back(t.tensor->to_vector());
  std::vector<data::ByteSpan> chunks = {{&header_size, sizeof header_size},
                                        {header.data(), header.size()}};
  for (const std::vector<float>& values : host_data) {
    chunks.push_back({values.data(), values.size() * sizeof(float)});
  }
  data::write_file_atomically(path, chunks);
}

SafetensorsFile load_safetensors(const std::string& path, Device device) {
  const std::vector<uint8_t> bytes = data::read_file(path);
  KILN_CHECK(bytes.size() >= 8, path, ": ", bytes.size(),
             " bytes, shorter than the 8-byte header length of a safetensors file");
  uint64_t header_size;
  std::memcpy(&header_size, bytes.data(), sizeof header_size);
  KILN_CHECK(header_size <= kMaxHeaderBytes, path, ": header length ", header_size,
             " (bytes 0..7) exceeds the ", kMaxHeaderBytes, "-byte limit; not a safetensors file?");
  KILN_CHECK(8 + header_size <= bytes.size(), path, ": header length ", header_size,
             " (bytes 0..7) runs past the end of the ", bytes.size(), "-byte file (truncated?)");
  const std::string text(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_size));
  KILN_CHECK(!text.empty() && text[0] == '{', path,
             ": the header at byte offset 8 does not start with '{'");
  const json header = parse_header(text, path);

  SafetensorsFile file;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      file.metadata = parse_metadata(value, path);
    } else {
      entries.push_back(parse_entry(key, value, path));
    }
  }
  const uint64_t data_start = 8 + header_size;
  check_layout(entries, bytes.size() - data_start, path);
  for (const Entry& e : entries) {
    Tensor tensor(e.shape, device);
    rt::copy(tensor.data(), device, bytes.data() + data_start + e.begin, Device::cpu(),
             e.end - e.begin);
    file.tensors.emplace(e.name, std::move(tensor));
  }
  // `bytes` dies here: uploads from it must have completed.
  if (!device.is_cpu()) rt::synchronize(device);
  return file;
}

}  // namespace kiln
