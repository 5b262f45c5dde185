// Stop strings over a stream of text pieces. Tokens decode to pieces that may split a stop string
// ("\n\nUs" + "er:"), so text that could still become the start of a stop string is held back until
// the next piece decides it. Emitted text never contains a stop string, and the result does not
// depend on how the text was split into pieces: generation stops at the first position where some
// stop string has been completed (ties: the longest one), and that stop string is trimmed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kvik::server {

class StopStringMatcher {
 public:
  explicit StopStringMatcher(std::vector<std::string> stop_strings);

  // Takes the next generated piece; returns the text that may be sent now. After a stop string
  // completes, stopped() is true and later pieces are ignored (return "").
  std::string Push(std::string_view piece);
  // Generation ended without a stop string: returns the held-back text.
  std::string Flush();
  bool stopped() const { return stopped_; }

 private:
  // Length of the longest suffix of held_ that is a proper prefix of some stop string.
  size_t PossibleStopPrefix() const;

  std::vector<std::string> stop_strings_;
  std::string held_;
  bool stopped_ = false;
};

// Holds back an incomplete UTF-8 sequence at the end of streamed text, so that every SSE chunk is
// valid UTF-8 on its own (a token may carry only the first bytes of a character).
class Utf8Joiner {
 public:
  std::string Push(std::string_view text);
  std::string Flush();  // whatever is left, even if incomplete

 private:
  std::string pending_;
};

// Length of the longest prefix of `text` that does not end inside a UTF-8 sequence.
size_t CompleteUtf8Length(std::string_view text);

}  // namespace kvik::server
