// kvik: dispatches `kvik <subcommand> ...` to the registered subcommand.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "cli/command.h"

namespace kvik::cli {

std::vector<Command>& Registry() {
  static std::vector<Command> commands;
  return commands;
}

namespace {

void PrintUsage(FILE* out) {
  auto commands = Registry();
  std::sort(commands.begin(), commands.end(),
            [](const Command& a, const Command& b) { return a.name < b.name; });
  std::fprintf(out, "kvik — an LLM inference engine built around its KV cache\n\n");
  std::fprintf(out, "usage: kvik <command> [options]   (kvik <command> --help for its options)\n\n");
  std::fprintf(out, "commands:\n");
  for (const auto& c : commands) std::fprintf(out, "  %-12s %s\n", c.name.c_str(), c.summary.c_str());
}

}  // namespace
}  // namespace kvik::cli

int main(int argc, char** argv) {
  using namespace kvik::cli;
  if (argc < 2) {
    PrintUsage(stderr);
    return 2;
  }
  std::string_view name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    PrintUsage(stdout);
    return 0;
  }
  for (const auto& command : Registry()) {
    if (command.name == name) return command.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "error: unknown command '%s' (see 'kvik --help')\n", argv[1]);
  return 2;
}
