// Reproducible N(0, scale²) inputs for the tensor tests.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace kvik::testing {

inline std::vector<float> RandomFloats(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

}  // namespace kvik::testing
