// Parameter initialisers. Values are generated on the host from Philox4x32-10
// (kiln/philox.h) keyed by the run seed and the parameter's name, then uploaded,
// so the same seed gives bit-identical weights on every device. Normal draws use
// Box-Muller in double precision.
//   he_normal      N(0, 2/fan_in)                 (He et al. 2015)
//   he_uniform     U(-sqrt(6/fan_in), +sqrt(6/fan_in))
//   xavier_normal  N(0, 2/(fan_in+fan_out))        (Glorot & Bengio 2010; alias glorot_normal)
//   xavier_uniform U(+-sqrt(6/(fan_in+fan_out)))   (alias glorot_uniform)
//   uniform        U(-value, +value)   (PyTorch's recurrent layers: value = 1/sqrt(hidden))
//   normal         N(0, value^2)       (PyTorch's nn.Embedding: value = 1)
//   constant       every element = value
// fan_in / fan_out follow PyTorch: weight [out, in, k...] gives fan_in = in * prod(k),
// fan_out = out * prod(k).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::graph {

enum class InitKind { he_normal, he_uniform, xavier_normal, xavier_uniform, uniform, normal, constant };

struct Initializer {
  InitKind kind = InitKind::he_normal;
  float value = 0.0f;  // constant: the value; uniform: the bound; normal: the stddev

  static Initializer constant(float v) { return {InitKind::constant, v}; }
  static Initializer uniform(float bound) { return {InitKind::uniform, bound}; }
  static Initializer normal(float stddev) { return {InitKind::normal, stddev}; }
};

// "he_normal", ..., "glorot_uniform", "uniform", "normal", "constant"; throws listing
// the valid names.
InitKind parse_init_kind(const std::string& name);
const char* init_kind_name(InitKind kind);

// A 64-bit key derived from a layer or parameter name (FNV-1a): gives each its own
// random stream, so adding a layer leaves the others' numbers unchanged.
uint64_t name_key(const std::string& name);

// The host values of a parameter of `shape` named `name` under `seed`.
std::vector<float> init_values(const Initializer& init, const Shape& shape,
                               const std::string& name, uint64_t seed);

}  // namespace kiln::graph
