// A tiny llama2.c checkpoint + tokenizer.bin written by tests, with known values, so the
// converter's output can be checked number by number.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace kvik::testing {

struct FakeLlama2c {
  int32_t dim = 64, hidden_dim = 96, n_layers = 2, n_heads = 4, n_kv_heads = 2, seq_len = 8;
  bool tied = true;
  // Normal pieces after <unk>, <s>, </s> and the 256 byte tokens, as llama2.c stores them
  // (' ' instead of "▁").
  std::vector<std::string> pieces = {" a", "b", " ab"};

  int32_t vocab_size() const { return 259 + static_cast<int32_t>(pieces.size()); }
  int32_t head_size() const { return dim / n_heads; }
  int32_t kv_dim() const { return n_kv_heads * head_size(); }

  // llama2.c's f32 arrays, in file order.
  enum Section {
    kEmbedding,
    kRmsAtt,
    kWq,
    kWk,
    kWv,
    kWo,
    kRmsFfn,
    kW1,
    kW2,
    kW3,
    kRmsFinal,
    kFreqCis,
    kClassifier,
    kSectionCount
  };
  using Sections = std::array<uint64_t, kSectionCount>;

  // Float count of each array.
  Sections sizes() const {
    const uint64_t L = n_layers, d = dim, h = hidden_dim, kv = kv_dim(), v = vocab_size();
    return {v * d,           L * d,     L * d * d, L * kv * d,
            L * kv * d,      L * d * d, L * d,     L * h * d,
            L * d * h,       L * h * d, d,         2ull * seq_len * (head_size() / 2),
            tied ? 0 : v * d};
  }
  // Float offset (counted after the header) of each array.
  Sections offsets() const {
    const Sections s = sizes();
    Sections o{};
    uint64_t at = 0;
    for (int i = 0; i < kSectionCount; ++i) {
      o[i] = at;
      at += s[i];
    }
    return o;
  }
  uint64_t total_floats() const {
    uint64_t total = 0;
    for (uint64_t n : sizes()) total += n;
    return total;
  }
  // Distinct, deterministic weights: value i of the float area.
  static float Weight(uint64_t i) { return std::sin(0.37f * static_cast<float>(i)) * 0.5f; }

  std::vector<uint8_t> ModelBytes() const {
    const int32_t header[7] = {dim,     hidden_dim, n_layers,
                               n_heads, n_kv_heads, tied ? vocab_size() : -vocab_size(),
                               seq_len};
    std::vector<uint8_t> bytes(sizeof(header) + total_floats() * sizeof(float));
    std::memcpy(bytes.data(), header, sizeof(header));
    for (uint64_t i = 0; i < total_floats(); ++i) {
      const float w = Weight(i);
      std::memcpy(bytes.data() + sizeof(header) + i * 4, &w, 4);
    }
    return bytes;
  }

  // stories15M's spelling: "\n<s>\n", raw bytes below 0x80, UTF-8 of U+0080..U+00FF above.
  std::vector<uint8_t> TokenizerBytes() const {
    std::vector<uint8_t> bytes;
    const auto put = [&](const void* p, size_t n) {
      const auto* b = static_cast<const uint8_t*>(p);
      bytes.insert(bytes.end(), b, b + n);
    };
    const auto add = [&](float score, const std::string& text) {
      const int32_t length = static_cast<int32_t>(text.size());
      put(&score, 4);
      put(&length, 4);
      put(text.data(), text.size());
    };
    const int32_t max_token_length = 6;
    put(&max_token_length, 4);
    add(0, "<unk>");
    add(0, "\n<s>\n");
    add(0, "\n</s>\n");
    for (int byte = 0; byte < 256; ++byte) {
      std::string text;
      if (byte < 0x80) {
        text.push_back(static_cast<char>(byte));
      } else {
        text.push_back(static_cast<char>(0xC0 | (byte >> 6)));
        text.push_back(static_cast<char>(0x80 | (byte & 0x3F)));
      }
      add(0, text);
    }
    for (size_t i = 0; i < pieces.size(); ++i) add(-1.0f - static_cast<float>(i), pieces[i]);
    return bytes;
  }
};

inline void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

}  // namespace kvik::testing
