// gguf::Writer: what it writes reads back exactly, byte layout is deterministic and aligned, bad
// tensors and values are refused, and files appear atomically.
#include <dirent.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include "gguf/temp_path.h"
#include "kvik/gguf.h"
#include "util/half.h"

namespace kvik::gguf {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using testing::TempPath;

// The File views `bytes`, so they must outlive it: temporaries are refused at compile time.
File Parse(const std::vector<uint8_t>& bytes) {
  auto file = File::FromBytes(bytes, "written.gguf");
  EXPECT_TRUE(file.ok()) << file.status().message();
  return std::move(file).value();
}
File Parse(std::vector<uint8_t>&&) = delete;

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <typename T>
std::vector<uint8_t> AsBytes(const std::vector<T>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

TEST(GgufWriter, RoundTripsEveryScalarValueType) {
  Writer writer;
  writer.SetUint8("u8", 255);
  writer.SetInt8("i8", -128);
  writer.SetUint16("u16", 65535);
  writer.SetInt16("i16", -32768);
  writer.SetUint32("u32", 4294967295u);
  writer.SetInt32("i32", -2147483647 - 1);
  writer.SetUint64("u64", std::numeric_limits<uint64_t>::max());
  writer.SetInt64("i64", std::numeric_limits<int64_t>::min());
  writer.SetFloat32("f32", -0.1f);
  writer.SetFloat64("f64", 1.0 / 3.0);
  writer.SetBool("bool", true);
  writer.SetString("string", std::string("with\0nul", 8));
  const auto bytes = writer.Serialize();
  const File file = Parse(bytes);

  EXPECT_EQ(file.Find("u8")->type, ValueType::kUint8);
  EXPECT_EQ(file.GetUint("u8").value(), 255u);
  EXPECT_EQ(file.Find("i8")->type, ValueType::kInt8);
  EXPECT_EQ(file.GetInt("i8").value(), -128);
  EXPECT_EQ(file.Find("u16")->type, ValueType::kUint16);
  EXPECT_EQ(file.GetUint("u16").value(), 65535u);
  EXPECT_EQ(file.Find("i16")->type, ValueType::kInt16);
  EXPECT_EQ(file.GetInt("i16").value(), -32768);
  EXPECT_EQ(file.Find("u32")->type, ValueType::kUint32);
  EXPECT_EQ(file.GetUint("u32").value(), 4294967295u);
  EXPECT_EQ(file.Find("i32")->type, ValueType::kInt32);
  EXPECT_EQ(file.GetInt("i32").value(), -2147483648);
  EXPECT_EQ(file.Find("u64")->type, ValueType::kUint64);
  EXPECT_EQ(file.GetUint("u64").value(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(file.Find("i64")->type, ValueType::kInt64);
  EXPECT_EQ(file.GetInt("i64").value(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(file.Find("f32")->type, ValueType::kFloat32);
  EXPECT_EQ(file.GetFloat("f32").value(), static_cast<double>(-0.1f));
  EXPECT_EQ(file.Find("f64")->type, ValueType::kFloat64);
  EXPECT_EQ(file.GetFloat("f64").value(), 1.0 / 3.0);
  EXPECT_TRUE(file.GetBool("bool").value());
  EXPECT_EQ(file.GetString("string").value(), std::string("with\0nul", 8));
}

TEST(GgufWriter, RoundTripsArraysOfEveryElementType) {
  Writer writer;
  writer.SetStringArray("strings", {"", "a", "\xe2\x96\x81hi"});
  writer.SetFloat32Array("f32s", {1.5f, -2.25f});
  writer.SetInt32Array("i32s", {-7, 0, 2147483647});
  const std::vector<std::pair<ValueType, std::vector<double>>> numeric = {
      {ValueType::kUint8, {0, 255}},
      {ValueType::kInt8, {-128, 127}},
      {ValueType::kUint16, {65535}},
      {ValueType::kInt16, {-32768}},
      {ValueType::kUint32, {4294967295.0}},
      {ValueType::kInt32, {-2147483648.0}},
      {ValueType::kUint64, {9007199254740992.0}},
      {ValueType::kInt64, {-9007199254740992.0}},
      {ValueType::kFloat32, {0.5, -0x1p100}},
      {ValueType::kFloat64, {1e300, 0.1}},
      {ValueType::kBool, {0, 1, 1}},
  };
  for (const auto& [type, values] : numeric) {
    ASSERT_TRUE(writer.SetNumberArray(std::string(ValueTypeName(type)), type, values).ok());
  }
  const auto bytes = writer.Serialize();
  const File file = Parse(bytes);

  EXPECT_THAT(file.GetStringArray("strings").value(), ElementsAre("", "a", "\xe2\x96\x81hi"));
  EXPECT_THAT(file.GetNumberArray("f32s").value(), ElementsAre(1.5, -2.25));
  EXPECT_THAT(file.GetNumberArray("i32s").value(), ElementsAre(-7, 0, 2147483647));
  for (const auto& [type, values] : numeric) {
    const Value* value = file.Find(ValueTypeName(type));
    ASSERT_NE(value, nullptr);
    EXPECT_EQ(value->element_type, type);
    EXPECT_EQ(value->array_length, values.size());
    EXPECT_THAT(value->numbers, ElementsAreArray(values)) << ValueTypeName(type);
  }
}

TEST(GgufWriter, SetNumberArrayRefusesValuesTheTypeCannotHoldExactly) {
  Writer writer;
  EXPECT_THAT(writer.SetNumberArray("a", ValueType::kUint8, {1, 256}).message(),
              HasSubstr("element #1 (256) is not exactly representable as u8"));
  EXPECT_FALSE(writer.SetNumberArray("a", ValueType::kInt32, {1.5}).ok());
  EXPECT_FALSE(writer.SetNumberArray("a", ValueType::kUint32, {-1}).ok());
  EXPECT_FALSE(writer.SetNumberArray("a", ValueType::kBool, {2}).ok());
  EXPECT_FALSE(writer.SetNumberArray("a", ValueType::kFloat32, {1e300}).ok());
  EXPECT_FALSE(writer.SetNumberArray("a", ValueType::kInt64, {9223372036854775808.0}).ok());
  EXPECT_FALSE(writer.SetNumberArray("a", ValueType::kUint8, {std::nan("")}).ok());
  EXPECT_THAT(writer.SetNumberArray("a", ValueType::kString, {}).message(),
              HasSubstr("not a number or bool type"));
  const auto bytes = writer.Serialize();
  EXPECT_FALSE(Parse(bytes).Has("a"));
}

TEST(GgufWriter, SettingAKeyAgainReplacesItInPlace) {
  Writer writer;
  writer.SetUint32("first", 1);
  writer.SetString("second", "x");
  writer.SetString("first", "now a string");
  const auto bytes = writer.Serialize();
  const File file = Parse(bytes);
  ASSERT_EQ(file.metadata().size(), 3u);  // + general.alignment
  EXPECT_EQ(file.metadata()[0].first, "first");
  EXPECT_EQ(file.GetString("first").value(), "now a string");
  EXPECT_EQ(file.metadata()[1].first, "second");
}

TEST(GgufWriter, WritesVersion3WithDefaultAlignment32) {
  Writer writer;
  writer.SetString("general.architecture", "llama");
  const auto bytes = writer.Serialize();
  const File file = Parse(bytes);
  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(file.Find("general.alignment")->type, ValueType::kUint32);
  EXPECT_EQ(file.GetUint("general.alignment").value(), 32u);
  EXPECT_EQ(file.alignment(), 32u);
}

// Data of every computable type, shaped [cols, rows] with rows = 2, built from the format docs.
struct TensorCase {
  std::string name;
  DType type;
  uint64_t cols;
  std::vector<uint8_t> data;
};

std::vector<TensorCase> EveryComputableType() {
  std::vector<float> values(64);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.25f - 4.0f;
  std::vector<uint16_t> f16, bf16;
  for (float v : values) {
    f16.push_back(F32ToF16(v));
    bf16.push_back(F32ToBf16(v));
  }
  // Q8_0: per block of 32, f16 scale then 32 int8; Q4_0: f16 scale then 16 bytes of nibbles.
  std::vector<uint8_t> q8, q4;
  for (int block = 0; block < 4; ++block) {
    const uint16_t scale = F32ToF16(0.5f + block);
    for (std::vector<uint8_t>* out : {&q8, &q4}) {
      out->push_back(scale & 0xff);
      out->push_back(scale >> 8);
    }
    for (int j = 0; j < 32; ++j) q8.push_back(static_cast<uint8_t>(j * 7 - 100 + block));
    for (int j = 0; j < 16; ++j) q4.push_back(static_cast<uint8_t>((j + block) * 17));
  }
  return {{"f32", DType::kF32, 32, AsBytes(values)},
          {"f16", DType::kF16, 32, AsBytes(f16)},
          {"bf16", DType::kBF16, 32, AsBytes(bf16)},
          {"q8_0", DType::kQ8_0, 64, q8},
          {"q4_0", DType::kQ4_0, 64, q4}};
}

TEST(GgufWriter, RoundTripsTensorsOfEveryComputableType) {
  Writer writer;
  const auto cases = EveryComputableType();
  for (const auto& c : cases)
    ASSERT_TRUE(writer.AddTensor(c.name, {c.cols, 2}, c.type, c.data).ok());
  const auto bytes = writer.Serialize();
  const File file = Parse(bytes);
  ASSERT_EQ(file.tensors().size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const TensorInfo& tensor = file.tensors()[i];
    EXPECT_EQ(tensor.name, cases[i].name);
    EXPECT_EQ(tensor.type, cases[i].type);
    EXPECT_THAT(tensor.dims, ElementsAre(cases[i].cols, 2u));
    EXPECT_EQ(tensor.n_bytes, cases[i].data.size());
    EXPECT_EQ(tensor.offset % 32, 0u);
    EXPECT_EQ(std::vector<uint8_t>(tensor.data, tensor.data + tensor.n_bytes), cases[i].data)
        << cases[i].name;
  }
}

TEST(GgufWriter, F16AndBf16DataDecodeToTheOriginalValues) {
  Writer writer;
  const auto cases = EveryComputableType();
  ASSERT_TRUE(writer.AddTensor("f16", {32, 2}, DType::kF16, cases[1].data).ok());
  ASSERT_TRUE(writer.AddTensor("bf16", {32, 2}, DType::kBF16, cases[2].data).ok());
  const auto bytes = writer.Serialize();
  const File file = Parse(bytes);
  for (int i = 0; i < 64; ++i) {
    uint16_t f16 = 0, bf16 = 0;
    std::memcpy(&f16, file.FindTensor("f16")->data + i * 2, 2);
    std::memcpy(&bf16, file.FindTensor("bf16")->data + i * 2, 2);
    EXPECT_EQ(F16ToF32(f16), i * 0.25f - 4.0f);  // multiples of 1/4 below 16 are exact in both
    EXPECT_EQ(Bf16ToF32(bf16), i * 0.25f - 4.0f);
  }
}

TEST(GgufWriter, CustomAlignmentAlignsTensorDataAndPadsWithZeros) {
  Writer writer;
  writer.SetUint32("general.alignment", 128);
  ASSERT_TRUE(writer.AddTensor("a", {3}, DType::kF32, std::vector<uint8_t>(12, 0xaa)).ok());
  ASSERT_TRUE(writer.AddTensor("b", {1}, DType::kF32, std::vector<uint8_t>(4, 0xbb)).ok());
  const auto bytes = writer.Serialize();
  const File file = Parse(bytes);
  EXPECT_EQ(file.alignment(), 128u);
  EXPECT_EQ(file.data_offset() % 128, 0u);
  EXPECT_EQ(file.FindTensor("b")->offset, 128u);
  EXPECT_EQ(bytes.size(), file.data_offset() + 256);  // the last tensor is padded too, like ggml
  for (size_t i = file.data_offset() + 12; i < file.data_offset() + 128; ++i) {
    ASSERT_EQ(bytes[i], 0) << "padding byte " << i;
  }
}

TEST(GgufWriter, TheSameCallsGiveTheSameBytes) {
  const auto build = [] {
    Writer writer;
    writer.SetString("general.name", "det");
    writer.SetFloat32Array("scores", {0.1f, 0.2f});
    EXPECT_TRUE(writer.AddTensor("w", {32}, DType::kQ8_0, std::vector<uint8_t>(34, 3)).ok());
    return writer.Serialize();
  };
  EXPECT_EQ(build(), build());
}

TEST(GgufWriter, AddTensorRefusesDataOfTheWrongSize) {
  Writer writer;
  const Status status = writer.AddTensor("w", {8, 2}, DType::kF32, std::vector<uint8_t>(60));
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("tensor 'w': data is 60 bytes; f32 dims [8, 2] need 64"));
}

TEST(GgufWriter, AddTensorRefusesARowThatIsNotWholeBlocks) {
  Writer writer;
  EXPECT_THAT(writer.AddTensor("w", {48}, DType::kQ4_0, std::vector<uint8_t>(27)).message(),
              HasSubstr("dims[0] = 48 is not a multiple of the q4_0 block size 32"));
}

TEST(GgufWriter, AddTensorRefusesBadShapes) {
  Writer writer;
  EXPECT_THAT(writer.AddTensor("w", {}, DType::kF32, {}).message(), HasSubstr("n_dims is 0"));
  EXPECT_THAT(writer.AddTensor("w", {1, 1, 1, 1, 1}, DType::kF32, {}).message(),
              HasSubstr("n_dims is 5"));
  EXPECT_THAT(writer.AddTensor("w", {4, 0}, DType::kF32, {}).message(), HasSubstr("dims[1] is 0"));
}

TEST(GgufWriter, AddTensorRefusesADuplicateName) {
  Writer writer;
  ASSERT_TRUE(writer.AddTensor("w", {1}, DType::kF32, std::vector<uint8_t>(4)).ok());
  EXPECT_THAT(writer.AddTensor("w", {1}, DType::kF32, std::vector<uint8_t>(4)).message(),
              HasSubstr("'w': name already added"));
}

TEST(GgufWriter, AddTensorRefusesANameLlamaCppCannotRead) {
  Writer writer;
  EXPECT_THAT(
      writer.AddTensor(std::string(64, 'n'), {1}, DType::kF32, std::vector<uint8_t>(4)).message(),
      HasSubstr("name is 64 bytes"));
}

TEST(GgufWriter, AnAlignmentThatIsNotAPowerOfTwoFailsCheckAndWrite) {
  Writer writer;
  writer.SetUint32("general.alignment", 48);
  EXPECT_THAT(writer.Check().message(), HasSubstr("general.alignment 48 is not a power of two"));
  EXPECT_TRUE(writer.Serialize().empty());
  const std::string path = TempPath("never.gguf");
  EXPECT_FALSE(writer.WriteFile(path).ok());
  EXPECT_FALSE(std::ifstream(path).good());
}

TEST(GgufWriter, AnAlignmentThatIsNotU32FailsCheck) {
  Writer writer;
  writer.SetUint64("general.alignment", 32);
  EXPECT_THAT(writer.Check().message(), HasSubstr("has type u64; expected u32"));
}

TEST(GgufWriter, WriteFileWritesExactlyWhatSerializeReturns) {
  Writer writer;
  writer.SetString("general.architecture", "llama");
  ASSERT_TRUE(writer.AddTensor("w", {32}, DType::kQ8_0, std::vector<uint8_t>(34, 9)).ok());
  const std::string path = TempPath("out.gguf");
  ASSERT_TRUE(writer.WriteFile(path).ok());
  EXPECT_EQ(ReadAll(path), writer.Serialize());
  auto file = File::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->FindTensor("w")->data[33], 9);
  std::remove(path.c_str());
}

TEST(GgufWriter, WriteFileReplacesAnExistingFileAndLeavesNoTemporaryBehind) {
  const std::string path = TempPath("replace.gguf");
  std::ofstream(path) << "old contents";
  Writer writer;
  writer.SetUint32("v", 2);
  ASSERT_TRUE(writer.WriteFile(path).ok());
  EXPECT_EQ(ReadAll(path), writer.Serialize());

  const std::string dir = ::testing::TempDir();
  const std::string base = path.substr(dir.size());
  DIR* listing = opendir(dir.c_str());
  ASSERT_NE(listing, nullptr);
  while (const dirent* entry = readdir(listing)) {
    EXPECT_FALSE(std::string(entry->d_name).starts_with(base + ".tmp")) << entry->d_name;
  }
  closedir(listing);
  std::remove(path.c_str());
}

TEST(GgufWriter, WriteFileIntoAMissingDirectoryIsAnIoErrorNamingThePath) {
  Writer writer;
  const Status status = writer.WriteFile("/nonexistent/dir/model.gguf");
  EXPECT_EQ(status.code(), StatusCode::kIoError);
  EXPECT_THAT(status.message(), HasSubstr("/nonexistent/dir/model.gguf"));
}

}  // namespace
}  // namespace kvik::gguf
