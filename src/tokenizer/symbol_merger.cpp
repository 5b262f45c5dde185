#include "tokenizer/symbol_merger.h"

#include <queue>

namespace kvik::tokenizer_internal {
namespace {

constexpr size_t kNone = static_cast<size_t>(-1);

struct Symbol {
  size_t offset;
  size_t length;  // 0 once merged into its left neighbour
  size_t prev;
  size_t next;
};

struct CandidatePair {
  double priority;
  size_t left;
  size_t right;
  size_t merged_length;  // to recognise pairs made stale by an earlier merge
};

// Max-heap order: higher priority first; among equals, the leftmost pair (smaller symbol index —
// symbols never move, so index order is text order).
struct LowerPriority {
  bool operator()(const CandidatePair& a, const CandidatePair& b) const {
    if (a.priority != b.priority) return a.priority < b.priority;
    return a.left > b.left;
  }
};

}  // namespace

std::vector<SymbolSpan> MergeSymbols(std::string_view text, const std::vector<SymbolSpan>& initial,
                                     const PairPriority& priority) {
  std::vector<Symbol> symbols;
  symbols.reserve(initial.size());
  for (size_t i = 0; i < initial.size(); ++i) {
    symbols.push_back({initial[i].offset, initial[i].length, i == 0 ? kNone : i - 1,
                       i + 1 < initial.size() ? i + 1 : kNone});
  }

  std::priority_queue<CandidatePair, std::vector<CandidatePair>, LowerPriority> queue;
  const auto consider = [&](size_t left, size_t right) {
    if (left == kNone || right == kNone) return;
    const Symbol& a = symbols[left];
    const Symbol& b = symbols[right];
    const std::optional<double> p =
        priority(text.substr(a.offset, a.length), text.substr(b.offset, b.length));
    if (p) queue.push({*p, left, right, a.length + b.length});
  };
  for (size_t i = 0; i + 1 < symbols.size(); ++i) consider(i, i + 1);

  while (!queue.empty()) {
    const CandidatePair pair = queue.top();
    queue.pop();
    Symbol& left = symbols[pair.left];
    Symbol& right = symbols[pair.right];
    // A symbol only grows (or vanishes) when merged, so an unchanged total length plus adjacency
    // means neither side has changed since this pair was queued.
    if (left.length == 0 || right.length == 0 || left.next != pair.right ||
        left.length + right.length != pair.merged_length) {
      continue;
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next != kNone) symbols[right.next].prev = pair.left;
    consider(left.prev, pair.left);
    consider(pair.left, left.next);
  }

  std::vector<SymbolSpan> merged;
  for (size_t i = symbols.empty() ? kNone : 0; i != kNone; i = symbols[i].next) {
    merged.push_back({symbols[i].offset, symbols[i].length});
  }
  return merged;
}

}  // namespace kvik::tokenizer_internal
