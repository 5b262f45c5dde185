// kvik quantize: re-encode a GGUF model's matrices as q8_0 / q4_0 (or f16, bf16, f32).
#include <cstdio>

#include "cli/command.h"
#include "cli/common.h"
#include "kvik/quantize_model.h"

namespace kvik::cli {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

int RunQuantize(int argc, char** argv) {
  CLI::App app("Re-encode a GGUF model's weight matrices in another type (norms stay f32)",
               "quantize");
  QuantizeModelOptions options;
  std::string type, output_type, embedding_type;
  const auto types = DTypeValidator({"f32", "f16", "bf16", "q8_0", "q4_0"});
  app.add_option("input", options.input_path, "model .gguf to read")->required();
  app.add_option("output", options.output_path, "model .gguf to write")->required();
  app.add_option("--type", type, "type of the weight matrices")->required()->check(types);
  app.add_option("--output-type", output_type, "type of output.weight (default: --type)")
      ->check(types);
  app.add_option("--embedding-type", embedding_type, "type of token_embd.weight (default: --type)")
      ->check(types);
  int exit_code = 0;
  if (!Parse(app, argc, argv, exit_code)) return exit_code;

  options.type = *ParseDType(type);
  if (!output_type.empty()) options.output_type = *ParseDType(output_type);
  if (!embedding_type.empty()) options.embedding_type = *ParseDType(embedding_type);
  Result<QuantizeModelReport> report = QuantizeModel(options);
  if (!report.ok()) return Fail(report.status());

  int converted = 0;
  for (const TensorConversion& t : report.value().tensors) {
    if (t.from != t.to) ++converted;
    if (!t.note.empty()) {
      std::printf("%s (%s): %s\n", t.name.c_str(), std::string(Name(t.from)).c_str(),
                  t.note.c_str());
    }
  }
  std::printf("wrote %s (%s): %d of %zu tensors converted, %.1f MiB -> %.1f MiB\n",
              options.output_path.c_str(), type.c_str(), converted, report.value().tensors.size(),
              report.value().input_bytes / kMiB, report.value().output_bytes / kMiB);
  return 0;
}

}  // namespace

KVIK_COMMAND("quantize", "re-encode a GGUF model's matrices (q8_0, q4_0, f16, ...)", RunQuantize);

}  // namespace kvik::cli
