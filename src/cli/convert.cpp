// kvik convert: turns another format's checkpoint into a llama GGUF (today: llama2.c's model.bin +
// tokenizer.bin, e.g. stories15M from scripts/fetch-model.sh).
#include "kvik/convert.h"

#include "cli/command.h"
#include "cli/common.h"

namespace kvik::cli {
namespace {

int RunConvert(int argc, char** argv) {
  CLI::App app("Convert a llama2.c checkpoint and tokenizer to a llama GGUF v3 file", "convert");
  std::string from, dtype = "f32", name;
  Llama2cConvertOptions options;
  app.add_option("--from", from, "source format")->required()->check(CLI::IsMember({"llama2c"}));
  app.add_option("--model", options.model_path, "llama2.c checkpoint (model.bin)")->required();
  app.add_option("--tokenizer", options.tokenizer_path, "llama2.c tokenizer.bin")->required();
  app.add_option("-o,--output", options.output_path, "output .gguf path")->required();
  app.add_option("--dtype", dtype, "storage of the embedding and matrices (norms stay f32)")
      ->check(DTypeValidator({"f32", "f16", "q8_0"}));
  app.add_option("--name", options.model_name, "general.name (default: output file name)");
  int exit_code = 0;
  if (!Parse(app, argc, argv, exit_code)) return exit_code;

  options.dtype = *ParseDType(dtype);
  if (Status s = ConvertLlama2c(options); !s.ok()) return Fail(s);
  std::printf("wrote %s (%s, from llama2.c %s + %s)\n", options.output_path.c_str(), dtype.c_str(),
              options.model_path.c_str(), options.tokenizer_path.c_str());
  return 0;
}

}  // namespace

KVIK_COMMAND("convert", "convert a llama2.c checkpoint + tokenizer to GGUF", RunConvert);

}  // namespace kvik::cli
