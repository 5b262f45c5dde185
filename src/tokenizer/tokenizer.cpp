// Tokenizer: validates a Vocab, builds its lookup tables, and dispatches to the llama
// (SentencePiece) or gpt2 (byte-level) encoder.
#include <algorithm>
#include "kvik/tokenizer.h"

#include <cmath>
#include <string>
#include <utility>

#include "tokenizer/vocab_tables.h"

namespace kvik {

using tokenizer_internal::VocabTables;

struct Tokenizer::Impl {
  VocabTables tables;
};

namespace tokenizer_internal {

int ParseByteTokenName(const std::string& text) {
  if (text.size() != 6 || text.compare(0, 3, "<0x") != 0 || text[5] != '>') return -1;
  int value = 0;
  for (int i = 3; i < 5; ++i) {
    const char c = text[i];
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return -1;
    }
    value = value * 16 + digit;
  }
  return value;
}

void AppendByteToken(const VocabTables& tables, uint8_t byte, std::vector<int32_t>& out) {
  if (tables.byte_to_id[byte] >= 0) {
    out.push_back(tables.byte_to_id[byte]);
  } else if (tables.vocab.unk_id >= 0) {
    out.push_back(tables.vocab.unk_id);
  }
}

}  // namespace tokenizer_internal

namespace {

Status CheckSpecialId(const char* key, int32_t id, size_t n_tokens) {
  if (id < -1 || id >= static_cast<int64_t>(n_tokens)) {
    return OutOfRange(std::string(key) + " = " + std::to_string(id) +
                      " is outside the vocabulary (" + std::to_string(n_tokens) +
                      " tokens; -1 means none)");
  }
  return Status::Ok();
}

Status ValidateVocab(const Vocab& vocab) {
  if (vocab.model != "llama" && vocab.model != "gpt2") {
    return Unimplemented("tokenizer.ggml.model = \"" + vocab.model +
                         "\" is not supported (expected \"llama\" or \"gpt2\")");
  }
  const size_t n = vocab.tokens.size();
  if (n == 0) return InvalidArgument("tokenizer.ggml.tokens is empty");
  if (n > static_cast<size_t>(INT32_MAX))
    return OutOfRange("tokenizer.ggml.tokens has too many entries");
  if (!vocab.scores.empty() && vocab.scores.size() != n) {
    return InvalidArgument("tokenizer.ggml.scores has " + std::to_string(vocab.scores.size()) +
                           " entries, expected " + std::to_string(n) + " (one per token)");
  }
  for (size_t i = 0; i < vocab.scores.size(); ++i) {
    if (!std::isfinite(vocab.scores[i])) {
      return InvalidArgument("tokenizer.ggml.scores[" + std::to_string(i) + "] is not finite");
    }
  }
  if (!vocab.token_types.empty() && vocab.token_types.size() != n) {
    return InvalidArgument("tokenizer.ggml.token_type has " +
                           std::to_string(vocab.token_types.size()) + " entries, expected " +
                           std::to_string(n) + " (one per token)");
  }
  for (size_t i = 0; i < vocab.token_types.size(); ++i) {
    // 0 is llama.cpp's "undefined" and is read as normal.
    const int32_t type = vocab.token_types[i];
    if (type < 0 || type > static_cast<int32_t>(TokenType::kByte)) {
      return OutOfRange("tokenizer.ggml.token_type[" + std::to_string(i) +
                        "] = " + std::to_string(type) + " (expected 0..6)");
    }
    if (type == static_cast<int32_t>(TokenType::kByte) &&
        tokenizer_internal::ParseByteTokenName(vocab.tokens[i]) < 0 && vocab.model == "llama") {
      return InvalidArgument("tokenizer.ggml.tokens[" + std::to_string(i) + "] = \"" +
                             vocab.tokens[i] + "\" has type byte but is not of the form <0xNN>");
    }
  }
  KVIK_RETURN_IF_ERROR(CheckSpecialId("tokenizer.ggml.bos_token_id", vocab.bos_id, n));
  KVIK_RETURN_IF_ERROR(CheckSpecialId("tokenizer.ggml.eos_token_id", vocab.eos_id, n));
  KVIK_RETURN_IF_ERROR(CheckSpecialId("tokenizer.ggml.unknown_token_id", vocab.unk_id, n));
  KVIK_RETURN_IF_ERROR(CheckSpecialId("tokenizer.ggml.padding_token_id", vocab.pad_id, n));
  if (vocab.model == "gpt2") {
    for (size_t i = 0; i < vocab.merges.size(); ++i) {
      const std::string& merge = vocab.merges[i];
      const size_t space = merge.find(' ', 1);
      if (space == std::string::npos || space + 1 >= merge.size()) {
        return InvalidArgument("tokenizer.ggml.merges[" + std::to_string(i) + "] = \"" + merge +
                               "\" is not of the form \"left right\"");
      }
    }
  }
  return Status::Ok();
}

VocabTables BuildTables(Vocab vocab) {
  VocabTables tables;
  tables.vocab = std::move(vocab);
  tables.byte_to_id.fill(-1);
  const Vocab& v = tables.vocab;
  const int32_t n = static_cast<int32_t>(v.tokens.size());
  tables.types.reserve(n);
  for (int32_t id = 0; id < n; ++id) {
    TokenType type = TokenType::kNormal;
    if (!v.token_types.empty() && v.token_types[id] != 0) {
      type = static_cast<TokenType>(v.token_types[id]);
    } else if (v.token_types.empty() && v.model == "llama" &&
               tokenizer_internal::ParseByteTokenName(v.tokens[id]) >= 0) {
      type = TokenType::kByte;  // SentencePiece's convention for byte-fallback pieces
    }
    tables.types.push_back(type);
  }
  if (v.token_types.empty()) {  // without types, the special ids are still not text
    for (int32_t id : {v.bos_id, v.eos_id, v.pad_id})
      if (id >= 0) tables.types[id] = TokenType::kControl;
    if (v.unk_id >= 0) tables.types[v.unk_id] = TokenType::kUnknown;
  }
  for (int32_t id = 0; id < n; ++id) {
    const TokenType type = tables.types[id];
    const int byte =
        type == TokenType::kByte ? tokenizer_internal::ParseByteTokenName(v.tokens[id]) : -1;
    if (byte >= 0) {
      if (tables.byte_to_id[byte] < 0) tables.byte_to_id[byte] = id;
    } else if (type == TokenType::kNormal || type == TokenType::kUserDefined) {
      tables.piece_to_id.emplace(v.tokens[id], id);
    }
  }
  for (size_t rank = 0; rank < v.merges.size(); ++rank) {
    tables.merge_rank.emplace(v.merges[rank], static_cast<int32_t>(rank));
  }
  for (int32_t id = 0; id < n; ++id) {
    const TokenType type = tables.types[id];
    if ((type == TokenType::kControl || type == TokenType::kUserDefined) && !v.tokens[id].empty()) {
      tables.specials.emplace_back(v.tokens[id], id);
    }
  }
  std::stable_sort(tables.specials.begin(), tables.specials.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  tables.decoded_pieces.reserve(n);
  for (int32_t id = 0; id < n; ++id) {
    tables.decoded_pieces.push_back(v.model == "llama"
                                        ? tokenizer_internal::SpmPiece(tables, id)
                                        : tokenizer_internal::ByteLevelPiece(tables, id));
  }
  return tables;
}

}  // namespace

Result<Tokenizer> Tokenizer::FromVocab(Vocab vocab) {
  KVIK_RETURN_IF_ERROR(ValidateVocab(vocab));
  auto impl = std::make_unique<Impl>();
  impl->tables = BuildTables(std::move(vocab));
  return Tokenizer(std::move(impl));
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

void Tokenizer::EncodeText(std::string_view text, std::vector<int32_t>& ids) const {
  const VocabTables& tables = impl_->tables;
  if (tables.vocab.model == "llama") {
    tokenizer_internal::EncodeSpm(tables, text, ids);
  } else {
    tokenizer_internal::EncodeByteLevel(tables, text, ids);
  }
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_bos,
                                       bool parse_special) const {
  const VocabTables& tables = impl_->tables;
  std::vector<int32_t> ids;
  if (add_bos && tables.vocab.bos_id >= 0) ids.push_back(tables.vocab.bos_id);
  if (!parse_special || tables.specials.empty()) {
    EncodeText(text, ids);
    return ids;
  }
  // Text between special tokens is encoded as usual, each stretch on its own (as llama.cpp does,
  // so a stretch after a special token gets the SentencePiece space prefix too).
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    const auto match = std::find_if(tables.specials.begin(), tables.specials.end(),
                                    [&](const auto& s) { return text.substr(i).starts_with(s.first); });
    if (match == tables.specials.end()) {
      ++i;
      continue;
    }
    if (i > start) EncodeText(text.substr(start, i - start), ids);
    ids.push_back(match->second);
    i += match->first.size();
    start = i;
  }
  if (start < text.size()) EncodeText(text.substr(start), ids);
  return ids;
}

std::string Tokenizer::TokenToPiece(int32_t id) const {
  const auto& pieces = impl_->tables.decoded_pieces;
  if (id < 0 || static_cast<size_t>(id) >= pieces.size()) return "";
  return pieces[id];
}

std::string Tokenizer::Decode(const std::vector<int32_t>& ids) const {
  std::string text;
  for (int32_t id : ids) text += TokenToPiece(id);
  const Vocab& vocab = impl_->tables.vocab;
  if (vocab.model == "llama" && vocab.add_space_prefix && !text.empty() && text[0] == ' ') {
    text.erase(0, 1);
  }
  return text;
}

int32_t Tokenizer::vocab_size() const {
  return static_cast<int32_t>(impl_->tables.vocab.tokens.size());
}
int32_t Tokenizer::bos_id() const { return impl_->tables.vocab.bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->tables.vocab.eos_id; }
bool Tokenizer::add_bos() const { return impl_->tables.vocab.add_bos; }
const Vocab& Tokenizer::vocab() const { return impl_->tables.vocab; }

}  // namespace kvik
