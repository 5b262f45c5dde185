// Binds GGUF tensors to ModelWeights, checking every name, shape and type against the config.
#include "model/weights.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kvik/model.h"

namespace kvik {
namespace {

std::string Shape(const std::vector<uint64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

Result<const gguf::TensorInfo*> Find(const gguf::File& file, const std::string& name,
                                     std::vector<uint64_t> dims) {
  const gguf::TensorInfo* t = file.FindTensor(name);
  if (!t) return NotFound(file.path() + ": tensor '" + name + "' is missing");
  if (t->dims != dims) {
    return InvalidArgument(file.path() + ": tensor '" + name + "' has shape " + Shape(t->dims) +
                           ", expected " + Shape(dims));
  }
  return t;
}

// GGUF dims [cols, rows] → an (rows, cols) matrix view.
Result<MatrixView> Matrix(const gguf::File& file, const std::string& name, int64_t rows,
                          int64_t cols) {
  KVIK_ASSIGN_OR_RETURN(
      const gguf::TensorInfo* t,
      Find(file, name, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)}));
  if (!Info(t->type).computable) {
    return Unimplemented(
        file.path() + ": tensor '" + name + "' has type " + std::string(Name(t->type)) +
        ", which kvik cannot compute with (supported: f32, f16, bf16, q8_0, q4_0)");
  }
  return MatrixView{t->type, rows, cols, t->data};
}

Result<const float*> Vector(const gguf::File& file, const std::string& name, int64_t n) {
  KVIK_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, Find(file, name, {static_cast<uint64_t>(n)}));
  if (t->type != DType::kF32) {
    return Unimplemented(file.path() + ": tensor '" + name + "' is " + std::string(Name(t->type)) +
                         ", expected f32 (norms and biases stay f32)");
  }
  return reinterpret_cast<const float*>(t->data);
}

Result<const float*> OptionalVector(const gguf::File& file, const std::string& name, int64_t n) {
  if (!file.FindTensor(name)) return static_cast<const float*>(nullptr);
  return Vector(file, name, n);
}

}  // namespace

Result<ModelWeights> BindWeights(const gguf::File& file, const ModelConfig& c) {
  ModelWeights w;
  const int64_t q_dim = c.n_heads * c.head_dim;
  const int64_t kv_dim = c.n_kv_heads * c.head_dim;
  KVIK_ASSIGN_OR_RETURN(w.token_embedding, Matrix(file, "token_embd.weight", c.vocab_size, c.dim));
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights l;
    KVIK_ASSIGN_OR_RETURN(l.attn_norm, Vector(file, p + "attn_norm.weight", c.dim));
    KVIK_ASSIGN_OR_RETURN(l.wq, Matrix(file, p + "attn_q.weight", q_dim, c.dim));
    KVIK_ASSIGN_OR_RETURN(l.wk, Matrix(file, p + "attn_k.weight", kv_dim, c.dim));
    KVIK_ASSIGN_OR_RETURN(l.wv, Matrix(file, p + "attn_v.weight", kv_dim, c.dim));
    KVIK_ASSIGN_OR_RETURN(l.wo, Matrix(file, p + "attn_output.weight", c.dim, q_dim));
    KVIK_ASSIGN_OR_RETURN(l.bq, OptionalVector(file, p + "attn_q.bias", q_dim));
    KVIK_ASSIGN_OR_RETURN(l.bk, OptionalVector(file, p + "attn_k.bias", kv_dim));
    KVIK_ASSIGN_OR_RETURN(l.bv, OptionalVector(file, p + "attn_v.bias", kv_dim));
    KVIK_ASSIGN_OR_RETURN(l.ffn_norm, Vector(file, p + "ffn_norm.weight", c.dim));
    KVIK_ASSIGN_OR_RETURN(l.w_gate, Matrix(file, p + "ffn_gate.weight", c.ffn_dim, c.dim));
    KVIK_ASSIGN_OR_RETURN(l.w_up, Matrix(file, p + "ffn_up.weight", c.ffn_dim, c.dim));
    KVIK_ASSIGN_OR_RETURN(l.w_down, Matrix(file, p + "ffn_down.weight", c.dim, c.ffn_dim));
    w.layers.push_back(l);
  }
  KVIK_ASSIGN_OR_RETURN(w.output_norm, Vector(file, "output_norm.weight", c.dim));
  if (c.tied_output) {
    w.output = w.token_embedding;
  } else {
    KVIK_ASSIGN_OR_RETURN(w.output, Matrix(file, "output.weight", c.vocab_size, c.dim));
  }
  return w;
}

Result<LargePageBuffer> CopyMatricesToLargePages(ModelWeights& weights, const gguf::File& file) {
  std::vector<MatrixView*> matrices;
  for (LayerWeights& l : weights.layers) {
    for (MatrixView* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
      matrices.push_back(m);
    }
  }
  const bool tied = weights.output.data == weights.token_embedding.data;
  matrices.push_back(&weights.output);
  // Q4_0 and Q8_0 matrices of 16+ rows are interleaved on the way; the rest are copied as they are.
  auto copy_bytes = [](const MatrixView& m) {
    const int64_t interleaved = InterleavedBytes(m);
    return interleaved > 0 ? interleaved : RowBytes(m.type, m.cols) * m.rows;
  };
  int64_t total = 0;
  for (const MatrixView* m : matrices) total += (copy_bytes(*m) + 63) / 64 * 64;
  LargePageBuffer buffer = AllocateLargePages(static_cast<size_t>(total));
  if (!buffer) {
    return ResourceExhausted(file.path() + ": cannot allocate " + std::to_string(total) +
                             " bytes for the weight matrices");
  }
  uint8_t* next = buffer.get();
  for (MatrixView* m : matrices) {
    const MatrixView mapped = *m;
    const int64_t bytes = copy_bytes(mapped);
    // Released as copied, so resident memory never holds much more than one copy of the weights
    // (an embedding-sized matrix held twice added 86 MiB to small-f32's peak).
    if (InterleavedBytes(mapped) > 0) {
      *m = InterleaveRows(mapped, next);
      file.ReleasePages(
          {mapped.data, static_cast<size_t>(RowBytes(mapped.type, mapped.cols) * mapped.rows)});
    } else {
      constexpr int64_t kPieceBytes = int64_t{8} << 20;
      for (int64_t done = 0; done < bytes; done += kPieceBytes) {
        const auto piece = static_cast<size_t>(std::min(kPieceBytes, bytes - done));
        std::memcpy(next + done, mapped.data + done, piece);
        file.ReleasePages({mapped.data + done, piece});
      }
      m->data = next;
    }
    next += (bytes + 63) / 64 * 64;
  }
  // The embedding lookup reads rows of the same matrix, in whichever layout it now has.
  if (tied) weights.token_embedding = weights.output;
  return buffer;
}

}  // namespace kvik
