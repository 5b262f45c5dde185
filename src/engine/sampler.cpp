#include "kvik/sampler.h"

#include <algorithm>
#include <cmath>

namespace kvik {

Sampler::Sampler(SamplerOptions options) : options_(options), rng_state_(options.seed) {}

double Sampler::NextUniform() {
  // splitmix64; the top 53 bits make a double in [0, 1).
  uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

int32_t Sampler::Sample(const float* logits, int64_t vocab_size) {
  if (options_.temperature <= 0) return ArgMax(logits, vocab_size);

  candidates_.clear();
  for (int64_t i = 0; i < vocab_size; ++i) candidates_.emplace_back(logits[i], static_cast<int32_t>(i));
  // Highest logit first; ties by lower id so the order never depends on the sort's stability.
  auto by_logit = [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  size_t keep = candidates_.size();
  if (options_.top_k > 0 && static_cast<size_t>(options_.top_k) < keep) {
    keep = static_cast<size_t>(options_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  candidates_.resize(keep);

  // top-p and min-p look at the untempered distribution (as llama.cpp does).
  const float max_logit = candidates_[0].first;
  std::vector<double>& probs = probabilities_;
  probs.resize(keep);
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += probs[i] = std::exp(double(candidates_[i].first) - max_logit);
  size_t cut = keep;
  if (options_.top_p < 1.0f) {
    double cumulative = 0;
    for (size_t i = 0; i < keep; ++i) {
      cumulative += probs[i] / total;
      if (cumulative >= options_.top_p) {
        cut = i + 1;
        break;
      }
    }
  }
  if (options_.min_p > 0) {
    // probs[0] is the maximum (= 1 before normalising).
    size_t i = 1;
    while (i < cut && probs[i] >= options_.min_p * probs[0]) ++i;
    cut = i;
  }
  candidates_.resize(cut);

  double tempered_total = 0;
  std::vector<double>& weights = probabilities_;  // reuse: probs are no longer needed
  for (size_t i = 0; i < cut; ++i) {
    weights[i] = std::exp((double(candidates_[i].first) - max_logit) / options_.temperature);
    tempered_total += weights[i];
  }
  double target = NextUniform() * tempered_total;
  for (size_t i = 0; i < cut; ++i) {
    target -= weights[i];
    if (target < 0) return candidates_[i].second;
  }
  return candidates_[cut - 1].second;
}

}  // namespace kvik
