#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "kvik/convert.h"
#include "kvik/gguf.h"
#include "kvik/quantize.h"
#include "model/llama2c_fake_checkpoint.h"
#include "testing/fixtures.h"

namespace kvik {
namespace {

using testing::FakeLlama2c;
using testing::TempDir;
using testing::WriteBytes;

class Llama2cConvertTest : public ::testing::Test {
 protected:
  // Writes `fake` as model.bin/tokenizer.bin and converts it; returns the conversion status.
  Status Convert(const FakeLlama2c& fake, DType dtype = DType::kF32,
                 const std::string& output_name = "out.gguf") {
    WriteBytes(dir_.File("model.bin"), fake.ModelBytes());
    WriteBytes(dir_.File("tokenizer.bin"), fake.TokenizerBytes());
    return ConvertPaths(dtype, output_name);
  }
  Status ConvertPaths(DType dtype = DType::kF32, const std::string& output_name = "out.gguf") {
    Llama2cConvertOptions options;
    options.model_path = dir_.File("model.bin");
    options.tokenizer_path = dir_.File("tokenizer.bin");
    options.output_path = dir_.File(output_name);
    options.dtype = dtype;
    return ConvertLlama2c(options);
  }
  gguf::File Open(const std::string& name = "out.gguf") {
    auto file = gguf::File::Open(dir_.File(name));
    EXPECT_TRUE(file.ok()) << file.status().message();
    return std::move(file).value();
  }
  std::vector<uint8_t> ReadAll(const std::string& name) {
    std::ifstream in(dir_.File(name), std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  // The f32 values of a converted tensor, dequantized.
  static std::vector<float> Values(const gguf::TensorInfo& tensor) {
    std::vector<float> values(tensor.n_elements());
    const uint64_t row = tensor.dims[0];
    const uint64_t row_bytes = RowBytes(tensor.type, row);
    for (uint64_t r = 0; r < values.size() / row; ++r) {
      DequantizeRow(tensor.type, tensor.data + r * row_bytes, static_cast<int64_t>(row),
                    values.data() + r * row);
    }
    return values;
  }
  static std::vector<float> Source(uint64_t float_offset, uint64_t count) {
    std::vector<float> values(count);
    for (uint64_t i = 0; i < count; ++i) values[i] = FakeLlama2c::Weight(float_offset + i);
    return values;
  }

  TempDir dir_;
};

TEST_F(Llama2cConvertTest, WritesTheLlamaHyperparameters) {
  const FakeLlama2c fake;
  ASSERT_TRUE(Convert(fake).ok());
  const gguf::File file = Open();
  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(*file.GetString("general.architecture"), "llama");
  EXPECT_EQ(*file.GetString("general.name"), "out");
  EXPECT_EQ(*file.GetUint("general.file_type"), 0u);
  EXPECT_EQ(*file.GetUint("llama.context_length"), 8u);
  EXPECT_EQ(*file.GetUint("llama.embedding_length"), 64u);
  EXPECT_EQ(*file.GetUint("llama.block_count"), 2u);
  EXPECT_EQ(*file.GetUint("llama.feed_forward_length"), 96u);
  EXPECT_EQ(*file.GetUint("llama.attention.head_count"), 4u);
  EXPECT_EQ(*file.GetUint("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(*file.GetUint("llama.rope.dimension_count"), 16u);
  EXPECT_EQ(*file.GetUint("llama.vocab_size"), 262u);
  EXPECT_FLOAT_EQ(*file.GetFloat("llama.rope.freq_base"), 10000.0f);
  EXPECT_FLOAT_EQ(*file.GetFloat("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
}

TEST_F(Llama2cConvertTest, WritesTheVocabularyInSentencePieceForm) {
  ASSERT_TRUE(Convert(FakeLlama2c()).ok());
  const gguf::File file = Open();
  EXPECT_EQ(*file.GetString("tokenizer.ggml.model"), "llama");
  const auto tokens = *file.GetStringArray("tokenizer.ggml.tokens");
  const auto types = *file.GetNumberArray("tokenizer.ggml.token_type");
  const auto scores = *file.GetNumberArray("tokenizer.ggml.scores");
  ASSERT_EQ(tokens.size(), 262u);
  ASSERT_EQ(types.size(), 262u);
  ASSERT_EQ(scores.size(), 262u);
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(types[0], 2);
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(types[1], 3);
  EXPECT_EQ(tokens[2], "</s>");
  EXPECT_EQ(types[2], 3);
  EXPECT_EQ(tokens[3], "<0x00>");
  EXPECT_EQ(tokens[3 + 0x41], "<0x41>");
  EXPECT_EQ(tokens[3 + 0xE9], "<0xE9>");  // stored as 2-byte UTF-8 in the source file
  EXPECT_EQ(types[3 + 0xE9], 6);
  EXPECT_EQ(tokens[259],
            "\xE2\x96\x81"
            "a");  // " a" -> "▁a"
  EXPECT_EQ(types[259], 1);
  EXPECT_EQ(tokens[261],
            "\xE2\x96\x81"
            "ab");
  EXPECT_FLOAT_EQ(scores[260], -2.0f);
  EXPECT_EQ(*file.GetUint("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(*file.GetUint("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_EQ(*file.GetUint("tokenizer.ggml.unknown_token_id"), 0u);
  EXPECT_TRUE(*file.GetBool("tokenizer.ggml.add_bos_token"));
  EXPECT_TRUE(*file.GetBool("tokenizer.ggml.add_space_prefix"));
}

TEST_F(Llama2cConvertTest, NamesAndShapesTensorsLikeLlamaCpp) {
  const FakeLlama2c fake;
  ASSERT_TRUE(Convert(fake).ok());
  const gguf::File file = Open();
  const auto dims = [&](const std::string& name) {
    const gguf::TensorInfo* t = file.FindTensor(name);
    EXPECT_NE(t, nullptr) << name;
    return t ? t->dims : std::vector<uint64_t>{};
  };
  using Dims = std::vector<uint64_t>;
  EXPECT_EQ(dims("token_embd.weight"), (Dims{64, 262}));
  EXPECT_EQ(dims("blk.1.attn_norm.weight"), (Dims{64}));
  EXPECT_EQ(dims("blk.1.attn_q.weight"), (Dims{64, 64}));
  EXPECT_EQ(dims("blk.1.attn_k.weight"), (Dims{64, 32}));
  EXPECT_EQ(dims("blk.1.attn_v.weight"), (Dims{64, 32}));
  EXPECT_EQ(dims("blk.1.attn_output.weight"), (Dims{64, 64}));
  EXPECT_EQ(dims("blk.1.ffn_norm.weight"), (Dims{64}));
  EXPECT_EQ(dims("blk.1.ffn_gate.weight"), (Dims{64, 96}));
  EXPECT_EQ(dims("blk.1.ffn_down.weight"), (Dims{96, 64}));
  EXPECT_EQ(dims("blk.1.ffn_up.weight"), (Dims{64, 96}));
  EXPECT_EQ(dims("output_norm.weight"), (Dims{64}));
  EXPECT_EQ(file.FindTensor("output.weight"), nullptr) << "a tied classifier has no output tensor";
  EXPECT_EQ(file.tensors().size(), 2u + 2u * 9u);
}

TEST_F(Llama2cConvertTest, CopiesEachLayersSliceFromTheRightOffset) {
  const FakeLlama2c fake;
  ASSERT_TRUE(Convert(fake).ok());
  const gguf::File file = Open();
  const auto at = fake.offsets();
  const uint64_t d = 64, h = 96, kv = 32;
  const auto expect_tensor = [&](const std::string& name, uint64_t offset, uint64_t count) {
    const gguf::TensorInfo* t = file.FindTensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(Values(*t), Source(offset, count)) << name;
  };
  expect_tensor("token_embd.weight", at[FakeLlama2c::kEmbedding], 262 * d);
  expect_tensor("blk.0.attn_norm.weight", at[FakeLlama2c::kRmsAtt], d);
  expect_tensor("blk.1.attn_norm.weight", at[FakeLlama2c::kRmsAtt] + d, d);
  expect_tensor("blk.1.attn_q.weight", at[FakeLlama2c::kWq] + d * d, d * d);
  expect_tensor("blk.1.attn_k.weight", at[FakeLlama2c::kWk] + kv * d, kv * d);
  expect_tensor("blk.1.attn_v.weight", at[FakeLlama2c::kWv] + kv * d, kv * d);
  expect_tensor("blk.1.attn_output.weight", at[FakeLlama2c::kWo] + d * d, d * d);
  expect_tensor("blk.1.ffn_norm.weight", at[FakeLlama2c::kRmsFfn] + d, d);
  expect_tensor("blk.1.ffn_gate.weight", at[FakeLlama2c::kW1] + h * d, h * d);
  expect_tensor("blk.1.ffn_down.weight", at[FakeLlama2c::kW2] + d * h, d * h);
  expect_tensor("blk.1.ffn_up.weight", at[FakeLlama2c::kW3] + h * d, h * d);
  expect_tensor("output_norm.weight", at[FakeLlama2c::kRmsFinal], d);
}

TEST_F(Llama2cConvertTest, AnUntiedClassifierBecomesTheOutputTensor) {
  FakeLlama2c fake;
  fake.tied = false;
  ASSERT_TRUE(Convert(fake).ok());
  const gguf::File file = Open();
  const gguf::TensorInfo* output = file.FindTensor("output.weight");
  ASSERT_NE(output, nullptr);
  EXPECT_EQ(output->dims, (std::vector<uint64_t>{64, 262}));
  EXPECT_EQ(Values(*output), Source(fake.offsets()[FakeLlama2c::kClassifier], 262 * 64));
}

TEST_F(Llama2cConvertTest, F16StoresMatricesAsF16AndKeepsNormsF32) {
  const FakeLlama2c fake;
  ASSERT_TRUE(Convert(fake, DType::kF16).ok());
  const gguf::File file = Open();
  EXPECT_EQ(*file.GetUint("general.file_type"), 1u);
  EXPECT_EQ(file.FindTensor("token_embd.weight")->type, DType::kF16);
  EXPECT_EQ(file.FindTensor("blk.0.ffn_down.weight")->type, DType::kF16);
  EXPECT_EQ(file.FindTensor("blk.0.attn_norm.weight")->type, DType::kF32);
  EXPECT_EQ(file.FindTensor("output_norm.weight")->type, DType::kF32);
  const std::vector<float> source = Source(fake.offsets()[FakeLlama2c::kWq], 64 * 64);
  const std::vector<float> converted = Values(*file.FindTensor("blk.0.attn_q.weight"));
  for (size_t i = 0; i < source.size(); ++i) EXPECT_NEAR(converted[i], source[i], 1e-3f) << i;
}

TEST_F(Llama2cConvertTest, Q8_0QuantizesMatricesWithinItsStepSize) {
  const FakeLlama2c fake;
  ASSERT_TRUE(Convert(fake, DType::kQ8_0).ok());
  const gguf::File file = Open();
  EXPECT_EQ(*file.GetUint("general.file_type"), 7u);
  EXPECT_EQ(file.FindTensor("blk.1.ffn_up.weight")->type, DType::kQ8_0);
  EXPECT_EQ(file.FindTensor("blk.1.ffn_norm.weight")->type, DType::kF32);
  const std::vector<float> source = Source(fake.offsets()[FakeLlama2c::kEmbedding], 262 * 64);
  const std::vector<float> converted = Values(*file.FindTensor("token_embd.weight"));
  // Weights lie in [-0.5, 0.5]: one Q8_0 step is at most 0.5 / 127.
  for (size_t i = 0; i < source.size(); ++i) EXPECT_NEAR(converted[i], source[i], 0.5f / 127) << i;
}

TEST_F(Llama2cConvertTest, ConvertingTwiceGivesIdenticalBytes) {
  // Same file name in two folders: general.name comes from the output name.
  std::filesystem::create_directories(dir_.File("first"));
  std::filesystem::create_directories(dir_.File("second"));
  for (DType dtype : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    ASSERT_TRUE(Convert(FakeLlama2c(), dtype, "first/model.gguf").ok());
    ASSERT_TRUE(ConvertPaths(dtype, "second/model.gguf").ok());
    const std::vector<uint8_t> first = ReadAll("first/model.gguf");
    EXPECT_FALSE(first.empty());
    EXPECT_TRUE(first == ReadAll("second/model.gguf")) << Name(dtype);
  }
}

TEST_F(Llama2cConvertTest, Q8_0RefusesRowsThatAreNotWholeBlocks) {
  FakeLlama2c fake;
  fake.dim = 48;  // 48 is not a multiple of Q8_0's 32-value block
  fake.n_heads = 4;
  const Status status = Convert(fake, DType::kQ8_0);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("multiple of 32"), std::string::npos) << status.message();
  EXPECT_TRUE(Convert(fake, DType::kF16).ok());
}

// --- bad input ---------------------------------------------------------------------------------

Status ExpectFailure(Status status, const std::string& expected_text) {
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find(expected_text), std::string::npos) << status.message();
  return status;
}

TEST_F(Llama2cConvertTest, RejectsATruncatedCheckpoint) {
  std::vector<uint8_t> model = FakeLlama2c().ModelBytes();
  model.resize(model.size() - 4);
  WriteBytes(dir_.File("model.bin"), model);
  WriteBytes(dir_.File("tokenizer.bin"), FakeLlama2c().TokenizerBytes());
  (void)ExpectFailure(ConvertPaths(), "truncated or not a llama2.c checkpoint");
}

TEST_F(Llama2cConvertTest, RejectsATiedHeaderOnAFileWithAClassifier) {
  FakeLlama2c untied;
  untied.tied = false;
  std::vector<uint8_t> model = untied.ModelBytes();
  const int32_t positive_vocab = untied.vocab_size();  // claims "tied" but carries wcls
  std::memcpy(model.data() + 5 * 4, &positive_vocab, 4);
  WriteBytes(dir_.File("model.bin"), model);
  WriteBytes(dir_.File("tokenizer.bin"), untied.TokenizerBytes());
  (void)ExpectFailure(ConvertPaths(), "with a separate one");
}

TEST_F(Llama2cConvertTest, RejectsAFileShorterThanTheHeader) {
  WriteBytes(dir_.File("model.bin"), {1, 2, 3});
  WriteBytes(dir_.File("tokenizer.bin"), FakeLlama2c().TokenizerBytes());
  (void)ExpectFailure(ConvertPaths(), "28-byte header");
}

TEST_F(Llama2cConvertTest, RejectsHeadsThatDoNotDivideDim) {
  FakeLlama2c fake;
  fake.n_heads = 5;
  fake.n_kv_heads = 5;
  (void)ExpectFailure(Convert(fake), "not a multiple of n_heads");
}

TEST_F(Llama2cConvertTest, RejectsANonPositiveHeaderField) {
  std::vector<uint8_t> model = FakeLlama2c().ModelBytes();
  const int32_t zero = 0;
  std::memcpy(model.data() + 2 * 4, &zero, 4);  // n_layers
  WriteBytes(dir_.File("model.bin"), model);
  WriteBytes(dir_.File("tokenizer.bin"), FakeLlama2c().TokenizerBytes());
  (void)ExpectFailure(ConvertPaths(), "n_layers = 0");
}

TEST_F(Llama2cConvertTest, RejectsATruncatedTokenizer) {
  const FakeLlama2c fake;
  WriteBytes(dir_.File("model.bin"), fake.ModelBytes());
  std::vector<uint8_t> tokenizer = fake.TokenizerBytes();
  tokenizer.resize(tokenizer.size() - 2);
  WriteBytes(dir_.File("tokenizer.bin"), tokenizer);
  (void)ExpectFailure(ConvertPaths(), "token 261");
}

TEST_F(Llama2cConvertTest, RejectsATokenizerWithMoreTokensThanTheModel) {
  FakeLlama2c fake;
  WriteBytes(dir_.File("model.bin"), fake.ModelBytes());
  fake.pieces.push_back("extra");
  WriteBytes(dir_.File("tokenizer.bin"), fake.TokenizerBytes());
  (void)ExpectFailure(ConvertPaths(), "bytes left after the model's 262 tokens");
}

TEST_F(Llama2cConvertTest, RejectsATokenizerWhoseByteTokensAreMissing) {
  const FakeLlama2c fake;
  WriteBytes(dir_.File("model.bin"), fake.ModelBytes());
  std::vector<uint8_t> tokenizer = fake.TokenizerBytes();
  // Token 3 is <0x00>, stored as one zero byte after max_len + 3 special tokens.
  const size_t token3_text = 4 + (8 + 5) + (8 + 5) + (8 + 6) + 8;
  ASSERT_EQ(tokenizer[token3_text], 0);
  tokenizer[token3_text] = 'Z';
  WriteBytes(dir_.File("tokenizer.bin"), tokenizer);
  (void)ExpectFailure(ConvertPaths(), "token 3 should be the byte token <0x00>");
}

TEST_F(Llama2cConvertTest, ReportsAMissingInputFile) {
  WriteBytes(dir_.File("tokenizer.bin"), FakeLlama2c().TokenizerBytes());
  (void)ExpectFailure(ConvertPaths(), dir_.File("model.bin"));
}

TEST_F(Llama2cConvertTest, RejectsAnUnsupportedOutputType) {
  (void)ExpectFailure(Convert(FakeLlama2c(), DType::kQ4_1), "expected f32, f16 or q8_0");
}

}  // namespace
}  // namespace kvik
