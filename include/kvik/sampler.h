// Picks the next token from logits: greedy, or temperature sampling after top-k, top-p (nucleus,
// Holtzman et al. 2019) and min-p filtering, in llama.cpp's order. Seeded: the same seed and
// logits give the same tokens on every machine.
#pragma once

#include <cstdint>
#include <vector>

#include "kvik/tensor.h"  // ArgMax

namespace kvik {

struct SamplerOptions {
  float temperature = 0.8f;  // <= 0: greedy (argmax, lowest id on ties)
  int32_t top_k = 40;        // <= 0: off
  float top_p = 0.95f;       // >= 1: off
  float min_p = 0.05f;       // <= 0: off; drop tokens with p < min_p · p_max
  uint64_t seed = 42;
};

class Sampler {
 public:
  explicit Sampler(SamplerOptions options);
  int32_t Sample(const float* logits, int64_t vocab_size);
  const SamplerOptions& options() const { return options_; }

 private:
  double NextUniform();  // [0, 1)
  SamplerOptions options_;
  uint64_t rng_state_;
  // Reused across calls: sampling allocates nothing per token once warmed up.
  std::vector<std::pair<float, int32_t>> candidates_;
  std::vector<double> probabilities_;
};

}  // namespace kvik
