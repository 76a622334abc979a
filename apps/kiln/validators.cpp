#include "validators.h"

#include "kiln/error.h"
#include "kiln/train/checkpoint.h"

namespace kiln::cli {

namespace {

// A CLI11 validator from a strict parser that throws kiln::Error (the message
// names the text and the accepted range).
template <class Parse>
CLI::Validator from_parser(Parse parse, const char* name) {
  return CLI::Validator(
      [parse](std::string& text) -> std::string {
        try {
          parse(text);
          return "";
        } catch (const Error& e) {
          const std::string what = e.what();  // ": 'TEXT' is not ...": no location to name
          return what.rfind(": ", 0) == 0 ? what.substr(2) : what;
        }
      },
      name);
}

}  // namespace

CLI::Validator unsigned_64() {
  return from_parser([](const std::string& t) { train::parse_unsigned(t, ""); }, "UINT64");
}

CLI::Validator finite_number() {
  return from_parser([](const std::string& t) { train::parse_float(t, ""); }, "FINITE");
}

CLI::Validator positive_number() {
  return from_parser(
      [](const std::string& t) {
        KILN_CHECK(train::parse_float(t, "") > 0, ": '", t, "' is not a finite number > 0");
      },
      "POSITIVE");
}

}  // namespace kiln::cli
