// kvik's forward pass against the independent NumPy reference (tests/reference/llama_ref.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <vector>

#include "kvik/model.h"
#include "testing/fixtures.h"

namespace kvik {
namespace {

const std::vector<int32_t> kTokens = {1, 17, 300, 42, 511, 259, 260, 3, 77, 400, 123, 261,
                                      301, 302, 5, 9, 260, 300, 480, 2, 64, 128, 256, 499};

std::vector<float> ReferenceLogits(const std::string& model_path, const testing::TempDir& dir) {
  std::string tokens;
  for (int32_t t : kTokens) tokens += (tokens.empty() ? "" : ",") + std::to_string(t);
  const std::string out = dir.File("logits.bin");
  const auto run = testing::RunCommand("/usr/bin/python3 " + std::string(KVIK_SOURCE_DIR) +
                                           "/tests/reference/llama_ref.py " + model_path +
                                           " --tokens " + tokens + " --out " + out,
                                       /*merge_stderr=*/true);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  std::ifstream in(out, std::ios::binary);
  std::vector<float> logits((std::istreambuf_iterator<char>(in)), {});
  std::vector<float> values(logits.size() / sizeof(float));
  in.clear();
  in.seekg(0);
  in.read(reinterpret_cast<char*>(values.data()), values.size() * sizeof(float));
  return values;
}

std::vector<float> KvikLogits(const std::string& model_path) {
  auto model = Model::Load(model_path);
  EXPECT_TRUE(model.ok()) << model.status().message();
  const ModelConfig& c = (*model)->config();
  auto cache = testing::NewCache(c, 64);
  ForwardState state(c, 64);
  std::vector<float> logits(kTokens.size() * c.vocab_size);
  const SequenceId seq = cache->AddSequence();
  EXPECT_TRUE((*model)->Forward(kTokens, seq, *cache, state, logits.data(), true, nullptr).ok());
  return logits;
}

// |kvik − reference| ≤ 1e-4 · max|reference| over each position's logits.
void ExpectMatchesReference(const std::string& model_path, int64_t vocab) {
  testing::TempDir dir;
  const auto reference = ReferenceLogits(model_path, dir);
  const auto ours = KvikLogits(model_path);
  ASSERT_EQ(reference.size(), ours.size());
  for (size_t pos = 0; pos < kTokens.size(); ++pos) {
    float scale = 0;
    for (int64_t v = 0; v < vocab; ++v) scale = std::max(scale, std::fabs(reference[pos * vocab + v]));
    for (int64_t v = 0; v < vocab; ++v) {
      const size_t i = pos * vocab + v;
      ASSERT_LE(std::fabs(ours[i] - reference[i]), 1e-4f * scale)
          << "position " << pos << " token " << v << ": kvik " << ours[i] << " reference " << reference[i];
    }
  }
}

TEST(ReferenceTest, TinyF32ModelMatchesNumpyReference) {
  testing::TempDir dir;
  ExpectMatchesReference(testing::WriteModel(dir, "tiny.gguf", testing::TinyPreset()), 512);
}

TEST(ReferenceTest, TinyModelWithTiedOutputMatchesNumpyReference) {
  testing::TempDir dir;
  ExpectMatchesReference(testing::WriteModel(dir, "tied.gguf", testing::TinyPreset(true)), 512);
}

TEST(ReferenceTest, QuantizedWeightsMatchReferenceOnTheSameDequantizedValues) {
  for (DType type : {DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
    SCOPED_TRACE(std::string(Name(type)));
    testing::TempDir dir;
    ExpectMatchesReference(testing::WriteModel(dir, "q.gguf", testing::TinyPreset(), type), 512);
  }
}

TEST(ReferenceTest, ChunkedPrefillGivesTheSameLogitsAsOneChunk) {
  testing::TempDir dir;
  auto model = Model::Load(testing::WriteModel(dir, "tiny.gguf", testing::TinyPreset())).value();
  const ModelConfig& c = model->config();
  std::vector<float> whole(kTokens.size() * c.vocab_size), chunked(whole.size());
  auto cache = testing::NewCache(c, 64, DType::kF32, 16, 2);
  ForwardState big(c, 64), small(c, 5);
  ASSERT_TRUE(model->Forward(kTokens, cache->AddSequence(), *cache, big, whole.data(), true, nullptr).ok());
  ASSERT_TRUE(model->Forward(kTokens, cache->AddSequence(), *cache, small, chunked.data(), true, nullptr).ok());
  EXPECT_EQ(whole, chunked);
}

}  // namespace
}  // namespace kvik
