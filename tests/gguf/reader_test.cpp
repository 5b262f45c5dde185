// Reading well-formed GGUF files built by hand, byte by byte (not by gguf::Writer).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "gguf/gguf_bytes.h"
#include "gguf/temp_path.h"
#include "kvik/gguf.h"

namespace kvik::gguf {
namespace {

using ::testing::ElementsAre;
using testing::GgufBytes;
using ::testing::HasSubstr;
using testing::TempPath;

// Version `version`, alignment 64, two tensors (f32 [4, 2] at 0 and q8_0 [32] at 64) and metadata
// of several types, laid out exactly as the GGUF spec describes.
std::vector<uint8_t> HandBuiltFile(uint32_t version) {
  GgufBytes b;
  b.Header(version, 2, 5);
  b.KeyString("general.architecture", "llama");
  b.KeyU32("general.alignment", 64);
  b.Key("llama.rope.freq_base", testing::kF32).Put(10000.0f);
  b.Key("tokenizer.ggml.tokens", testing::kArray).U32(testing::kString).U64(2).Str("a").Str("bc");
  b.Key("tokenizer.ggml.add_bos_token", testing::kBool).U8(1);
  b.TensorInfo("token_embd.weight", {4, 2}, testing::kTensorF32, 0);
  b.TensorInfo("output_norm.weight", {32}, testing::kTensorQ8_0, 64);
  b.ZeroPadTo(64);
  for (int i = 0; i < 8; ++i) b.Put(static_cast<float>(i) * 0.5f);  // 32 bytes
  b.ZeroPadTo(64);
  b.Put(uint16_t{0x3c00});  // q8_0 block: f16 scale 1.0, then 32 int8 quants
  for (int i = 0; i < 32; ++i) b.Put(static_cast<int8_t>(i - 16));
  return b.bytes();
}

TEST(GgufReader, ReadsHeaderOfHandBuiltV3File) {
  const auto bytes = HandBuiltFile(3);
  auto file = File::FromBytes(bytes, "hand.gguf");
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->alignment(), 64u);
  EXPECT_EQ(file->path(), "hand.gguf");
  EXPECT_EQ(file->file_bytes(), bytes.size());
  EXPECT_EQ(file->data_offset() % 64, 0u);
}

TEST(GgufReader, ReadsVersion2FilesLikeVersion3) {
  const auto bytes = HandBuiltFile(2);
  auto file = File::FromBytes(bytes);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->version(), 2u);
  EXPECT_EQ(file->tensors().size(), 2u);
}

TEST(GgufReader, KeepsMetadataInFileOrder) {
  const auto bytes = HandBuiltFile(3);
  auto file = File::FromBytes(bytes);
  ASSERT_TRUE(file.ok()) << file.status().message();
  std::vector<std::string> keys;
  for (const auto& [key, value] : file->metadata()) keys.push_back(key);
  EXPECT_THAT(keys, ElementsAre("general.architecture", "general.alignment", "llama.rope.freq_base",
                                "tokenizer.ggml.tokens", "tokenizer.ggml.add_bos_token"));
}

TEST(GgufReader, TypedGettersReturnHandBuiltValues) {
  const auto bytes = HandBuiltFile(3);
  auto file = File::FromBytes(bytes);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->GetString("general.architecture").value(), "llama");
  EXPECT_EQ(file->GetUint("general.alignment").value(), 64u);
  EXPECT_EQ(file->GetFloat("llama.rope.freq_base").value(), 10000.0);
  EXPECT_THAT(file->GetStringArray("tokenizer.ggml.tokens").value(), ElementsAre("a", "bc"));
  EXPECT_TRUE(file->GetBool("tokenizer.ggml.add_bos_token").value());
}

TEST(GgufReader, TensorInfosPointAtTheirBytesInTheFile) {
  const auto bytes = HandBuiltFile(3);
  auto file = File::FromBytes(bytes);
  ASSERT_TRUE(file.ok()) << file.status().message();
  const TensorInfo* embd = file->FindTensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_THAT(embd->dims, ElementsAre(4u, 2u));
  EXPECT_EQ(embd->type, DType::kF32);
  EXPECT_EQ(embd->n_elements(), 8u);
  EXPECT_EQ(embd->n_bytes, 32u);
  EXPECT_EQ(embd->data, bytes.data() + file->data_offset());
  float last = 0;
  std::memcpy(&last, embd->data + 28, 4);
  EXPECT_EQ(last, 3.5f);

  const TensorInfo* norm = file->FindTensor("output_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->type, DType::kQ8_0);
  EXPECT_EQ(norm->offset, 64u);
  EXPECT_EQ(norm->n_bytes, 34u);
  EXPECT_EQ(norm->data + norm->n_bytes, bytes.data() + bytes.size());
  EXPECT_EQ(static_cast<int8_t>(norm->data[2]), -16);
  EXPECT_EQ(file->FindTensor("missing"), nullptr);
}

TEST(GgufReader, AcceptsAFileWithoutTensorsOrPadding) {
  GgufBytes b;
  b.Header(3, 0, 1).KeyString("general.name", "vocab only");
  auto file = File::FromBytes(b.bytes());
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_TRUE(file->tensors().empty());
  EXPECT_EQ(file->GetString("general.name").value(), "vocab only");
}

TEST(GgufReader, AcceptsEmptyKeysStringsAndArrays) {
  GgufBytes b;
  b.Header(3, 0, 2).KeyString("", "").Key("empty", testing::kArray).U32(testing::kI32).U64(0);
  auto file = File::FromBytes(b.bytes());
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->GetString("").value(), "");
  EXPECT_TRUE(file->GetNumberArray("empty").value().empty());
}

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

