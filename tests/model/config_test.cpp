#include <gtest/gtest.h>

#include "kvik/gguf.h"
#include "kvik/model.h"
#include "testing/fixtures.h"

namespace kvik {
namespace {

// A GGUF with only the metadata ModelConfig reads, plus a token_embd tensor for the vocab size.
std::string WriteConfigOnly(const testing::TempDir& dir, const std::string& arch, uint32_t heads,
                            uint32_t kv_heads) {
  gguf::Writer w;
  w.SetString("general.architecture", arch);
  w.SetUint32(arch + ".embedding_length", 64);
  w.SetUint32(arch + ".block_count", 1);
  w.SetUint32(arch + ".feed_forward_length", 128);
  w.SetUint32(arch + ".attention.head_count", heads);
  w.SetUint32(arch + ".attention.head_count_kv", kv_heads);
  w.SetUint32(arch + ".context_length", 256);
  EXPECT_TRUE(w.AddTensor("token_embd.weight", {64, 8}, DType::kF32, std::vector<uint8_t>(64 * 8 * 4)).ok());
  const std::string path = dir.File(arch + ".gguf");
  EXPECT_TRUE(w.WriteFile(path).ok());
  return path;
}

TEST(ModelConfigTest, ReadsLlamaKeysAndDerivesHeadDim) {
  testing::TempDir dir;
  auto file = gguf::File::Open(WriteConfigOnly(dir, "llama", 4, 2)).value();
  auto config = ModelConfig::FromGguf(file);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->head_dim, 16);
  EXPECT_EQ(config->rope_dim, 16);
  EXPECT_EQ(config->vocab_size, 8);
  EXPECT_TRUE(config->tied_output);
}

TEST(ModelConfigTest, RefusesQwen2BecauseItsRopeIsNotImplemented) {
  testing::TempDir dir;
  auto file = gguf::File::Open(WriteConfigOnly(dir, "qwen2", 4, 2)).value();
  auto config = ModelConfig::FromGguf(file);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("'qwen2' is not supported"), std::string::npos);
}

TEST(ModelConfigTest, RejectsHeadsThatDoNotDivideIntoKvGroups) {
  testing::TempDir dir;
  auto file = gguf::File::Open(WriteConfigOnly(dir, "llama", 4, 3)).value();
  auto config = ModelConfig::FromGguf(file);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("head_count_kv"), std::string::npos);
}

}  // namespace
}  // namespace kvik
