// The merge loop both BPE flavours share: start from a sequence of adjacent symbols (substrings of
// one text), repeatedly merge the adjacent pair with the highest priority (ties: the leftmost
// pair), stop when no adjacent pair is mergeable. Symbols live in a doubly linked list and
// candidate pairs in a max-heap, so a text of n symbols costs O(n log n) instead of the O(n²)
// "rescan every pair" loop of llama2.c's bpe_encode; the chosen merges are the same.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

namespace kvik::tokenizer_internal {

struct SymbolSpan {
  size_t offset = 0;  // into the text given to MergeSymbols
  size_t length = 0;
};

// Priority of merging `left` with `right` (adjacent in memory, so their concatenation is
// std::string_view(left.data(), left.size() + right.size())); nullopt = this pair never merges.
using PairPriority =
    std::function<std::optional<double>(std::string_view left, std::string_view right)>;

// `initial` must tile `text` left to right without gaps. Returns the merged symbols, in order.
std::vector<SymbolSpan> MergeSymbols(std::string_view text, const std::vector<SymbolSpan>& initial,
                                     const PairPriority& priority);

}  // namespace kvik::tokenizer_internal
