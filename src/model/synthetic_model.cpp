#include <cmath>
#include <string>
#include <vector>

#include "kvik/gguf.h"
#include "kvik/quantize.h"
#include "kvik/synthetic_model.h"
#include "model/synthetic_vocab.h"

namespace kvik {
namespace {

constexpr ModelPreset kPresets[] = {
    {"tiny", 128, 2, 4, 2, 256, 512, 2048, false},  // head_dim 32: one Q8_0/Q4_0 block per KV row
    {"small", 768, 12, 12, 4, 2048, 32000, 4096, true},
};

// splitmix64 (Steele et al. 2014): tiny, fast, and identical on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1).
  float Symmetric() { return static_cast<float>(static_cast<double>(Next() >> 11) * 0x1.0p-52 - 1.0); }

 private:
  uint64_t state_;
};

class ModelBuilder {
 public:
  ModelBuilder(const SyntheticModelOptions& o) : options_(o), rng_(o.seed) {}

  // (rows, cols) matrix with variance 1/cols, so activations keep their scale through each layer
  // and the logits spread widely enough for greedy decoding to be stable under quantization.
  // `fan_in` overrides cols for the embedding, whose rows are looked up, not multiplied.
  Status Matrix(const std::string& name, int64_t rows, int64_t cols, int64_t fan_in = 0) {
    const float amplitude = std::sqrt(3.0f / static_cast<float>(fan_in ? fan_in : cols));
    std::vector<float> values(rows * cols);
    for (auto& x : values) x = amplitude * rng_.Symmetric();
    return Add(name, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)}, options_.dtype, values);
  }
  // Norm weights near 1.
  Status Norm(const std::string& name, int64_t n) {
    std::vector<float> values(n);
    for (auto& x : values) x = 1.0f + 0.1f * rng_.Symmetric();
    return Add(name, {static_cast<uint64_t>(n)}, DType::kF32, values);
  }

  gguf::Writer& writer() { return writer_; }

 private:
  Status Add(const std::string& name, std::vector<uint64_t> dims, DType type,
             const std::vector<float>& values) {
    const int64_t cols = static_cast<int64_t>(dims[0]);
    const int64_t rows = static_cast<int64_t>(values.size()) / cols;
    std::vector<uint8_t> bytes(RowBytes(type, cols) * rows);
    for (int64_t r = 0; r < rows; ++r) {
      QuantizeRow(type, values.data() + r * cols, cols, bytes.data() + r * RowBytes(type, cols));
    }
    return writer_.AddTensor(name, std::move(dims), type, std::move(bytes));
  }

  SyntheticModelOptions options_;
  Rng rng_;
  gguf::Writer writer_;
};

// llama.cpp's general.file_type numbering (LLAMA_FTYPE_*).
uint32_t FileType(DType t) {
  switch (t) {
    case DType::kF32: return 0;
    case DType::kF16: return 1;
    case DType::kQ4_0: return 2;
    case DType::kQ8_0: return 7;
    case DType::kBF16: return 32;
    default: return 0;
  }
}

}  // namespace

std::span<const ModelPreset> ModelPresets() { return kPresets; }