TEST(GgufReader, OpensAFileFromDiskThroughMmap) {
  const auto bytes = HandBuiltFile(3);
  const std::string path = TempPath("hand.gguf");
  WriteFile(path, bytes);
  auto file = File::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->path(), path);
  const TensorInfo* norm = file->FindTensor("output_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(std::memcmp(norm->data, bytes.data() + bytes.size() - 34, 34), 0);
  std::remove(path.c_str());
}

TEST(GgufReader, TensorDataStaysValidAfterTheFileIsMoved) {
  const auto bytes = HandBuiltFile(3);
  const std::string path = TempPath("moved.gguf");
  WriteFile(path, bytes);
  auto opened = File::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  File file = std::move(opened).value();
  File moved = std::move(file);
  EXPECT_EQ(moved.FindTensor("token_embd.weight")->data[0], 0);
  EXPECT_EQ(moved.GetString("general.architecture").value(), "llama");
  std::remove(path.c_str());
}

// Released pages leave the process's resident set but read back the file's bytes when touched
// again (a model re-lays out tensors and releases the originals; anything else may still read them).
TEST(GgufReader, ReleasedTensorPagesStillReadTheFilesBytes) {
  constexpr uint64_t kElements = 64 * 1024;  // f32 → 256 KiB: many whole pages
  GgufBytes b;
  b.Header(3, 1, 0).TensorInfo("big", {kElements}, testing::kTensorF32, 0).ZeroPadTo(32);
  std::vector<uint8_t> bytes = b.bytes();
  for (uint64_t i = 0; i < kElements * 4; ++i) bytes.push_back(static_cast<uint8_t>(i * 7 + 1));
  const std::string path = TempPath("release.gguf");
  WriteFile(path, bytes);
  auto file = File::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().message();
  const TensorInfo* big = file->FindTensor("big");
  ASSERT_NE(big, nullptr);
  const std::vector<uint8_t> before(big->data, big->data + big->n_bytes);
  file->ReleasePages({big->data, static_cast<size_t>(big->n_bytes)});
  EXPECT_EQ(std::memcmp(big->data, before.data(), before.size()), 0);
  EXPECT_EQ(std::memcmp(big->data, bytes.data() + bytes.size() - before.size(), before.size()), 0);
  std::remove(path.c_str());
  // An in-memory image has no mapping to release: a no-op.
  auto image = File::FromBytes(bytes);
  ASSERT_TRUE(image.ok());
  image->ReleasePages(image->bytes());
  EXPECT_EQ(image->bytes()[image->bytes().size() - 1], bytes.back());
}

// A 4 GiB tensor in a sparse file: Open must read only the header, so it takes milliseconds.
TEST(GgufReader, OpensAMultiGigabyteFileWithoutTouchingTensorData) {
  constexpr uint64_t kElements = uint64_t{1} << 30;  // f32 → 4 GiB
  GgufBytes b;
  b.Header(3, 1, 0).TensorInfo("big", {kElements}, testing::kTensorF32, 0).ZeroPadTo(32);
  const std::string path = TempPath("big.gguf");
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, b.bytes().data(), b.size()), static_cast<ssize_t>(b.size()));
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(b.size() + kElements * 4)), 0);
  close(fd);

  const auto start = std::chrono::steady_clock::now();
  auto file = File::Open(path);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->FindTensor("big")->n_bytes, kElements * 4);
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), 200);
  std::remove(path.c_str());
}

TEST(GgufReader, OpenOfAMissingFileIsNotFoundNamingThePath) {
  auto file = File::Open("/nonexistent/dir/model.gguf");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(file.status().message(), HasSubstr("/nonexistent/dir/model.gguf"));
}

TEST(GgufReader, OpenOfAnEmptyFileSaysItIsEmpty) {
  const std::string path = TempPath("empty.gguf");
  std::ofstream(path, std::ios::binary).close();
  auto file = File::Open(path);
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(), HasSubstr("empty"));
  EXPECT_THAT(file.status().message(), HasSubstr(path));
  std::remove(path.c_str());
}

TEST(GgufReader, OpenOfADirectoryIsAnError) {
  auto file = File::Open(::testing::TempDir());
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(), HasSubstr("not a regular file"));
}

TEST(GgufReader, ValueTypeNamesMatchTheSpec) {
  EXPECT_EQ(ValueTypeName(ValueType::kUint8), "u8");
  EXPECT_EQ(ValueTypeName(ValueType::kString), "string");
  EXPECT_EQ(ValueTypeName(ValueType::kFloat64), "f64");
  EXPECT_EQ(ValueTypeName(static_cast<ValueType>(99)), "unknown");
}

}  // namespace
}  // namespace kvik::gguf
