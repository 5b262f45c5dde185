#include "tokenizer/symbol_merger.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kvik::tokenizer_internal {
namespace {

std::vector<std::string> Merge(std::string_view text, const PairPriority& priority) {
  std::vector<SymbolSpan> chars;
  for (size_t i = 0; i < text.size(); ++i) chars.push_back({i, 1});
  std::vector<std::string> out;
  for (const SymbolSpan& s : MergeSymbols(text, chars, priority))
    out.emplace_back(text.substr(s.offset, s.length));
  return out;
}

TEST(SymbolMerger, ReturnsTheInputWhenNothingMerges) {
  const auto never = [](std::string_view, std::string_view) -> std::optional<double> {
    return std::nullopt;
  };
  EXPECT_EQ(Merge("abc", never), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(Merge("", never).empty());
}

TEST(SymbolMerger, AgreesWithTheQuadraticRescanOnALongText) {
  // Priority favours short merged pieces and, among equals, the leftmost: the quadratic reference
  // (pick the best adjacent pair, merge, rescan) must give the same tiling.
  const auto priority = [](std::string_view left, std::string_view right) -> std::optional<double> {
    const size_t length = left.size() + right.size();
    if (length > 4 || left[0] == 'x') return std::nullopt;
    return -static_cast<double>(length) + (left[0] == 'a' ? 0.5 : 0.0);
  };
  std::string text;
  for (int i = 0; i < 200; ++i) text += "abxab"[i % 5];
  std::vector<std::string> reference;
  for (char c : text) reference.emplace_back(1, c);
  while (true) {
    int best = -1;
    double best_priority = 0;
    for (size_t i = 0; i + 1 < reference.size(); ++i) {
      auto p = priority(reference[i], reference[i + 1]);
      if (p && (best < 0 || *p > best_priority)) best = static_cast<int>(i), best_priority = *p;
    }
    if (best < 0) break;
    reference[best] += reference[best + 1];
    reference.erase(reference.begin() + best + 1);
  }
  EXPECT_EQ(Merge(text, priority), reference);
}

}  // namespace
}  // namespace kvik::tokenizer_internal
