// kvik make-model: writes a seeded random llama GGUF (the fixtures for tests and benchmarks).
#include "cli/command.h"
#include "cli/common.h"
#include "kvik/synthetic_model.h"

namespace kvik::cli {
namespace {

int RunMakeModel(int argc, char** argv) {
  CLI::App app("Write a llama-architecture GGUF v3 with seeded random weights", "make-model");
  std::string preset = "tiny", dtype = "f32", output;
  uint64_t seed = 1;
  app.add_option("--preset", preset, "tiny (dim 64, 2 layers, GQA 4/2) or small (~100M params)")
      ->check(CLI::IsMember({"tiny", "small"}));
  app.add_option("--dtype", dtype, "weight type of matrices and embedding")
      ->check(DTypeValidator({"f32", "f16", "bf16", "q8_0", "q4_0"}));
  app.add_option("--seed", seed, "random seed (same seed, same file)");
  app.add_option("-o,--output", output, "output .gguf path")->required();
  int exit_code = 0;
  if (!Parse(app, argc, argv, exit_code)) return exit_code;

  auto found = FindModelPreset(preset);
  if (!found.ok()) return Fail(found.status());
  SyntheticModelOptions options{*found, *ParseDType(dtype), seed};
  if (Status s = WriteSyntheticModel(options, output); !s.ok()) return Fail(s);
  std::printf("wrote %s (preset %s, %s, seed %llu)\n", output.c_str(), preset.c_str(), dtype.c_str(),
              static_cast<unsigned long long>(seed));
  return 0;
}

}  // namespace

KVIK_COMMAND("make-model", "write a seeded random llama GGUF (tiny or small preset)", RunMakeModel);

}  // namespace kvik::cli
