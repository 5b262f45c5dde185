#include "kvik/quantize_model.h"

#include <gtest/gtest.h>

#include <vector>

#include "kvik/gguf.h"
#include "kvik/model.h"
#include "testing/fixtures.h"

namespace kvik {
namespace {

using testing::TempDir;
using testing::TinyPreset;
using testing::WriteModel;

gguf::File OpenOrDie(const std::string& path) {
  auto file = gguf::File::Open(path);
  EXPECT_TRUE(file.ok()) << file.status().message();
  return std::move(file.value());
}

Result<QuantizeModelReport> Quantize(const std::string& in, const std::string& out, DType type,
                                     std::optional<DType> output_type = std::nullopt,
                                     std::optional<DType> embedding_type = std::nullopt) {
  QuantizeModelOptions options;
  options.input_path = in;
  options.output_path = out;
  options.type = type;
  options.output_type = output_type;
  options.embedding_type = embedding_type;
  return QuantizeModel(options);
}

TEST(QuantizeModelTest, Q8_0ModelLoadsWithQuantizedMatricesAndF32Norms) {
  TempDir dir;
  const std::string in = WriteModel(dir, "tiny.gguf", TinyPreset());
  const std::string out = dir.File("tiny-q8_0.gguf");
  auto report = Quantize(in, out, DType::kQ8_0);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_LT(report.value().output_bytes, report.value().input_bytes);

  auto model = Model::Load(out);
  ASSERT_TRUE(model.ok()) << model.status().message();
  const gguf::File result = OpenOrDie(out);
  for (const gguf::TensorInfo& t : result.tensors()) {
    EXPECT_EQ(t.type, t.dims.size() == 1 ? DType::kF32 : DType::kQ8_0) << t.name;
  }
}

TEST(QuantizeModelTest, CopiesEveryMetadataKeyAndSetsTheFileType) {
  TempDir dir;
  const std::string in = WriteModel(dir, "tiny.gguf", TinyPreset());
  const std::string out = dir.File("tiny-q4_0.gguf");
  ASSERT_TRUE(Quantize(in, out, DType::kQ4_0).ok());
  const gguf::File source = OpenOrDie(in), result = OpenOrDie(out);
  ASSERT_EQ(source.metadata().size(), result.metadata().size());
  for (size_t i = 0; i < source.metadata().size(); ++i) {
    const auto& [key, value] = source.metadata()[i];
    const auto& [out_key, out_value] = result.metadata()[i];
    EXPECT_EQ(key, out_key);
    EXPECT_EQ(value.type, out_value.type) << key;
    if (key == "general.file_type") continue;
    EXPECT_EQ(value.int_value, out_value.int_value) << key;
    EXPECT_EQ(value.float_value, out_value.float_value) << key;
    EXPECT_EQ(value.string_value, out_value.string_value) << key;
    EXPECT_EQ(value.strings, out_value.strings) << key;
    EXPECT_EQ(value.numbers, out_value.numbers) << key;
  }
  EXPECT_EQ(result.GetUint("general.file_type").value(), 2u);  // LLAMA_FTYPE_MOSTLY_Q4_0
}

TEST(QuantizeModelTest, OutputAndEmbeddingTypesAreHonoured) {
  TempDir dir;
  const std::string in = WriteModel(dir, "tiny.gguf", TinyPreset());
  const std::string out = dir.File("mixed.gguf");
  ASSERT_TRUE(Quantize(in, out, DType::kQ4_0, DType::kF16, DType::kQ8_0).ok());
  const gguf::File result = OpenOrDie(out);
  EXPECT_EQ(result.FindTensor("output.weight")->type, DType::kF16);
  EXPECT_EQ(result.FindTensor("token_embd.weight")->type, DType::kQ8_0);
  EXPECT_EQ(result.FindTensor("blk.0.attn_q.weight")->type, DType::kQ4_0);
  EXPECT_TRUE(Model::Load(out).ok());
}

TEST(QuantizeModelTest, RequantizingAQuantizedModelGoesThroughF32) {
  TempDir dir;
  const std::string in = WriteModel(dir, "tiny-q8.gguf", TinyPreset(), DType::kQ8_0);
  const std::string out = dir.File("tiny-q4.gguf");
  ASSERT_TRUE(Quantize(in, out, DType::kQ4_0).ok());
  EXPECT_EQ(OpenOrDie(out).FindTensor("blk.1.ffn_down.weight")->type, DType::kQ4_0);
  EXPECT_TRUE(Model::Load(out).ok());
}

TEST(QuantizeModelTest, RowsThatAreNotWholeBlocksStayAsTheyAreAndSaySo) {
  TempDir dir;
  gguf::Writer writer;
  writer.SetString("general.architecture", "test");
  ASSERT_TRUE(writer.AddTensor("odd", {33, 2}, DType::kF32, std::vector<uint8_t>(33 * 2 * 4)).ok());
  ASSERT_TRUE(
      writer.AddTensor("even", {64, 2}, DType::kF32, std::vector<uint8_t>(64 * 2 * 4)).ok());
  ASSERT_TRUE(writer.AddTensor("norm", {33}, DType::kF32, std::vector<uint8_t>(33 * 4)).ok());
  ASSERT_TRUE(writer.WriteFile(dir.File("in.gguf")).ok());
  auto report = Quantize(dir.File("in.gguf"), dir.File("out.gguf"), DType::kQ8_0);
  ASSERT_TRUE(report.ok()) << report.status().message();
  const auto& tensors = report.value().tensors;
  ASSERT_EQ(tensors.size(), 3u);
  EXPECT_EQ(tensors[0].to, DType::kF32);
  EXPECT_NE(tensors[0].note.find("not a multiple of 32"), std::string::npos) << tensors[0].note;
  EXPECT_EQ(tensors[1].to, DType::kQ8_0);
  EXPECT_EQ(tensors[2].to, DType::kF32);
  EXPECT_EQ(OpenOrDie(dir.File("out.gguf")).FindTensor("odd")->type, DType::kF32);
}

TEST(QuantizeModelTest, RefusesToOverwriteTheInput) {
  TempDir dir;
  const std::string in = WriteModel(dir, "tiny.gguf", TinyPreset());
  auto report = Quantize(in, in, DType::kQ8_0);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("overwrite"), std::string::npos);
  EXPECT_TRUE(Model::Load(in).ok());
}

TEST(QuantizeModelTest, MissingInputIsNotFound) {
  TempDir dir;
  auto report = Quantize(dir.File("absent.gguf"), dir.File("out.gguf"), DType::kQ8_0);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kNotFound);
  EXPECT_NE(report.status().message().find("absent.gguf"), std::string::npos);
}

TEST(QuantizeModelTest, TypesKvikCannotComputeAreRefused) {
  TempDir dir;
  const std::string in = WriteModel(dir, "tiny.gguf", TinyPreset());
  auto report = Quantize(in, dir.File("out.gguf"), DType::kQ4_K);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("q4_K"), std::string::npos);
}

}  // namespace
}  // namespace kvik
