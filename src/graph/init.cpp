#include "kiln/graph/init.h"

#include <cmath>

#include "kiln/error.h"
#include "kiln/philox.h"

namespace kiln::graph {

namespace {

// A uniform double in (0, 1]: never 0, so log() in Box-Muller is finite.
double open_unit(uint32_t bits) { return (static_cast<double>(bits) + 1.0) / 4294967296.0; }

void fill_normal(std::vector<float>& out, double stddev, uint64_t key) {
  constexpr double kTwoPi = 6.283185307179586;
  for (size_t i = 0; i < out.size(); i += 2) {
    const double u1 = open_unit(philox::bits(key, 0, i));
    const double u2 = open_unit(philox::bits(key, 0, i + 1));
    const double radius = std::sqrt(-2.0 * std::log(u1)) * stddev;
    out[i] = static_cast<float>(radius * std::cos(kTwoPi * u2));
    if (i + 1 < out.size()) out[i + 1] = static_cast<float>(radius * std::sin(kTwoPi * u2));
  }
}

void fill_uniform(std::vector<float>& out, double bound, uint64_t key) {
  for (size_t i = 0; i < out.size(); ++i) {
    const double u = philox::bits(key, 0, i) / 4294967296.0;  // [0, 1)
    out[i] = static_cast<float>((2.0 * u - 1.0) * bound);
  }
}

}  // namespace

uint64_t name_key(const std::string& name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return h;
}

InitKind parse_init_kind(const std::string& name) {
  if (name == "he_normal") return InitKind::he_normal;
  if (name == "he_uniform") return InitKind::he_uniform;
  if (name == "xavier_normal" || name == "glorot_normal") return InitKind::xavier_normal;
  if (name == "xavier_uniform" || name == "glorot_uniform") return InitKind::xavier_uniform;
  if (name == "uniform") return InitKind::uniform;
  if (name == "normal") return InitKind::normal;
  if (name == "constant") return InitKind::constant;
  throw Error("unknown initialiser '" + name +
              "': expected he_normal, he_uniform, xavier_normal (glorot_normal), "
              "xavier_uniform (glorot_uniform), uniform, normal or constant");
}

const char* init_kind_name(InitKind kind) {
  switch (kind) {
    case InitKind::he_normal: return "he_normal";
    case InitKind::he_uniform: return "he_uniform";
    case InitKind::xavier_normal: return "xavier_normal";
    case InitKind::xavier_uniform: return "xavier_uniform";
    case InitKind::uniform: return "uniform";
    case InitKind::normal: return "normal";
    case InitKind::constant: return "constant";
  }
  return "?";
}

std::vector<float> init_values(const Initializer& init, const Shape& shape,
                               const std::string& name, uint64_t seed) {
  std::vector<float> out(numel_of(shape), init.value);
  const uint64_t key = seed ^ name_key(name);
  switch (init.kind) {
    case InitKind::constant: return out;
    case InitKind::uniform: fill_uniform(out, init.value, key); return out;
    case InitKind::normal: fill_normal(out, init.value, key); return out;
    default: break;  // the fan-based kinds below
  }
  KILN_CHECK(shape.size() >= 2, "parameter '", name, "' of shape ", shape_str(shape), " needs ",
             init_kind_name(init.kind), ", which needs a weight of rank >= 2; use constant");
  int64_t receptive = 1;
  for (size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
  const double fan_in = static_cast<double>(shape[1] * receptive);
  const double fan_out = static_cast<double>(shape[0] * receptive);
  switch (init.kind) {
    case InitKind::he_normal: fill_normal(out, std::sqrt(2.0 / fan_in), key); break;
    case InitKind::he_uniform: fill_uniform(out, std::sqrt(6.0 / fan_in), key); break;
    case InitKind::xavier_normal: fill_normal(out, std::sqrt(2.0 / (fan_in + fan_out)), key); break;
    case InitKind::xavier_uniform:
      fill_uniform(out, std::sqrt(6.0 / (fan_in + fan_out)), key);
      break;
    case InitKind::uniform:
    case InitKind::normal:
    case InitKind::constant: break;
  }
  return out;
}

}  // namespace kiln::graph
