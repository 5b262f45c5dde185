#include <string>

#include "kvik/model.h"
#include "model/weights.h"

namespace kvik {

Model::Model(gguf::File file, ModelConfig config, ModelWeights weights,
             std::unique_ptr<uint8_t, void (*)(void*)> matrices)
    : file_(std::move(file)),
      config_(std::move(config)),
      weights_(std::move(weights)),
      matrices_(std::move(matrices)) {}

Result<std::unique_ptr<Model>> Model::Load(const std::string& path) {
  KVIK_ASSIGN_OR_RETURN(gguf::File file, gguf::File::Open(path));
  KVIK_ASSIGN_OR_RETURN(ModelConfig config, ModelConfig::FromGguf(file));
  KVIK_ASSIGN_OR_RETURN(ModelWeights weights, BindWeights(file, config));
  KVIK_ASSIGN_OR_RETURN(LargePageBuffer matrices, CopyMatricesToLargePages(weights, file));
  // The views in `weights` point into the mapping, which moves with `file` unchanged, or into
  // `matrices`.
  return std::unique_ptr<Model>(
      new Model(std::move(file), std::move(config), std::move(weights), std::move(matrices)));
}

uint64_t Model::n_parameters() const {
  uint64_t total = 0;
  for (const auto& t : file_.tensors()) total += t.n_elements();
  return total;
}

ForwardState::ForwardState(const ModelConfig& c, int64_t max_tokens) : max_tokens_(max_tokens) {
  const int64_t q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
  x.resize(max_tokens * c.dim);
  normed.resize(max_tokens * c.dim);
  q.resize(max_tokens * q_dim);
  k.resize(max_tokens * kv_dim);
  v.resize(max_tokens * kv_dim);
  attention.resize(max_tokens * q_dim);
  projected.resize(max_tokens * c.dim);
  gate.resize(max_tokens * c.ffn_dim);
  up.resize(max_tokens * c.ffn_dim);
  row_sequence.resize(max_tokens);
  row_position.resize(max_tokens);
}

}  // namespace kvik
