// The subcommand registry: each src/cli/<name>.cpp registers itself with KVIK_COMMAND, so adding a
// subcommand never touches main.cpp.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace kvik::cli {

// argv[0] is the subcommand name; the return value is the process exit code.
using CommandFn = int (*)(int argc, char** argv);

struct Command {
  std::string name;
  std::string summary;
  CommandFn run;
};

std::vector<Command>& Registry();

struct CommandRegistration {
  CommandRegistration(std::string name, std::string summary, CommandFn run) {
    Registry().push_back({std::move(name), std::move(summary), run});
  }
};

}  // namespace kvik::cli

#define KVIK_COMMAND(name, summary, fn) \
  static ::kvik::cli::CommandRegistration kvik_command_registration_(name, summary, fn)
