#include "validators.h"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace kiln::cli {

namespace {

template <class T>
bool parse_whole(const std::string& text, T& value) {
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  return !text.empty() && error == std::errc() && stop == end;
}

}  // namespace

CLI::Validator unsigned_64() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        uint64_t value = 0;
        return parse_whole(text, value)
                   ? ""
                   : "'" + text + "' is not an integer in [0, 18446744073709551615]";
      },
      "UINT64");
}

CLI::Validator finite_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double value = 0;
        return parse_whole(text, value) && std::isfinite(value)
                   ? ""
                   : "'" + text + "' is not a finite number";
      },
      "FINITE");
}

CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double value = 0;
        return parse_whole(text, value) && std::isfinite(value) && value > 0
                   ? ""
                   : "'" + text + "' is not a finite number > 0";
      },
      "POSITIVE");
}

}  // namespace kiln::cli
