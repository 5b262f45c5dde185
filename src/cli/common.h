// Helpers shared by the subcommands: option parsing conventions and error reporting.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "kvik/dtype.h"
#include "kvik/status.h"

namespace kvik::cli {

// Exit codes: 0 success, 1 a failure while running (bad file, ...), 2 bad command line.
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Prints "error: <message>" to stderr and returns kExitFailure.
inline int Fail(const Status& status) {
  std::fprintf(stderr, "error: %s\n", status.message().c_str());
  return kExitFailure;
}

// Parses argv with CLI11; on --help prints help and sets `exit_code` 0, on a bad command line prints
// the error and sets kExitUsage. Returns true when the command should run.
inline bool Parse(CLI::App& app, int argc, char** argv, int& exit_code) {
  try {
    app.parse(argc, argv);
    return true;
  } catch (const CLI::CallForHelp& e) {
    exit_code = app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s (see 'kvik %s --help')\n", e.what(), app.get_name().c_str());
    exit_code = kExitUsage;
  }
  return false;
}

// A CLI11 validator accepting only the given dtype names.
inline CLI::Validator DTypeValidator(std::vector<std::string> allowed) {
  std::string list;
  for (const auto& name : allowed) list += (list.empty() ? "" : "|") + name;
  return CLI::Validator(
      [allowed, list](std::string& value) -> std::string {
        for (const auto& name : allowed)
          if (value == name) return "";
        return "unknown dtype '" + value + "', expected " + list;
      },
      list, "dtype");
}

// Validators for integer options with a lower bound. (CLI11's NonNegativeNumber and PositiveNumber
// printed "Value 0 not in range 0.000000 to 1797693…" with DBL_MAX written out, and
// PositiveNumber's range even seemed to include the rejected 0.)
inline CLI::Validator AtLeast(long long minimum) {
  return CLI::Validator(
      [minimum](std::string& value) -> std::string {
        long long parsed = 0;
        if (!CLI::detail::lexical_cast(value, parsed)) return "'" + value + "' is not an integer";
        if (parsed < minimum) {
          return "must be at least " + std::to_string(minimum) + ", got " + value;
        }
        return "";
      },
      "INT>=" + std::to_string(minimum), "at least " + std::to_string(minimum));
}

// The model `kvik generate` uses when -m is absent: $KVIK_MODEL, else stories15M.gguf in ./models
// or next to the binary's repository (make demo puts it there). Empty when none exists.
std::string DefaultModelPath(const char* argv0);

}  // namespace kvik::cli
