// Damaged files never crash the reader: every truncation is an error, every corrupted header byte
// gives either a valid file or an error that names the file. (Run under ASan+UBSan to mean much.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gguf/gguf_bytes.h"
#include "kvik/gguf.h"

namespace kvik::gguf {
namespace {

using ::testing::StartsWith;

// A richer valid file than SmallValidFile: every value type, two tensors, the last ending exactly
// at the end of the file.
std::vector<uint8_t> RichValidFile() {
  using namespace testing;  // NOLINT
  GgufBytes b;
  b.Header(3, 2, 14);
  b.Key("u8", kU8).U8(1).Key("i8", kI8).U8(0xff).Key("u16", kU16).Put<uint16_t>(2);
  b.Key("i16", kI16).Put<int16_t>(-2).Key("u32", kU32).U32(3).Key("i32", kI32).Put<int32_t>(-3);
  b.Key("f32", kF32).Put(1.5f).Key("bool", kBool).U8(1).KeyString("string", "hello");
  b.Key("u64", kU64).U64(4).Key("i64", kI64).Put<int64_t>(-4).Key("f64", kF64).Put(2.5);
  b.Key("strings", kArray).U32(kString).U64(3).Str("a").Str("").Str("ccc");
  b.Key("floats", kArray).U32(kF32).U64(2).Put(0.5f).Put(-0.5f);
  b.TensorInfo("q", {32, 2}, kTensorQ8_0, 0).TensorInfo("f", {8}, kTensorF32, 96);
  b.ZeroPadTo(32).Fill(68, 0x11).ZeroPadTo(32).Fill(32, 0x22);
  return b.bytes();
}

TEST(GgufRobustness, TheFixturesAreValid) {
  EXPECT_TRUE(File::FromBytes(RichValidFile()).ok());
  EXPECT_TRUE(File::FromBytes(testing::SmallValidFile()).ok());
}

TEST(GgufRobustness, TruncatingAtEveryByteOffsetIsAnError) {
  for (const auto& bytes : {RichValidFile(), testing::SmallValidFile()}) {
    for (size_t length = 0; length < bytes.size(); ++length) {
      auto file = File::FromBytes(std::span(bytes.data(), length), "cut.gguf");
      ASSERT_FALSE(file.ok()) << "truncated to " << length << " of " << bytes.size() << " bytes";
      EXPECT_THAT(file.status().message(), StartsWith("cut.gguf: "));
    }
  }
}

TEST(GgufRobustness, CorruptingAnyHeaderByteNeverCrashes) {
  const std::vector<uint8_t> original = RichValidFile();
  auto valid = File::FromBytes(original);
  ASSERT_TRUE(valid.ok());
  const size_t header_bytes = valid->data_offset();
  for (size_t at = 0; at < header_bytes; ++at) {
    for (uint8_t mask : {0x01, 0x02, 0x10, 0x80, 0xff}) {
      std::vector<uint8_t> bytes = original;
      bytes[at] ^= mask;
      auto file = File::FromBytes(bytes, "flip.gguf");
      if (!file.ok()) {
        EXPECT_THAT(file.status().message(), StartsWith("flip.gguf: ")) << "byte " << at;
        continue;
      }
      // A flip that still parses must still describe in-bounds tensors.
      for (const TensorInfo& tensor : file->tensors()) {
        ASSERT_GE(tensor.data, bytes.data());
        ASSERT_LE(tensor.data + tensor.n_bytes, bytes.data() + bytes.size());
      }
    }
  }
}

TEST(GgufRobustness, SettingAnyHeaderByteToExtremesNeverCrashes) {
  const std::vector<uint8_t> original = RichValidFile();
  for (size_t at = 0; at < original.size(); ++at) {
    for (uint8_t value : {0x00, 0x7f, 0xff}) {
      std::vector<uint8_t> bytes = original;
      bytes[at] = value;
      auto file = File::FromBytes(bytes, "set.gguf");
      if (!file.ok()) {
        EXPECT_THAT(file.status().message(), StartsWith("set.gguf: ")) << "byte " << at;
      }
    }
  }
}

}  // namespace
}  // namespace kvik::gguf
