// kiln::Error: the one exception type kiln throws for bad input, bad state and
// failed backend calls. Messages name the problem and, where possible, the fix.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace kiln {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

}  // namespace kiln

// KILN_CHECK(cond, parts...): throw kiln::Error built from `parts` when `cond` is false.
#define KILN_CHECK(cond, ...)                                        \
  do {                                                               \
    if (!(cond)) throw ::kiln::Error(::kiln::detail::concat(__VA_ARGS__)); \
  } while (0)