Result<ModelPreset> FindModelPreset(const std::string& name) {
  std::string known;
  for (const auto& p : kPresets) {
    if (p.name == name) return p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  return InvalidArgument("unknown model preset '" + name + "' (known: " + known + ")");
}

Status WriteSyntheticModel(const SyntheticModelOptions& options, const std::string& path) {
  const ModelPreset& p = options.preset;
  const DTypeInfo& info = Info(options.dtype);
  if (!info.computable) {
    return InvalidArgument("make-model: dtype " + std::string(info.name) + " has no kernels");
  }
  if (p.dim % info.block_elements != 0 || p.ffn_dim % info.block_elements != 0) {
    return InvalidArgument("make-model: preset " + p.name + " does not fit " + std::string(info.name) +
                           " blocks");
  }
  ModelBuilder b(options);
  gguf::Writer& w = b.writer();
  const int64_t head_dim = p.dim / p.n_heads;
  w.SetString("general.architecture", "llama");
  w.SetString("general.name", "kvik-synthetic-" + p.name);
  w.SetUint32("general.file_type", FileType(options.dtype));
  w.SetUint32("llama.context_length", static_cast<uint32_t>(p.context_length));
  w.SetUint32("llama.embedding_length", static_cast<uint32_t>(p.dim));
  w.SetUint32("llama.block_count", static_cast<uint32_t>(p.n_layers));
  w.SetUint32("llama.feed_forward_length", static_cast<uint32_t>(p.ffn_dim));
  w.SetUint32("llama.attention.head_count", static_cast<uint32_t>(p.n_heads));
  w.SetUint32("llama.attention.head_count_kv", static_cast<uint32_t>(p.n_kv_heads));
  w.SetUint32("llama.rope.dimension_count", static_cast<uint32_t>(head_dim));
  w.SetFloat32("llama.rope.freq_base", 10000.0f);
  w.SetFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.SetUint32("llama.vocab_size", static_cast<uint32_t>(p.vocab_size));
  SyntheticVocab vocab = MakeSyntheticVocab(p.vocab_size);
  w.SetString("tokenizer.ggml.model", "llama");
  w.SetStringArray("tokenizer.ggml.tokens", std::move(vocab.tokens));
  w.SetFloat32Array("tokenizer.ggml.scores", std::move(vocab.scores));
  w.SetInt32Array("tokenizer.ggml.token_type", std::move(vocab.types));
  w.SetUint32("tokenizer.ggml.unknown_token_id", 0);
  w.SetUint32("tokenizer.ggml.bos_token_id", 1);
  w.SetUint32("tokenizer.ggml.eos_token_id", 2);
  w.SetBool("tokenizer.ggml.add_bos_token", true);
  w.SetBool("tokenizer.ggml.add_space_prefix", true);

  // Unit-variance embedding elements; every other matrix has variance 1/fan_in.
  KVIK_RETURN_IF_ERROR(b.Matrix("token_embd.weight", p.vocab_size, p.dim, /*fan_in=*/1));
  for (int64_t i = 0; i < p.n_layers; ++i) {
    const std::string l = "blk." + std::to_string(i) + ".";
    KVIK_RETURN_IF_ERROR(b.Norm(l + "attn_norm.weight", p.dim));
    KVIK_RETURN_IF_ERROR(b.Matrix(l + "attn_q.weight", p.n_heads * head_dim, p.dim));
    KVIK_RETURN_IF_ERROR(b.Matrix(l + "attn_k.weight", p.n_kv_heads * head_dim, p.dim));
    KVIK_RETURN_IF_ERROR(b.Matrix(l + "attn_v.weight", p.n_kv_heads * head_dim, p.dim));
    KVIK_RETURN_IF_ERROR(b.Matrix(l + "attn_output.weight", p.dim, p.n_heads * head_dim));
    KVIK_RETURN_IF_ERROR(b.Norm(l + "ffn_norm.weight", p.dim));
    KVIK_RETURN_IF_ERROR(b.Matrix(l + "ffn_gate.weight", p.ffn_dim, p.dim));
    KVIK_RETURN_IF_ERROR(b.Matrix(l + "ffn_up.weight", p.ffn_dim, p.dim));
    KVIK_RETURN_IF_ERROR(b.Matrix(l + "ffn_down.weight", p.dim, p.ffn_dim));
  }
  KVIK_RETURN_IF_ERROR(b.Norm("output_norm.weight", p.dim));
  if (!p.tied_output) KVIK_RETURN_IF_ERROR(b.Matrix("output.weight", p.vocab_size, p.dim));
  return w.WriteFile(path);
}

}  // namespace kvik
