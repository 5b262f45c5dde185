// ModelConfig from GGUF metadata ("<arch>.<key>", as llama.cpp names them).
#include <string>

#include "kvik/attention.h"
#include "kvik/model.h"

namespace kvik {
namespace {

Result<int64_t> PositiveInt(const gguf::File& file, const std::string& key, int64_t max_value) {
  KVIK_ASSIGN_OR_RETURN(uint64_t value, file.GetUint(key));
  if (value == 0 || value > static_cast<uint64_t>(max_value)) {
    return OutOfRange(file.path() + ": metadata '" + key + "' = " + std::to_string(value) +
                      ", expected 1.." + std::to_string(max_value));
  }
  return static_cast<int64_t>(value);
}

// Optional keys take a default when absent but must be well-formed when present.
Result<int64_t> OptionalPositiveInt(const gguf::File& file, const std::string& key, int64_t fallback,
                                    int64_t max_value) {
  if (!file.Has(key)) return fallback;
  return PositiveInt(file, key, max_value);
}

Result<float> OptionalFloat(const gguf::File& file, const std::string& key, float fallback) {
  if (!file.Has(key)) return fallback;
  KVIK_ASSIGN_OR_RETURN(double value, file.GetFloat(key));
  return static_cast<float>(value);
}

}  // namespace

Result<ModelConfig> ModelConfig::FromGguf(const gguf::File& file) {
  ModelConfig c;
  KVIK_ASSIGN_OR_RETURN(c.architecture, file.GetString("general.architecture"));
  // qwen2 shares the tensor layout (plus QKV biases, which the forward pass applies) but rotates
  // with NeoX-style RoPE (pairs i, i + d/2); until that is implemented and tested it is refused
  // rather than run with the wrong rotation.
  if (c.architecture != "llama" && c.architecture != "mistral") {
    return Unimplemented(file.path() + ": architecture '" + c.architecture +
                         "' is not supported (kvik runs llama and mistral models)");
  }
  if (file.Has("general.name")) {
    KVIK_ASSIGN_OR_RETURN(c.name, file.GetString("general.name"));
  }
  const std::string& a = c.architecture;
  KVIK_ASSIGN_OR_RETURN(c.dim, PositiveInt(file, a + ".embedding_length", 1 << 16));
  KVIK_ASSIGN_OR_RETURN(c.n_layers, PositiveInt(file, a + ".block_count", 1024));
  KVIK_ASSIGN_OR_RETURN(c.n_heads, PositiveInt(file, a + ".attention.head_count", 1024));
  KVIK_ASSIGN_OR_RETURN(c.n_kv_heads,
                        OptionalPositiveInt(file, a + ".attention.head_count_kv", c.n_heads, 1024));
  KVIK_ASSIGN_OR_RETURN(c.ffn_dim, PositiveInt(file, a + ".feed_forward_length", 1 << 20));
  KVIK_ASSIGN_OR_RETURN(c.context_length, PositiveInt(file, a + ".context_length", 1 << 24));
  if (c.dim % c.n_heads != 0) {
    return InvalidArgument(file.path() + ": embedding_length " + std::to_string(c.dim) +
                           " is not a multiple of head_count " + std::to_string(c.n_heads));
  }
  if (c.n_heads % c.n_kv_heads != 0) {
    return InvalidArgument(file.path() + ": head_count " + std::to_string(c.n_heads) +
                           " is not a multiple of head_count_kv " + std::to_string(c.n_kv_heads));
  }
  c.head_dim = c.dim / c.n_heads;
  if (c.head_dim > kMaxHeadDim) {
    return Unimplemented(file.path() + ": head size " + std::to_string(c.head_dim) +
                         " is larger than kvik's attention supports (" +
                         std::to_string(kMaxHeadDim) + ")");
  }
  // Mistral-style sliding-window attention; absent means every position sees the whole prefix.
  KVIK_ASSIGN_OR_RETURN(c.sliding_window,
                        OptionalPositiveInt(file, a + ".attention.sliding_window", 0, 1 << 24));
  KVIK_ASSIGN_OR_RETURN(c.rope_dim,
                        OptionalPositiveInt(file, a + ".rope.dimension_count", c.head_dim, c.head_dim));
  if (c.rope_dim % 2 != 0) {
    return InvalidArgument(file.path() + ": rope.dimension_count " + std::to_string(c.rope_dim) +
                           " must be even");
  }
  KVIK_ASSIGN_OR_RETURN(c.rope_freq_base, OptionalFloat(file, a + ".rope.freq_base", 10000.0f));
  KVIK_ASSIGN_OR_RETURN(c.rms_eps,
                        OptionalFloat(file, a + ".attention.layer_norm_rms_epsilon", 1e-5f));
  if (!(c.rope_freq_base > 0) || !(c.rms_eps > 0)) {
    return OutOfRange(file.path() + ": rope.freq_base and layer_norm_rms_epsilon must be > 0");
  }
  // The vocabulary size is the embedding's row count; <arch>.vocab_size, when present, must agree.
  const gguf::TensorInfo* embedding = file.FindTensor("token_embd.weight");
  if (!embedding || embedding->dims.size() != 2) {
    return NotFound(file.path() + ": tensor 'token_embd.weight' (2-D) is missing");
  }
  c.vocab_size = static_cast<int64_t>(embedding->dims[1]);
  if (file.Has(a + ".vocab_size")) {
    KVIK_ASSIGN_OR_RETURN(uint64_t declared, file.GetUint(a + ".vocab_size"));
    if (declared != static_cast<uint64_t>(c.vocab_size)) {
      return InvalidArgument(file.path() + ": " + a + ".vocab_size = " + std::to_string(declared) +
                             " but token_embd.weight has " + std::to_string(c.vocab_size) + " rows");
    }
  }
  c.tied_output = file.FindTensor("output.weight") == nullptr;
  return c;
}

}  // namespace kvik
