#include "cli/common.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace kvik::cli {

std::string DefaultModelPath(const char* argv0) {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("KVIK_MODEL"); env && *env) return env;
  std::vector<fs::path> candidates = {"models/stories15M.gguf"};
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path().parent_path() / "models" / "stories15M.gguf");
  for (const auto& path : candidates)
    if (fs::exists(path, ec)) return path.string();
  return "";
}

}  // namespace kvik::cli
