// Seeded random llama models written as GGUF: the fixtures kvik tests and benchmarks run on.
// Same preset, dtype and seed → byte-identical file on every machine (own PRNG, no std distributions).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "kvik/dtype.h"
#include "kvik/status.h"

namespace kvik {

struct ModelPreset {
  std::string name;
  int64_t dim, n_layers, n_heads, n_kv_heads, ffn_dim, vocab_size, context_length;
  bool tied_output;
};

// "tiny": dim 128, 2 layers, 4 heads, 2 KV heads (head size 32), ffn 256, vocab 512, ctx 2048,
// separate output.
// "small": dim 768, 12 layers, 12 heads, 4 KV heads, ffn 2048, vocab 32000, ctx 4096, tied (~100M).
std::span<const ModelPreset> ModelPresets();
Result<ModelPreset> FindModelPreset(const std::string& name);

struct SyntheticModelOptions {
  ModelPreset preset;
  DType dtype = DType::kF32;  // matrices and embedding; norms stay f32
  uint64_t seed = 1;
};

Status WriteSyntheticModel(const SyntheticModelOptions& options, const std::string& path);

}  // namespace kvik
