// Tokenizers read from GGUF metadata (tokenizer.ggml.*):
//   model "llama": SentencePiece BPE — merges chosen by piece score, spaces as U+2581 "▁", an optional
//                  leading space, unknown bytes as <0xNN> byte tokens (byte fallback).
//   model "gpt2":  byte-level BPE — bytes mapped to printable code points, merges by rank from
//                  tokenizer.ggml.merges, a GPT-2/Llama-3 style pre-tokenizer split.
// User-defined tokens take part in merges like normal pieces (llama.cpp matches them before BPE).
// Both encoders merge with a heap over a linked list of symbols: O(n log n) in the text length.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kvik/status.h"

namespace kvik {

namespace gguf {
class File;
}

// Token types as GGUF stores them (tokenizer.ggml.token_type).
enum class TokenType : int32_t {
  kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6,
};

struct Vocab {
  std::string model = "llama";       // "llama" or "gpt2"
  std::vector<std::string> tokens;   // piece text; "▁" for spaces in llama; byte-level chars in gpt2
  std::vector<float> scores;         // llama: merge priority (higher first); may be empty for gpt2
  std::vector<int32_t> token_types;  // TokenType values; empty = all normal
  std::vector<std::string> merges;   // gpt2: "left right" in rank order
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t unk_id = -1;
  int32_t pad_id = -1;
  bool add_bos = true;               // tokenizer.ggml.add_bos_token
  bool add_space_prefix = true;      // tokenizer.ggml.add_space_prefix (llama only)
};

class Tokenizer {
 public:
  static Result<Tokenizer> FromVocab(Vocab vocab);
  static Result<Tokenizer> FromGguf(const gguf::File& file);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // `add_bos` prepends BOS when the vocabulary has one. By default control-token text in `text` is
  // encoded as plain text (llama.cpp's "parse_special=false"); with `parse_special` the text of a
  // control or user-defined token ("<|im_start|>" in a chat-templated prompt) becomes that token.
  std::vector<int32_t> Encode(std::string_view text, bool add_bos, bool parse_special = false) const;
  // The bytes one token stands for (byte tokens give their raw byte, "▁" gives a space; control
  // tokens give ""). Concatenating pieces can split a UTF-8 character across tokens; that is expected.
  // Unknown tokens give their text; an id outside the vocabulary gives "".
  std::string TokenToPiece(int32_t id) const;
  // Joins pieces; for llama, drops the single leading space that add_space_prefix introduced.
  std::string Decode(const std::vector<int32_t>& ids) const;

  int32_t vocab_size() const;
  int32_t bos_id() const;
  int32_t eos_id() const;
  bool add_bos() const;
  const Vocab& vocab() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  void EncodeText(std::string_view text, std::vector<int32_t>& ids) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvik
