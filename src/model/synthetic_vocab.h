// Internal: the SentencePiece-style vocabulary of synthetic models.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kvik {

struct SyntheticVocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
};

// <unk>, <s>, </s>, the 256 byte tokens <0x00>…<0xFF>, then word pieces ("▁the", "ing", …) in
// priority order until `size` entries. size must be ≥ 259 + 1.
SyntheticVocab MakeSyntheticVocab(int64_t size);

}  // namespace kvik
