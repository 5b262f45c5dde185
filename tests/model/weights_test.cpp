// Model::Load copies the matrices it multiplies by out of the file mapping (onto huge pages) and
// leaves what it only looks rows up in (an untied embedding) mapped.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "kvik/gguf.h"
#include "kvik/model.h"
#include "kvik/quantize.h"
#include "kvik/tensor.h"
#include "testing/fixtures.h"

namespace kvik {
namespace {

bool InMapping(const Model& model, const uint8_t* p) {
  const std::span<const uint8_t> file = model.file().bytes();
  return p >= file.data() && p < file.data() + file.size();
}

std::vector<std::pair<std::string, const MatrixView*>> Multiplied(const Model& model) {
  std::vector<std::pair<std::string, const MatrixView*>> out;
  const ModelWeights& w = model.weights();
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    const LayerWeights& l = w.layers[i];
    out.push_back({p + "attn_q.weight", &l.wq});
    out.push_back({p + "attn_k.weight", &l.wk});
    out.push_back({p + "attn_v.weight", &l.wv});
    out.push_back({p + "attn_output.weight", &l.wo});
    out.push_back({p + "ffn_gate.weight", &l.w_gate});
    out.push_back({p + "ffn_up.weight", &l.w_up});
    out.push_back({p + "ffn_down.weight", &l.w_down});
  }
  out.push_back({"output.weight", &w.output});
  return out;
}

class WeightsTest : public ::testing::TestWithParam<DType> {};

TEST_P(WeightsTest, MultipliedMatricesAreCopiedOutOfTheMappingAlignedAndUnchanged) {
  testing::TempDir dir;
  const DType dtype = GetParam();
  auto model = Model::Load(testing::WriteModel(dir, "m.gguf", testing::TinyPreset(), dtype));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  for (const auto& [name, m] : Multiplied(**model)) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(InMapping(**model, m->data));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(m->data) % 64, 0u);
    const gguf::TensorInfo* t = (*model)->file().FindTensor(name);
    ASSERT_NE(t, nullptr);
    if (m->layout == RowLayout::kRowMajor) {
      EXPECT_EQ(std::memcmp(m->data, t->data, t->n_bytes), 0);
    } else {  // interleaved: every row reads back as the file's row
      std::vector<float> got(m->cols), want(m->cols);
      for (int64_t r = 0; r < m->rows; ++r) {
        RowToFloats(*m, r, got.data());
        DequantizeRow(t->type, t->data + r * RowBytes(t->type, m->cols), m->cols, want.data());
        ASSERT_EQ(got, want) << "row " << r;
      }
    }
  }
  // An untied embedding is only looked up a row per token, so it stays in the mapping.
  EXPECT_TRUE(InMapping(**model, (*model)->weights().token_embedding.data));
}

INSTANTIATE_TEST_SUITE_P(EveryWeightType, WeightsTest,
                         ::testing::Values(DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0,
                                           DType::kQ4_0),
                         [](const ::testing::TestParamInfo<DType>& info) {
                           return std::string(Name(info.param));
                         });

}  // namespace
}  // namespace kvik
