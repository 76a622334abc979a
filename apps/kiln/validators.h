// CLI11 validators for numbers that CLI11's own conversions accept too loosely
// (a "-1" seed wraps to 2^64-1, "nan" passes as a float).
#pragma once

#include <CLI/CLI.hpp>

namespace kiln::cli {

// A decimal integer in [0, 2^64-1]: no sign, no wrap-around, nothing after it.
CLI::Validator unsigned_64();
// A finite number (not nan or inf).
CLI::Validator finite_number();
// A finite number > 0.
CLI::Validator positive_number();

}  // namespace kiln::cli
