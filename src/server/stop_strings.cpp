// Stop-string matching and UTF-8 holding for streamed text (see stop_strings.h).
#include "server/stop_strings.h"

#include <algorithm>

namespace kvik::server {

StopStringMatcher::StopStringMatcher(std::vector<std::string> stop_strings)
    : stop_strings_(std::move(stop_strings)) {
  std::erase_if(stop_strings_, [](const std::string& s) { return s.empty(); });
}

std::string StopStringMatcher::Push(std::string_view piece) {
  if (stopped_) return "";
  held_.append(piece);
  // Everything before held_ was already checked and cannot start a stop string, so every match
  // lies inside held_. Pick the match that ends first; on a tie, the one that starts first.
  size_t best_start = std::string::npos, best_end = std::string::npos;
  for (const std::string& stop : stop_strings_) {
    size_t start = held_.find(stop);
    if (start == std::string::npos) continue;
    size_t end = start + stop.size();
    if (end < best_end || (end == best_end && start < best_start)) {
      best_start = start;
      best_end = end;
    }
  }
  if (best_start != std::string::npos) {
    stopped_ = true;
    std::string out = held_.substr(0, best_start);
    held_.clear();
    return out;
  }
  size_t keep = PossibleStopPrefix();
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopStringMatcher::Flush() {
  std::string out;
  out.swap(held_);
  return stopped_ ? std::string() : out;
}

size_t StopStringMatcher::PossibleStopPrefix() const {
  size_t longest = 0;
  for (const std::string& stop : stop_strings_) {
    size_t max_len = std::min(stop.size() - 1, held_.size());
    for (size_t len = max_len; len > longest; --len) {
      if (std::string_view(held_).substr(held_.size() - len) ==
          std::string_view(stop).substr(0, len)) {
        longest = len;
        break;
      }
    }
  }
  return longest;
}

size_t CompleteUtf8Length(std::string_view text) {
  // Look back at most 3 bytes for the lead byte of a sequence that needs more bytes than follow it.
  size_t n = text.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    unsigned char c = static_cast<unsigned char>(text[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: keep looking for the lead
    size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return need > back ? n - back : n;
  }
  return n;  // only continuation bytes (invalid): nothing to wait for
}

std::string Utf8Joiner::Push(std::string_view text) {
  pending_.append(text);
  size_t complete = CompleteUtf8Length(pending_);
  std::string out = pending_.substr(0, complete);
  pending_.erase(0, complete);
  return out;
}

std::string Utf8Joiner::Flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace kvik::server
