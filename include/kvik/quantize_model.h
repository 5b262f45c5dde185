// Re-encodes the weights of a GGUF model file in another storage type (`kvik quantize`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kvik/dtype.h"
#include "kvik/status.h"

namespace kvik {

struct QuantizeModelOptions {
  std::string input_path;
  std::string output_path;  // must not be the input file
  // Storage of the 2-D weight matrices: any computable type (F32, F16, BF16, Q8_0, Q4_0).
  DType type = DType::kQ8_0;
  // Storage of `output.weight` and `token_embd.weight`; unset = `type`.
  std::optional<DType> output_type;
  std::optional<DType> embedding_type;
};

// What happened to one tensor. `note` says why a tensor kept its type when it was not asked to.
struct TensorConversion {
  std::string name;
  DType from = DType::kF32;
  DType to = DType::kF32;
  std::string note;
};

struct QuantizeModelReport {
  std::vector<TensorConversion> tensors;  // in file order
  uint64_t input_bytes = 0;
  uint64_t output_bytes = 0;
};

// Copies every metadata key (general.file_type set to match `type`), keeps 1-D tensors (norms) in
// F32, and converts each 2-D tensor to its requested type when its row length is a multiple of that
// type's block size; other tensors are copied unchanged and say so in the report. Conversions go
// through f32 (DequantizeRow then QuantizeRow), so the output is a pure function of the input.
Result<QuantizeModelReport> QuantizeModel(const QuantizeModelOptions& options);

// llama.cpp's general.file_type (LLAMA_FTYPE_*) for a model whose matrices are mostly `type`.
uint32_t LlamaFileType(DType type);

}  // namespace kvik
