// Weighted MinHash by Improved Consistent Weighted Sampling (Ioffe, ICDM 2010).
// For sample j and token t with weight S, draw r, c ~ Gamma(2, 1) and β ~ U(0, 1) from
// XXH3(hash(t), seed + j); then t_j = ⌊ln S / r + β⌋, y = exp(r (t_j − β)), a = c / (y e^r).
// The token with the smallest a wins and the sample is (t, t_j). We compare ln a = ln c − r (t_j −
// β + 1) to avoid two exponentials. P[sample(A) = sample(B)] = Σ min(A, B) / Σ max(A, B). Inlined
// xxHash: hashing 8 bytes is the inner loop, a call through the shared library costs more.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "kvik/lsh.h"

namespace kvik::lsh {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// ln(m) for m ∈ [1, 2) by ln m = 2·atanh((m−1)/(m+1)), odd series to s^15 (|s| ≤ 1/3, error
// < 1e-9). Only +, ×, ÷: IEEE-exact, so every machine builds the same table (no libm in the loop).
double SeriesLn(double m) {
  const double s = (m - 1.0) / (m + 1.0), s2 = s * s;
  double sum = 0, power = s;
  for (int k = 1; k <= 15; k += 2, power *= s2) sum += power / k;
  return 2 * sum;
}

// x = 2^e · (1 + k/256) · (1 + t) with 0 ≤ t < 1/256: ln x = e·ln2 + ln(1 + k/256) + ln(1 + t),
// the middle term from a table and the last from four series terms (error < 2e-13). No division
// and no libm call, about 5× faster than std::log; build and lookup agree bit for bit.
struct LnTable {
  double ln[257], inverse[257];
  LnTable() {
    for (int k = 0; k <= 256; ++k) {
      ln[k] = SeriesLn(1.0 + k / 256.0);
      inverse[k] = 1.0 / (1.0 + k / 256.0);
    }
  }
};
const LnTable kLnTable;

double FastLn(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const int exponent = static_cast<int>((bits >> 52) & 0x7FF) - 1023;
  const int k = static_cast<int>((bits >> 44) & 0xFF);
  bits = (bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;
  double mantissa;
  std::memcpy(&mantissa, &bits, sizeof mantissa);
  const double t = mantissa * kLnTable.inverse[k] - 1.0;
  const double ln1p_t = t * (1.0 - t * (0.5 - t * (1.0 / 3 - t * 0.25)));
  return exponent * 0.6931471805599453 + kLnTable.ln[k] + ln1p_t;
}

// Open interval (0, 1): ln(0) would be -inf.
double Uniform(uint32_t bits) { return (static_cast<double>(bits) + 0.5) * 0x1.0p-32; }

}  // namespace

MinHasher::MinHasher(MinHashOptions options) : options_(options) {
  if (options_.num_hashes == 0) options_.num_hashes = 1;
  if (options_.rows == 0) options_.rows = 1;
}

uint64_t MinHasher::Sample(const std::vector<WeightedToken>& tokens, const double* log_weights,
                           uint32_t j) const {
  const uint64_t seed = options_.seed + j;
  if (!options_.weighted) {
    uint64_t best = std::numeric_limits<uint64_t>::max(), best_token = 0;
    for (const auto& token : tokens) {
      uint64_t h = XXH3_64bits_withSeed(&token.hash, sizeof token.hash, seed);
      if (h < best || (h == best && token.hash < best_token)) {
        best = h;
        best_token = token.hash;
      }
    }
    return best_token;
  }
  double best_log_a = std::numeric_limits<double>::infinity();
  uint64_t best_sample = 0;
  for (size_t t = 0; t < tokens.size(); ++t) {
    uint64_t x1 = XXH3_64bits_withSeed(&tokens[t].hash, sizeof tokens[t].hash, seed);
    uint64_t x2 = SplitMix64(x1);
    double r =
        -FastLn(Uniform(static_cast<uint32_t>(x1)) * Uniform(static_cast<uint32_t>(x1 >> 32)));
    double c =
        -FastLn(Uniform(static_cast<uint32_t>(x2)) * Uniform(static_cast<uint32_t>(x2 >> 32)));
    double beta = Uniform(static_cast<uint32_t>(SplitMix64(x2)));
    double level = std::floor(log_weights[t] / r + beta);
    double log_a = FastLn(c) - r * (level - beta + 1.0);
    if (log_a < best_log_a) {
      best_log_a = log_a;
      best_sample = SplitMix64(tokens[t].hash ^
                               SplitMix64(static_cast<uint64_t>(static_cast<int64_t>(level))));
    }
  }
  return best_sample;
}

std::vector<uint64_t> MinHasher::Samples(const std::vector<WeightedToken>& tokens) const {
  const uint32_t total = options_.num_hashes * options_.rows;
  std::vector<double> log_weights(tokens.size());
  for (size_t t = 0; t < tokens.size(); ++t) log_weights[t] = FastLn(tokens[t].weight);
  std::vector<uint64_t> samples(total);
  for (uint32_t j = 0; j < total; ++j) samples[j] = Sample(tokens, log_weights.data(), j);
  return samples;
}

std::vector<uint64_t> MinHasher::BucketKeys(const std::vector<WeightedToken>& tokens) const {
  std::vector<uint64_t> samples = Samples(tokens);
  std::vector<uint64_t> keys(options_.num_hashes);
  for (uint32_t i = 0; i < options_.num_hashes; ++i) {
    uint64_t key = XXH3_64bits_withSeed(&samples[size_t{i} * options_.rows],
                                        options_.rows * sizeof(uint64_t), options_.seed ^ (i + 1));
    keys[i] = key == 0 ? 1 : key;  // 0 marks an empty slot in the index's bucket table
  }
  return keys;
}

double MinHasher::Jaccard(const std::vector<WeightedToken>& a, const std::vector<WeightedToken>& b,
                          bool weighted) {
  std::unordered_map<uint64_t, std::pair<double, double>> both;
  for (const auto& t : a) both[t.hash].first = weighted ? t.weight : 1.0;
  for (const auto& t : b) both[t.hash].second = weighted ? t.weight : 1.0;
  double min_sum = 0, max_sum = 0;
  for (const auto& [hash, w] : both) {
    min_sum += std::min(w.first, w.second);
    max_sum += std::max(w.first, w.second);
  }
  return max_sum > 0 ? min_sum / max_sum : 0.0;
}

}  // namespace kvik::lsh
