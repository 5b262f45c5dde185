// Shared test fixtures: temporary folders and seeded synthetic models.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "kvik/dtype.h"
#include "kvik/kv_cache.h"
#include "kvik/model.h"
#include "kvik/synthetic_model.h"

namespace kvik::testing {

// A fresh folder under $TMPDIR, removed (with its contents) when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The "tiny" preset, optionally with a tied output head.
ModelPreset TinyPreset(bool tied_output = false);

// Writes a synthetic model into `dir` (once per process per name; later calls reuse the file) and
// returns its path. Aborts the test on failure.
std::string WriteModel(const TempDir& dir, const std::string& name, const ModelPreset& preset,
                       DType dtype = DType::kF32, uint64_t seed = 1);

// A test suite sharing one tiny F32 model, written and loaded once per suite. Derived suites use
// `model_` (and `dir_` for files of their own).
class TinyModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  static TempDir* dir_;
  static Model* model_;
};

// Runs a shell command, returning its exit status and capturing stdout (and stderr when asked).
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult RunCommand(const std::string& command, bool merge_stderr = false);

// Path of the built kvik binary.
std::string KvikBinary();

// A KV cache for `n_sequences` sequences of up to `tokens` tokens each (no prefix sharing unless
// asked: tests that compare computations must compute every token).
std::unique_ptr<KvCache> NewCache(const ModelConfig& config, int64_t tokens,
                                  DType dtype = DType::kF32, int64_t block_size = 16,
                                  int64_t n_sequences = 1, bool prefix_sharing = false);

}  // namespace kvik::testing
