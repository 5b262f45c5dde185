// Token weights: IDF from the query log, scaled by an optional role lexicon, with synonym folding.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <unordered_set>

#include "kvik/lsh.h"
#include "lsh/typo.h"

namespace kvik::lsh {
namespace {

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    size_t tab = line.find('\t', start);
    fields.push_back(
        line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  return fields;
}

}  // namespace

Result<RoleLexicon> LoadRoleLexicon(const std::string& path, const NormalizeOptions& options) {
  std::ifstream in(path);
  if (!in) return IoError("role lexicon " + path + ": cannot open for reading");
  RoleLexicon lexicon;
  std::string line;
  for (uint64_t line_number = 1; std::getline(in, line); ++line_number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const std::string where = path + ":" + std::to_string(line_number) + ": ";
    auto fields = SplitTabs(line);
    // The token goes through the same normalization as queries, so "Shoes" in the file is "shoe".
    std::string token = Normalize(fields[0], options);
    if (token.empty() || token.find(' ') != std::string::npos) {
      return InvalidArgument(where + "expected one token in column 1, got '" + fields[0] + "'");
    }
    if (fields.size() < 2) return InvalidArgument(where + "expected 'token<TAB>role'");
    const std::string& role = fields[1];
    if (role == "synonym") {
      std::string target = fields.size() == 3 ? Normalize(fields[2], options) : "";
      if (target.empty() || target.find(' ') != std::string::npos) {
        return InvalidArgument(where +
                               "expected 'token<TAB>synonym<TAB>target' with one target token");
      }
      if (target != token) lexicon.synonyms[token] = target;
      continue;
    }
    if (fields.size() != 2)
      return InvalidArgument(where + "expected 2 columns for role '" + role + "'");
    TokenRole parsed;
    if (role == "head") {
      parsed = TokenRole::kHead;
    } else if (role == "brand") {
      parsed = TokenRole::kBrand;
    } else if (role == "modifier") {
      parsed = TokenRole::kModifier;
    } else if (role == "stop") {
      parsed = TokenRole::kStop;
    } else {
      return InvalidArgument(where + "unknown role '" + role +
                             "' (expected head, brand, modifier, stop or synonym)");
    }
    lexicon.roles[token] = parsed;
  }
  // A chain a→b→c would make results depend on lookup order; require targets to be final.
  for (const auto& [source, target] : lexicon.synonyms) {
    if (lexicon.synonyms.count(target)) {
      return InvalidArgument("role lexicon " + path + ": synonym target '" + target +
                             "' is itself a synonym (chains are not allowed)");
    }
  }
  return lexicon;
}

Weigher::Weigher(RoleLexicon lexicon, RoleMultipliers multipliers)
    : lexicon_(std::move(lexicon)), multipliers_(multipliers) {}

// Typo correction first, then synonyms: "snaeker" → "sneaker" → "shoe".
std::string Weigher::Canonical(const std::string& token) const {
  const std::string* corrected = &token;
  if (!corrections_.empty()) {
    auto c = corrections_.find(token);
    if (c != corrections_.end()) corrected = &c->second;
  }
  auto it = lexicon_.synonyms.find(*corrected);
  return it == lexicon_.synonyms.end() ? *corrected : it->second;
}

bool Weigher::IsLexiconToken(const std::string& token) const {
  return lexicon_.roles.count(token) > 0 || lexicon_.synonyms.count(token) > 0;
}

// Tokens are visited from the most to the least frequent, so when a token is considered every
// token that could be its correction (≥ min_ratio × as frequent) is already a target or already
// corrected itself; a corrected token never becomes a target, so corrections do not chain.
void Weigher::ComputeCorrections() {
  struct Candidate {
    const std::string* token;
    uint64_t df;
  };
  std::vector<Candidate> order;
  order.reserve(document_frequency_.size() + lexicon_.synonyms.size());
  for (const auto& [token, df] : document_frequency_) order.push_back({&token, df});
  // Lexicon words absent from the counts (synonym sources are folded before counting) are known
  // words too; a synonym source counts as often as its target.
  for (const auto& [source, target] : lexicon_.synonyms) {
    auto it = document_frequency_.find(target);
    order.push_back({&source, it == document_frequency_.end() ? 0 : it->second});
  }
  for (const auto& [token, role] : lexicon_.roles) {
    if (!document_frequency_.count(token)) order.push_back({&token, 0});
  }
  std::sort(order.begin(), order.end(), [](const Candidate& a, const Candidate& b) {
    return a.df != b.df ? a.df > b.df : *a.token < *b.token;
  });
  std::unordered_map<uint64_t, std::vector<format::TypoEntry>> by_key;
  std::unordered_map<uint64_t, std::pair<uint64_t, const std::string*>> targets;  // hash → df, text
  std::vector<format::TypoEntry> entries;
  auto lookup = [&](uint64_t key) {
    auto it = by_key.find(key);
    if (it == by_key.end()) return typo::EntryRange{nullptr, nullptr};
    return typo::EntryRange{it->second.data(), it->second.data() + it->second.size()};
  };
  for (const auto& [token, df] : order) {
    const bool lexicon = IsLexiconToken(*token);
    if (!lexicon && df > 0) {
      if (auto target = typo::UniqueTarget(*token, lookup)) {
        const auto& [target_df, target_text] = targets.at(*target);
        if (static_cast<double>(target_df) >= typo_.min_ratio * static_cast<double>(df)) {
          corrections_.emplace(*token, *target_text);
          continue;
        }
      }
    }
    auto role = lexicon_.roles.find(*token);
    const bool stop = role != lexicon_.roles.end() && role->second == TokenRole::kStop;
    if (stop || token->size() < typo::kMinTargetLength || !typo::IsCorrectable(*token)) continue;
    if (!lexicon && df < typo_.min_target_df) continue;
    entries.clear();
    typo::AddTarget(*token, entries);
    for (const auto& e : entries) by_key[e.key_hash].push_back(e);
    targets.emplace(HashToken(*token), std::make_pair(df, token));
    typo_targets_.push_back(*token);
  }
}

void Weigher::CountDocument(const std::vector<std::string>& tokens) {
  ++documents_;
  std::unordered_set<std::string> seen;
  for (const auto& token : tokens) {
    std::string canonical = Canonical(token);
    if (seen.insert(canonical).second) ++document_frequency_[canonical];
  }
}

void Weigher::Finish() {
  corrections_.clear();
  typo_targets_.clear();
  if (typo_.enabled) ComputeCorrections();
  const double n = static_cast<double>(documents_);
  weights_.clear();
  weights_.reserve(document_frequency_.size());
  for (const auto& [token, df] : document_frequency_) {
    weights_[token] = std::log1p(n / static_cast<double>(df));
  }
  unknown_weight_ = static_cast<float>(std::log1p(n > 0 ? n : 1.0));
}

// Rounded to float: the index stores float weights, and lookup must reproduce the builder's samples
// bit for bit (ICWS quantizes ln(weight), so a last-bit difference could move a sample).
double Weigher::WeightOf(const std::string& canonical_token) const {
  return static_cast<float>(RawWeightOf(canonical_token));
}

double Weigher::RawWeightOf(const std::string& canonical_token) const {
  auto it = weights_.find(canonical_token);
  double idf = it == weights_.end() ? unknown_weight_ : it->second;
  auto role = lexicon_.roles.find(canonical_token);
  switch (role == lexicon_.roles.end() ? TokenRole::kNone : role->second) {
    case TokenRole::kHead:
      return idf * multipliers_.head;
    case TokenRole::kBrand:
      return idf * multipliers_.brand;
    case TokenRole::kModifier:
      return idf * multipliers_.modifier;
    case TokenRole::kStop:
      return 0.0;
    case TokenRole::kNone:
      break;
  }
  return idf * multipliers_.none;
}

std::vector<WeightedToken> Weigher::Weigh(const std::vector<std::string>& tokens) const {
  std::vector<WeightedToken> weighted;
  weighted.reserve(tokens.size());
  for (const auto& token : tokens) {
    std::string canonical = Canonical(token);
    uint64_t hash = HashToken(canonical);
    bool duplicate = false;
    for (const auto& w : weighted) duplicate |= (w.hash == hash);
    if (duplicate) continue;
    double weight = WeightOf(canonical);
    if (weight > 0) weighted.push_back({hash, weight});
  }
  return weighted;
}

std::vector<Weigher::Entry> Weigher::Table() const {
  std::vector<Entry> table;
  std::unordered_set<std::string> listed;
  const auto add = [&](const std::string& token) {
    if (!listed.insert(token).second) return;
    std::string canonical = Canonical(token);
    table.push_back(
        {HashToken(token), HashToken(canonical), static_cast<float>(WeightOf(canonical))});
  };
  for (const auto& [token, df] : document_frequency_) add(token);
  for (const auto& [token, role] : lexicon_.roles) add(token);
  for (const auto& [source, target] : lexicon_.synonyms) add(source);
  return table;
}

}  // namespace kvik::lsh
