#include "testing/fixtures.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace kvik::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/kvik-test-XXXXXX";
  if (!mkdtemp(pattern.data())) std::abort();
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ModelPreset TinyPreset(bool tied_output) {
  ModelPreset preset = FindModelPreset("tiny").value();
  preset.tied_output = tied_output;
  return preset;
}

std::string WriteModel(const TempDir& dir, const std::string& name, const ModelPreset& preset,
                       DType dtype, uint64_t seed) {
  const std::string path = dir.File(name);
  if (!std::filesystem::exists(path)) {
    const Status status = WriteSyntheticModel({preset, dtype, seed}, path);
    EXPECT_TRUE(status.ok()) << status.message();
  }
  return path;
}

CommandResult RunCommand(const std::string& command, bool merge_stderr) {
  CommandResult result;
  const std::string full = merge_stderr ? command + " 2>&1" : command;
  FILE* pipe = popen(full.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string KvikBinary() { return std::string(KVIK_BINARY_DIR) + "/kvik"; }

std::unique_ptr<KvCache> NewCache(const ModelConfig& config, int64_t tokens, DType dtype,
                                  int64_t block_size, int64_t n_sequences, bool prefix_sharing) {
  KvCacheOptions options;
  options.shape = config.kv_shape(dtype);
  options.block_size = block_size;
  options.n_blocks = KvCacheOptions::BlocksFor(tokens, n_sequences, block_size);
  options.prefix_sharing = prefix_sharing;
  auto cache = KvCache::Create(options);
  EXPECT_TRUE(cache.ok()) << cache.status().ToString();
  return cache.ok() ? std::move(*cache) : nullptr;
}

TempDir* TinyModelTest::dir_ = nullptr;
Model* TinyModelTest::model_ = nullptr;

void TinyModelTest::SetUpTestSuite() {
  dir_ = new TempDir();
  model_ = Model::Load(WriteModel(*dir_, "tiny.gguf", TinyPreset())).value().release();
}

void TinyModelTest::TearDownTestSuite() {
  delete model_;
  delete dir_;
  model_ = nullptr;
  dir_ = nullptr;
}

}  // namespace kvik::testing
