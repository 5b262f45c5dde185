#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kvik/gguf.h"
#include "kvik/tokenizer.h"
#include "tokenizer/test_vocabs.h"

namespace kvik {
namespace {

// Writes `vocab` under the tokenizer.ggml.* keys, as a converter would.
gguf::Writer WriterFor(const Vocab& vocab) {
  gguf::Writer writer;
  writer.SetString("general.architecture", "llama");
  writer.SetString("tokenizer.ggml.model", vocab.model);
  writer.SetStringArray("tokenizer.ggml.tokens", vocab.tokens);
  writer.SetFloat32Array("tokenizer.ggml.scores", vocab.scores);
  writer.SetInt32Array("tokenizer.ggml.token_type", vocab.token_types);
  writer.SetUint32("tokenizer.ggml.bos_token_id", vocab.bos_id);
  writer.SetUint32("tokenizer.ggml.eos_token_id", vocab.eos_id);
  writer.SetUint32("tokenizer.ggml.unknown_token_id", vocab.unk_id);
  writer.SetBool("tokenizer.ggml.add_bos_token", true);
  writer.SetBool("tokenizer.ggml.add_space_prefix", true);
  return writer;
}

Result<Tokenizer> Load(const gguf::Writer& writer, std::vector<uint8_t>& storage) {
  storage = writer.Serialize();
  auto file = gguf::File::FromBytes(storage, "test.gguf");
  if (!file.ok()) return file.status();
  return Tokenizer::FromGguf(*file);
}

TEST(TokenizerFromGguf, ReadsEveryTokenizerKey) {
  const Vocab vocab = testing::MakeHelloSpmVocab();
  std::vector<uint8_t> storage;
  auto tokenizer = Load(WriterFor(vocab), storage);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().message();
  EXPECT_EQ(tokenizer->vocab().tokens, vocab.tokens);
  EXPECT_EQ(tokenizer->vocab().scores, vocab.scores);
  EXPECT_EQ(tokenizer->vocab().token_types, vocab.token_types);
  EXPECT_EQ(tokenizer->bos_id(), testing::kSpmBos);
  EXPECT_EQ(tokenizer->eos_id(), testing::kSpmEos);
  EXPECT_TRUE(tokenizer->add_bos());
  EXPECT_EQ(tokenizer->Decode(tokenizer->Encode("hello world", true)), "hello world");
}

TEST(TokenizerFromGguf, ReportsAMissingTokenList) {
  gguf::Writer writer;
  writer.SetString("tokenizer.ggml.model", "llama");
  std::vector<uint8_t> storage;
  auto tokenizer = Load(writer, storage);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_NE(tokenizer.status().message().find("tokenizer.ggml.tokens"), std::string::npos)
      << tokenizer.status().message();
}

TEST(TokenizerFromGguf, ReportsScoresOfTheWrongLength) {
  Vocab vocab = testing::MakeHelloSpmVocab();
  vocab.scores.pop_back();
  std::vector<uint8_t> storage;
  auto tokenizer = Load(WriterFor(vocab), storage);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_NE(tokenizer.status().message().find("tokenizer.ggml.scores"), std::string::npos)
      << tokenizer.status().message();
}

TEST(TokenizerFromGguf, ReportsABosIdOutsideTheVocabulary) {
  Vocab vocab = testing::MakeHelloSpmVocab();
  vocab.bos_id = static_cast<int32_t>(vocab.tokens.size());
  std::vector<uint8_t> storage;
  auto tokenizer = Load(WriterFor(vocab), storage);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_NE(tokenizer.status().message().find("tokenizer.ggml.bos_token_id"), std::string::npos)
      << tokenizer.status().message();
}

TEST(TokenizerFromGguf, ReportsAnUnsupportedModel) {
  Vocab vocab = testing::MakeHelloSpmVocab();
  vocab.model = "bert";
  std::vector<uint8_t> storage;
  auto tokenizer = Load(WriterFor(vocab), storage);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_NE(tokenizer.status().message().find("bert"), std::string::npos);
}

TEST(TokenizerFromVocab, RejectsAByteTokenWithoutAByteName) {
  Vocab vocab = testing::MakeHelloSpmVocab();
  vocab.tokens[testing::kSpmFirstByte].assign(1, 'x');
  auto tokenizer = Tokenizer::FromVocab(vocab);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_NE(tokenizer.status().message().find("tokenizer.ggml.tokens[3]"), std::string::npos)
      << tokenizer.status().message();
}

TEST(TokenizerFromVocab, RejectsAMalformedMerge) {
  Vocab vocab;
  vocab.model = "gpt2";
  vocab.tokens = {"a", "b"};
  vocab.merges = {"ab"};
  auto tokenizer = Tokenizer::FromVocab(vocab);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_NE(tokenizer.status().message().find("tokenizer.ggml.merges[0]"), std::string::npos);
}

}  // namespace
}  // namespace kvik
