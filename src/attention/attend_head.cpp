#include <cmath>

#include "kvik/attention.h"
#include "kvik/quantize.h"
#include "kvik/tensor.h"

namespace kvik {

void AttendHead(const HeadAttentionInput& in, const float* q, float* out, float* scores, float* row) {
  const uint64_t row_bytes = RowBytes(in.dtype, in.head_dim);
  const float scale = 1.0f / std::sqrt(static_cast<float>(in.head_dim));
  for (int64_t j = 0; j < in.n_ctx; ++j) {
    scores[j] = DotRow(in.dtype, in.keys + j * row_bytes, q, in.head_dim) * scale;
  }
  SoftmaxInPlace(scores, in.n_ctx);
  for (int64_t d = 0; d < in.head_dim; ++d) out[d] = 0;
  for (int64_t j = 0; j < in.n_ctx; ++j) {
    const float p = scores[j];
    const float* v = reinterpret_cast<const float*>(in.values + j * row_bytes);
    if (in.dtype != DType::kF32) {
      DequantizeRow(in.dtype, in.values + j * row_bytes, in.head_dim, row);
      v = row;
    }
    for (int64_t d = 0; d < in.head_dim; ++d) out[d] += p * v[d];
  }
}

}  // namespace kvik
