// kvik kv-size: the KV-cache memory formula 2·L·H_kv·d_h·S·B·s as a calculator.
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/common.h"
#include "kvik/gguf.h"
#include "kvik/kv_layout.h"
#include "kvik/model.h"

namespace kvik::cli {
namespace {

struct KnownConfig {
  const char* name;
  int64_t n_layers, n_kv_heads, head_dim, context_length;
};

// Published architectures (model cards / papers): layers, KV heads (GQA), head size, native context.
constexpr KnownConfig kKnownConfigs[] = {
    {"llama-2-7b", 32, 32, 128, 4096},
    {"llama-3-8b", 32, 8, 128, 8192},
    {"tinyllama-1.1b", 22, 4, 64, 2048},
    {"gpt-3-175b", 96, 96, 128, 2048},
};

int RunKvSize(int argc, char** argv) {
  CLI::App app("KV-cache bytes = 2 · layers · kv_heads · head_dim · ctx · batch · bytes_per_element",
               "kv-size");
  std::string model_path, preset, dtype = "f16";
  int64_t layers = 0, kv_heads = 0, head_dim = 0, ctx = 0, batch = 1, block_size = 16;
  bool json = false;
  auto* model_opt = app.add_option("--model", model_path, "read L, H_kv, d_h and ctx from a GGUF model");
  std::vector<std::string> preset_names;
  for (const auto& k : kKnownConfigs) preset_names.push_back(k.name);
  auto* preset_opt = app.add_option("--preset", preset, "a published architecture")
                         ->check(CLI::IsMember(preset_names));
  auto* layers_opt = app.add_option("--layers", layers, "L: transformer layers")->check(AtLeast(1));
  app.add_option("--kv-heads", kv_heads, "H_kv: key/value heads")->check(AtLeast(1));
  app.add_option("--head-dim", head_dim, "d_h: head size")->check(AtLeast(1));
  app.add_option("--ctx", ctx, "S: tokens per sequence (default: the model's context)")
      ->check(AtLeast(1));
  app.add_option("--batch", batch, "B: sequences")->check(AtLeast(1));
  app.add_option("--dtype", dtype, "KV element type")
      ->check(DTypeValidator({"f32", "f16", "bf16", "q8_0", "q4_0"}));
  app.add_option("--block-size", block_size,
                 "tokens per paged block: the pool kvik allocates rounds S up to whole blocks")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  app.add_flag("--json", json, "print one JSON object");
  model_opt->excludes(preset_opt);
  layers_opt->excludes(model_opt)->excludes(preset_opt);
  int exit_code = 0;
  if (!Parse(app, argc, argv, exit_code)) return exit_code;

  std::string source;
  int64_t native_ctx = 0;
  if (!model_path.empty()) {
    auto file = gguf::File::Open(model_path);
    if (!file.ok()) return Fail(file.status());
    auto config = ModelConfig::FromGguf(*file);
    if (!config.ok()) return Fail(config.status());
    layers = config->n_layers, kv_heads = config->n_kv_heads, head_dim = config->head_dim;
    native_ctx = config->context_length;
    source = model_path;
  } else if (!preset.empty()) {
    for (const auto& k : kKnownConfigs) {
      if (preset == k.name) {
        layers = k.n_layers, kv_heads = k.n_kv_heads, head_dim = k.head_dim;
        native_ctx = k.context_length;
      }
    }
    source = preset;
  } else {
    if (layers == 0 || kv_heads == 0 || head_dim == 0) {
      std::fprintf(stderr, "error: give --model, --preset, or all of --layers --kv-heads --head-dim\n");
      return kExitUsage;
    }
    if (ctx == 0) {
      std::fprintf(stderr, "error: --ctx is required with explicit --layers/--kv-heads/--head-dim\n");
      return kExitUsage;
    }
    source = "explicit";
  }
  if (ctx == 0) ctx = native_ctx;
  const KvShape shape{layers, kv_heads, head_dim, *ParseDType(dtype), *ParseDType(dtype)};
  const DTypeInfo& info = Info(shape.key_dtype);
  if (head_dim % info.block_elements != 0) {
    return Fail(InvalidArgument("dtype " + dtype + " stores blocks of " +
                                std::to_string(info.block_elements) + " values; head_dim " +
                                std::to_string(head_dim) + " is not a multiple"));
  }
  const double bytes_per_element = double(info.block_bytes) / info.block_elements;
  const uint64_t total = shape.bytes(ctx, batch);
  // What kvik's paged pool allocates for B sequences of S tokens: whole blocks per sequence.
  const int64_t pool_tokens = (ctx + block_size - 1) / block_size * block_size;
  const uint64_t pool_bytes = shape.bytes(pool_tokens, batch);
  if (json) {
    nlohmann::json out = {{"source", source},
                          {"layers", layers},
                          {"kv_heads", kv_heads},
                          {"head_dim", head_dim},
                          {"ctx", ctx},
                          {"batch", batch},
                          {"dtype", dtype},
                          {"bytes_per_element", bytes_per_element},
                          {"bytes_per_token", shape.bytes_per_token()},
                          {"bytes", total},
                          {"block_size", block_size},
                          {"pool_bytes", pool_bytes},
                          {"human", FormatBytes(total)}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::printf("%s: L=%lld layers, H_kv=%lld KV heads, d_h=%lld, %s (%.4g bytes/element)\n",
              source.c_str(), (long long)layers, (long long)kv_heads, (long long)head_dim,
              dtype.c_str(), bytes_per_element);
  std::printf("per token: 2·L·H_kv·d_h·s = %llu bytes (%s)\n",
              (unsigned long long)shape.bytes_per_token(), FormatBytes(shape.bytes_per_token()).c_str());
  std::printf("total: 2·L·H_kv·d_h·S·B·s with S=%lld, B=%lld = %llu bytes (%s)\n", (long long)ctx,
              (long long)batch, (unsigned long long)total, FormatBytes(total).c_str());
  std::printf("paged pool (blocks of %lld tokens): S rounded up to %lld = %llu bytes (%s)\n",
              (long long)block_size, (long long)pool_tokens, (unsigned long long)pool_bytes,
              FormatBytes(pool_bytes).c_str());
  return 0;
}

}  // namespace

KVIK_COMMAND("kv-size", "KV-cache memory calculator (2·L·H_kv·d_h·S·B·bytes)", RunKvSize);

}  // namespace kvik::cli
