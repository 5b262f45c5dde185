// Tokenizer::FromGguf: reads tokenizer.ggml.* into a Vocab. Kept apart from tokenizer.cpp so code
// that only builds vocabularies in memory does not pull in the GGUF reader.
#include <cmath>
#include <string>

#include "kvik/gguf.h"
#include "kvik/tokenizer.h"

namespace kvik {
namespace {

// Optional keys: absent gives `fallback`; present with the wrong type is an error.
Result<int32_t> OptionalTokenId(const gguf::File& file, std::string_view key) {
  if (!file.Has(key)) return -1;
  KVIK_ASSIGN_OR_RETURN(const uint64_t id, file.GetUint(key));
  if (id > static_cast<uint64_t>(INT32_MAX)) {
    return OutOfRange(file.path() + ": " + std::string(key) + " = " + std::to_string(id) +
                      " is not a valid token id");
  }
  return static_cast<int32_t>(id);
}

Result<bool> OptionalBool(const gguf::File& file, std::string_view key, bool fallback) {
  if (!file.Has(key)) return fallback;
  return file.GetBool(key);
}

// Integral values of a number array, checked to fit int32.
Result<std::vector<int32_t>> Int32Array(const gguf::File& file, std::string_view key) {
  KVIK_ASSIGN_OR_RETURN(const std::vector<double> numbers, file.GetNumberArray(key));
  std::vector<int32_t> values;
  values.reserve(numbers.size());
  for (size_t i = 0; i < numbers.size(); ++i) {
    const double v = numbers[i];
    if (!(v >= INT32_MIN && v <= INT32_MAX) || v != std::floor(v)) {
      return InvalidArgument(file.path() + ": " + std::string(key) + "[" + std::to_string(i) +
                             "] is not a 32-bit integer");
    }
    values.push_back(static_cast<int32_t>(v));
  }
  return values;
}

Result<Vocab> ReadVocab(const gguf::File& file) {
  Vocab vocab;
  KVIK_ASSIGN_OR_RETURN(vocab.model, file.GetString("tokenizer.ggml.model"));
  KVIK_ASSIGN_OR_RETURN(vocab.tokens, file.GetStringArray("tokenizer.ggml.tokens"));
  if (file.Has("tokenizer.ggml.scores")) {
    KVIK_ASSIGN_OR_RETURN(const std::vector<double> scores,
                          file.GetNumberArray("tokenizer.ggml.scores"));
    vocab.scores.assign(scores.begin(), scores.end());
  }
  if (file.Has("tokenizer.ggml.token_type")) {
    KVIK_ASSIGN_OR_RETURN(vocab.token_types, Int32Array(file, "tokenizer.ggml.token_type"));
  }
  if (file.Has("tokenizer.ggml.merges")) {
    KVIK_ASSIGN_OR_RETURN(vocab.merges, file.GetStringArray("tokenizer.ggml.merges"));
  }
  KVIK_ASSIGN_OR_RETURN(vocab.bos_id, OptionalTokenId(file, "tokenizer.ggml.bos_token_id"));
  KVIK_ASSIGN_OR_RETURN(vocab.eos_id, OptionalTokenId(file, "tokenizer.ggml.eos_token_id"));
  KVIK_ASSIGN_OR_RETURN(vocab.unk_id, OptionalTokenId(file, "tokenizer.ggml.unknown_token_id"));
  KVIK_ASSIGN_OR_RETURN(vocab.pad_id, OptionalTokenId(file, "tokenizer.ggml.padding_token_id"));
  // Defaults when the keys are absent follow llama.cpp: SentencePiece models add BOS and the space
  // prefix; byte-level ones add neither.
  const bool is_llama = vocab.model == "llama";
  KVIK_ASSIGN_OR_RETURN(vocab.add_bos,
                        OptionalBool(file, "tokenizer.ggml.add_bos_token", is_llama));
  KVIK_ASSIGN_OR_RETURN(vocab.add_space_prefix,
                        OptionalBool(file, "tokenizer.ggml.add_space_prefix", is_llama));
  return vocab;
}

}  // namespace

Result<Tokenizer> Tokenizer::FromGguf(const gguf::File& file) {
  Result<Vocab> vocab = ReadVocab(file);
  if (!vocab.ok()) return vocab.status();
  Result<Tokenizer> tokenizer = FromVocab(std::move(vocab).value());
  if (!tokenizer.ok()) {
    return Status(tokenizer.status().code(), file.path() + ": " + tokenizer.status().message());
  }
  return tokenizer;
}

}  // namespace kvik
