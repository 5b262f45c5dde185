// Converters from other checkpoint formats to GGUF.
#pragma once

#include <string>

#include "kvik/dtype.h"
#include "kvik/status.h"

namespace kvik {

// A llama2.c checkpoint (the legacy "version 0" model.bin: a 7 x int32 header — dim, hidden_dim,
// n_layers, n_heads, n_kv_heads, vocab_size (negative: separate classifier), seq_len — then f32
// tensors) and its tokenizer.bin (int32 max_token_length, then per token: f32 score, int32 length,
// bytes), written as a standard llama-architecture GGUF v3 file.
struct Llama2cConvertOptions {
  std::string model_path;
  std::string tokenizer_path;
  std::string output_path;
  // Storage type of the embedding and the matrices: F32, F16 or Q8_0. Norm weights stay F32.
  DType dtype = DType::kF32;
  // general.name; empty = the output file's name without its extension.
  std::string model_name;
};

// Validates both inputs completely before writing anything; errors name the file and field. The
// output is a pure function of the inputs and options (converting twice gives identical bytes).
Status ConvertLlama2c(const Llama2cConvertOptions& options);

}  // namespace kvik
