// kvik inspect: what a GGUF model is — config, tensors, and what its KV cache costs.
#include "cli/command.h"
#include "cli/common.h"
#include "kvik/gguf.h"
#include "kvik/kv_layout.h"
#include "kvik/model.h"

namespace kvik::cli {
namespace {

std::string DimsText(const std::vector<uint64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
  return s;
}

std::string ValueText(const gguf::Value& v) {
  using gguf::ValueType;
  switch (v.type) {
    case ValueType::kString:
      return v.string_value.size() > 60 ? "\"" + v.string_value.substr(0, 57) + "...\""
                                        : "\"" + v.string_value + "\"";
    case ValueType::kArray:
      return "[" + std::string(gguf::ValueTypeName(v.element_type)) + " x " +
             std::to_string(v.array_length) + "]";
    case ValueType::kFloat32:
    case ValueType::kFloat64: {
      char text[32];
      std::snprintf(text, sizeof text, "%g", v.float_value);
      return text;
    }
    case ValueType::kBool:
      return v.uint_value ? "true" : "false";
    case ValueType::kInt8:
    case ValueType::kInt16:
    case ValueType::kInt32:
    case ValueType::kInt64:
      return std::to_string(v.int_value);
    default:
      return std::to_string(v.uint_value);
  }
}

int RunInspect(int argc, char** argv) {
  CLI::App app("Show a GGUF model's architecture, tensors and KV-cache cost", "inspect");
  std::string path;
  bool show_metadata = false;
  app.add_option("model", path, "model .gguf")->required();
  app.add_flag("--metadata", show_metadata, "also list every metadata key");
  int exit_code = 0;
  if (!Parse(app, argc, argv, exit_code)) return exit_code;

  auto file = gguf::File::Open(path);
  if (!file.ok()) return Fail(file.status());
  auto config = ModelConfig::FromGguf(*file);
  if (!config.ok()) return Fail(config.status());
  const ModelConfig& c = *config;
  uint64_t params = 0, tensor_bytes = 0;
  for (const auto& t : file->tensors()) params += t.n_elements(), tensor_bytes += t.n_bytes;

  std::printf("file:         %s (GGUF v%u, %s)\n", path.c_str(), file->version(),
              FormatBytes(file->file_bytes()).c_str());
  std::printf("architecture: %s%s\n", c.architecture.c_str(),
              c.name.empty() ? "" : ("  (" + c.name + ")").c_str());
  std::printf("parameters:   %llu (%.2f M), tensor data %s\n", (unsigned long long)params,
              params / 1e6, FormatBytes(tensor_bytes).c_str());
  std::printf("dims:         dim %lld, layers %lld, heads %lld, kv heads %lld (GQA group %lld), "
              "head dim %lld, ffn %lld, vocab %lld, context %lld\n",
              (long long)c.dim, (long long)c.n_layers, (long long)c.n_heads, (long long)c.n_kv_heads,
              (long long)(c.n_heads / c.n_kv_heads), (long long)c.head_dim, (long long)c.ffn_dim,
              (long long)c.vocab_size, (long long)c.context_length);
  std::printf("rope:         base %g, dims %lld;  rms eps %g;  output %s\n", c.rope_freq_base,
              (long long)c.rope_dim, c.rms_eps, c.tied_output ? "tied to token_embd" : "separate");

  if (show_metadata) {
    std::printf("\nmetadata (%zu keys):\n", file->metadata().size());
    for (const auto& [key, value] : file->metadata())
      std::printf("  %-40s %s\n", key.c_str(), ValueText(value).c_str());
  }

  std::printf("\n%-28s %-6s %-18s %12s\n", "tensor", "type", "shape", "bytes");
  for (const auto& t : file->tensors()) {
    std::printf("%-28s %-6s %-18s %12llu\n", t.name.c_str(), std::string(Name(t.type)).c_str(),
                DimsText(t.dims).c_str(), (unsigned long long)t.n_bytes);
  }

  std::printf("\nKV cache (2·L·H_kv·d_h·S·s; L=%lld, H_kv=%lld, d_h=%lld, S=%lld):\n",
              (long long)c.n_layers, (long long)c.n_kv_heads, (long long)c.head_dim,
              (long long)c.context_length);
  std::printf("  %-6s %16s %20s\n", "dtype", "bytes/token", "full context");
  for (DType type : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
    const KvShape shape = c.kv_shape(type);
    if (c.head_dim % Info(type).block_elements != 0) {
      std::printf("  %-6s %16s %20s\n", std::string(Name(type)).c_str(), "n/a",
                  "(head dim not a multiple of 32)");
      continue;
    }
    std::printf("  %-6s %16llu %20s\n", std::string(Name(type)).c_str(),
                (unsigned long long)shape.bytes_per_token(),
                FormatBytes(shape.bytes(c.context_length, 1)).c_str());
  }
  return 0;
}

}  // namespace

KVIK_COMMAND("inspect", "show a GGUF model's config, tensors and KV-cache cost", RunInspect);

}  // namespace kvik::cli
