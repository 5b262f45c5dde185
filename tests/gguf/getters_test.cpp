// The typed metadata getters: which stored types each accepts, and the errors for the rest.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "gguf/gguf_bytes.h"
#include "kvik/gguf.h"

namespace kvik::gguf {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using testing::GgufBytes;
using ::testing::HasSubstr;
using namespace testing;  // NOLINT: the type ids kU32, kI64, ...

// Metadata of every integer type plus a few others, keyed by type name.
class GgufGetters : public ::testing::Test {
 protected:
  void SetUp() override {
    b_.Header(3, 0, 13);
    b_.Key("u8", kU8).U8(200);
    b_.Key("u16", kU16).Put<uint16_t>(60000);
    b_.Key("u32", kU32).U32(4000000000u);
    b_.Key("u64", kU64).U64(std::numeric_limits<uint64_t>::max());
    b_.Key("i8", kI8).Put<int8_t>(-5);
    b_.Key("i32", kI32).Put<int32_t>(4096);
    b_.Key("i64", kI64).Put<int64_t>(std::numeric_limits<int64_t>::min());
    b_.Key("f32", kF32).Put(0.25f);
    b_.Key("f64", kF64).Put(1e-300);
    b_.Key("bool", kBool).U8(0);
    b_.KeyString("string", "text");
    b_.Key("strings", kArray).U32(kString).U64(1).Str("only");
    b_.Key("numbers", kArray).U32(kI16).U64(3).Put<int16_t>(-1).Put<int16_t>(0).Put<int16_t>(7);
    auto file = File::FromBytes(b_.bytes(), "getters.gguf");
    ASSERT_TRUE(file.ok()) << file.status().message();
    file_ = std::make_unique<File>(std::move(file).value());
  }
  const File& file() const { return *file_; }

 private:
  GgufBytes b_;
  std::unique_ptr<File> file_;
};

TEST_F(GgufGetters, GetUintWidensEveryUnsignedType) {
  EXPECT_EQ(file().GetUint("u8").value(), 200u);
  EXPECT_EQ(file().GetUint("u16").value(), 60000u);
  EXPECT_EQ(file().GetUint("u32").value(), 4000000000u);
  EXPECT_EQ(file().GetUint("u64").value(), std::numeric_limits<uint64_t>::max());
}

TEST_F(GgufGetters, GetUintAcceptsNonNegativeSignedIntegers) {
  EXPECT_EQ(file().GetUint("i32").value(), 4096u);
}

TEST_F(GgufGetters, GetUintRejectsANegativeValueNamingIt) {
  const Status status = file().GetUint("i8").status();
  EXPECT_EQ(status.code(), StatusCode::kOutOfRange);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("getters.gguf"), HasSubstr("'i8' is -5")));
}

TEST_F(GgufGetters, GetUintRejectsNonIntegersNamingFoundAndExpectedTypes) {
  const Status status = file().GetUint("string").status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("'string' has type string; expected an integer")));
  EXPECT_FALSE(file().GetUint("f32").ok());
  EXPECT_FALSE(file().GetUint("bool").ok());
}

TEST_F(GgufGetters, MissingKeyIsNotFoundNamingTheKey) {
  const Status status = file().GetUint("llama.block_count").status();
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("'llama.block_count' not found"));
  EXPECT_FALSE(file().Has("llama.block_count"));
  EXPECT_TRUE(file().Has("u8"));
}

TEST_F(GgufGetters, GetIntReturnsSignedValues) {
  EXPECT_EQ(file().GetInt("i8").value(), -5);
  EXPECT_EQ(file().GetInt("i64").value(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(file().GetInt("u32").value(), 4000000000);
}

TEST_F(GgufGetters, GetIntRejectsAnUnsignedValueAboveInt64Max) {
  const Status status = file().GetInt("u64").status();
  EXPECT_EQ(status.code(), StatusCode::kOutOfRange);
  EXPECT_THAT(status.message(), HasSubstr("expected at most 9223372036854775807"));
}

TEST_F(GgufGetters, GetFloatAcceptsFloatsAndIntegers) {
  EXPECT_EQ(file().GetFloat("f32").value(), 0.25);
  EXPECT_EQ(file().GetFloat("f64").value(), 1e-300);
  EXPECT_EQ(file().GetFloat("i8").value(), -5.0);
  EXPECT_EQ(file().GetFloat("u16").value(), 60000.0);
  EXPECT_FALSE(file().GetFloat("string").ok());
}

TEST_F(GgufGetters, GetBoolAcceptsOnlyBool) {
  EXPECT_FALSE(file().GetBool("bool").value());
  EXPECT_THAT(file().GetBool("u8").status().message(), HasSubstr("has type u8; expected bool"));
}

TEST_F(GgufGetters, GetStringAcceptsOnlyString) {
  EXPECT_EQ(file().GetString("string").value(), "text");
  EXPECT_THAT(file().GetString("strings").status().message(),
              HasSubstr("has type array of string; expected string"));
}

TEST_F(GgufGetters, GetStringArrayRejectsNumberArrays) {
  EXPECT_THAT(file().GetStringArray("strings").value(), ElementsAre("only"));
  EXPECT_THAT(file().GetStringArray("numbers").status().message(),
              HasSubstr("has type array of i16; expected array of string"));
}

TEST_F(GgufGetters, GetNumberArrayReturnsElementsAsDoubles) {
  EXPECT_THAT(file().GetNumberArray("numbers").value(), ElementsAre(-1.0, 0.0, 7.0));
  EXPECT_FALSE(file().GetNumberArray("strings").ok());
  EXPECT_FALSE(file().GetNumberArray("u8").ok());
}

TEST_F(GgufGetters, FindExposesTheRawValue) {
  const Value* value = file().Find("numbers");
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(value->type, ValueType::kArray);
  EXPECT_EQ(value->element_type, ValueType::kInt16);
  EXPECT_EQ(value->array_length, 3u);
  EXPECT_EQ(file().Find("u64")->int_value, -1);  // documented wrap above INT64_MAX
}

}  // namespace
}  // namespace kvik::gguf
