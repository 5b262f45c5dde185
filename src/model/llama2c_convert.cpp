// ConvertLlama2c: llama2.c's legacy checkpoint + tokenizer.bin -> llama-architecture GGUF v3.
//
// Layout of model.bin (llama2.c run.c, checkpoint_init_weights): 7 x int32 header, then f32 arrays
// in this order, each layer's slice contiguous inside its array:
//   token_embedding (vocab, dim) | rms_att (L, dim) | wq (L, dim, dim) | wk (L, kv_dim, dim)
//   | wv (L, kv_dim, dim) | wo (L, dim, dim) | rms_ffn (L, dim) | w1 (L, hidden, dim)
//   | w2 (L, dim, hidden) | w3 (L, hidden, dim) | rms_final (dim) | freq_cis_real (seq_len, head/2)
//   | freq_cis_imag (seq_len, head/2) | [wcls (vocab, dim) when vocab_size < 0]
// Matrices are (out_features, in_features) row-major, which is GGUF's [in, out] (innermost first)
// byte for byte, so every tensor is copied (or quantized row by row) without reordering.
//
// No Q/K permutation: llama2.c's run.c rotates adjacent pairs (q[i], q[i+1]) for i = 0, 2, 4, ...
// within each head ("RoPE relative positional encoding: complex-valued rotate q and k by freq_cis
// in each head", checked in karpathy/llama2.c run.c, transformer()), which is exactly GGUF llama's
// (ggml's "normal", non-NeoX) RoPE. The permutation llama.cpp's converter applies is only needed
// for Hugging Face checkpoints, whose rotate_half RoPE pairs i with i + head_dim/2.
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "kvik/convert.h"
#include "kvik/gguf.h"
#include "kvik/quantize.h"

namespace kvik {
namespace {

static_assert(std::endian::native == std::endian::little,
              "llama2.c files are little-endian and read as-is");

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // SentencePiece's U+2581 for ' '
constexpr int32_t kUnkId = 0, kBosId = 1, kEosId = 2, kFirstByteId = 3;
constexpr int32_t kByteTokens = 256;
// GGUF token types (tokenizer.ggml.token_type) and llama.cpp file types (general.file_type).
constexpr int32_t kTypeNormal = 1, kTypeUnknown = 2, kTypeControl = 3, kTypeByte = 6;

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<FILE, FileCloser>;

Result<FilePtr> OpenForReading(const std::string& path, uint64_t* size_bytes) {
  std::error_code error;
  *size_bytes = std::filesystem::file_size(path, error);
  if (error) return IoError(path + ": cannot read: " + error.message());
  FilePtr file(std::fopen(path.c_str(), "rb"));
  if (!file) return IoError(path + ": cannot open: " + std::strerror(errno));
  return file;
}

Status ReadAt(FILE* file, const std::string& path, uint64_t offset, void* dst, uint64_t bytes) {
  if (fseeko(file, static_cast<off_t>(offset), SEEK_SET) != 0 ||
      std::fread(dst, 1, bytes, file) != bytes) {
    return IoError(path + ": read of " + std::to_string(bytes) + " bytes at offset " +
                   std::to_string(offset) + " failed");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// model.bin

struct Llama2cConfig {
  int64_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
  bool shared_classifier;  // vocab_size was positive: the output head is the token embedding

  int64_t head_size() const { return dim / n_heads; }
  int64_t kv_dim() const { return n_kv_heads * head_size(); }
};

constexpr uint64_t kHeaderBytes = 7 * sizeof(int32_t);

// Offsets (bytes from the start of the file) of every array in model.bin.
struct CheckpointLayout {
  uint64_t token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, classifier;
  uint64_t end_without_classifier, end_with_classifier;
};

CheckpointLayout LayoutOf(const Llama2cConfig& c) {
  const uint64_t f = sizeof(float);
  const uint64_t L = c.n_layers, dim = c.dim, hidden = c.hidden_dim, kv = c.kv_dim();
  CheckpointLayout at;
  uint64_t offset = kHeaderBytes;
  const auto take = [&](uint64_t floats) {
    const uint64_t start = offset;
    offset += floats * f;
    return start;
  };
  at.token_embedding = take(c.vocab_size * dim);
  at.rms_att = take(L * dim);
  at.wq = take(L * dim * dim);
  at.wk = take(L * kv * dim);
  at.wv = take(L * kv * dim);
  at.wo = take(L * dim * dim);
  at.rms_ffn = take(L * dim);
  at.w1 = take(L * hidden * dim);
  at.w2 = take(L * dim * hidden);
  at.w3 = take(L * hidden * dim);
  at.rms_final = take(dim);
  take(2 * c.seq_len *
       (c.head_size() / 2));  // freq_cis_real and freq_cis_imag: recomputed, skipped
  at.end_without_classifier = offset;
  at.classifier = take(c.vocab_size * dim);
  at.end_with_classifier = offset;
  return at;
}

Status CheckField(const std::string& path, const char* field, int64_t value, int64_t max_value) {
  if (value < 1 || value > max_value) {
    return OutOfRange(path + ": llama2.c header field " + field + " = " + std::to_string(value) +
                      " is outside 1.." + std::to_string(max_value) +
                      " (is this a llama2.c model.bin?)");
  }
  return Status::Ok();
}

Result<Llama2cConfig> ReadHeader(FILE* file, const std::string& path, uint64_t file_bytes) {
  if (file_bytes < kHeaderBytes) {
    return Corrupt(path + ": " + std::to_string(file_bytes) +
                   " bytes is too short for llama2.c's 28-byte header");
  }
  int32_t raw[7];
  KVIK_RETURN_IF_ERROR(ReadAt(file, path, 0, raw, sizeof(raw)));
  Llama2cConfig c;
  c.dim = raw[0], c.hidden_dim = raw[1], c.n_layers = raw[2], c.n_heads = raw[3];
  c.n_kv_heads = raw[4], c.seq_len = raw[6];
  c.shared_classifier = raw[5] > 0;
  c.vocab_size = std::abs(static_cast<int64_t>(raw[5]));
  // Upper bounds far above any llama2.c model keep every size product below 2^63.
  KVIK_RETURN_IF_ERROR(CheckField(path, "dim", c.dim, 1 << 16));
  KVIK_RETURN_IF_ERROR(CheckField(path, "hidden_dim", c.hidden_dim, 1 << 18));
  KVIK_RETURN_IF_ERROR(CheckField(path, "n_layers", c.n_layers, 1024));
  KVIK_RETURN_IF_ERROR(CheckField(path, "n_heads", c.n_heads, c.dim));
  KVIK_RETURN_IF_ERROR(CheckField(path, "n_kv_heads", c.n_kv_heads, c.n_heads));
  KVIK_RETURN_IF_ERROR(CheckField(path, "vocab_size (absolute value)", c.vocab_size, 1 << 21));
  KVIK_RETURN_IF_ERROR(CheckField(path, "seq_len", c.seq_len, 1 << 20));
  if (c.dim % c.n_heads != 0) {
    return Corrupt(path + ": dim = " + std::to_string(c.dim) +
                   " is not a multiple of n_heads = " + std::to_string(c.n_heads));
  }
  if (c.n_heads % c.n_kv_heads != 0) {
    return Corrupt(path + ": n_heads = " + std::to_string(c.n_heads) +
                   " is not a multiple of n_kv_heads = " + std::to_string(c.n_kv_heads));
  }
  if (c.head_size() % 2 != 0) {
    return Corrupt(path + ": head size dim / n_heads = " + std::to_string(c.head_size()) +
                   " is odd; RoPE needs pairs");
  }
  const CheckpointLayout layout = LayoutOf(c);
  const uint64_t expected =
      c.shared_classifier ? layout.end_without_classifier : layout.end_with_classifier;
  if (file_bytes != expected) {
    return Corrupt(
        path + ": file is " + std::to_string(file_bytes) + " bytes but its header (dim " +
        std::to_string(c.dim) + ", hidden_dim " + std::to_string(c.hidden_dim) + ", n_layers " +
        std::to_string(c.n_layers) + ", vocab_size " + std::to_string(raw[5]) + ", seq_len " +
        std::to_string(c.seq_len) + ") implies " + std::to_string(expected) + " bytes (" +
        (c.shared_classifier
             ? "classifier tied to the embedding; " + std::to_string(layout.end_with_classifier) +
                   " with a separate one"
             : "separate classifier; " + std::to_string(layout.end_without_classifier) +
                   " with a tied one") +
        "): truncated or not a llama2.c checkpoint");
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// tokenizer.bin

struct GgufVocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
};

// llama2.c exports wrote byte-fallback pieces either as "<0xNN>", as the raw byte, or (older
// exports, like stories15M's) as the UTF-8 encoding of code point U+00NN.
bool IsSpellingOfByte(const std::string& text, int byte) {
  char name[8];
  std::snprintf(name, sizeof(name), "<0x%02X>", byte);
  if (text == name) return true;
  if (text.size() == 1 && static_cast<uint8_t>(text[0]) == byte) return true;
  return byte >= 0x80 && text.size() == 2 &&
         static_cast<uint8_t>(text[0]) == (0xC0 | (byte >> 6)) &&
         static_cast<uint8_t>(text[1]) == (0x80 | (byte & 0x3F));
}

std::string WithSpaceMarkers(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == ' ') {
      out += kSpaceMarker;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<GgufVocab> ReadTokenizer(const std::string& path, int64_t vocab_size) {
  uint64_t file_bytes = 0;
  KVIK_ASSIGN_OR_RETURN(FilePtr file, OpenForReading(path, &file_bytes));
  std::vector<uint8_t> bytes(file_bytes);
  KVIK_RETURN_IF_ERROR(ReadAt(file.get(), path, 0, bytes.data(), file_bytes));
  if (vocab_size < kFirstByteId + kByteTokens) {
    return Unimplemented(path + ": the model's vocab_size = " + std::to_string(vocab_size) +
                         " leaves no room for <unk>, <s>, </s> and 256 byte tokens (needs >= 259)");
  }
  uint64_t offset = 0;
  const auto read4 = [&](void* value) {  // one little-endian int32 or f32
    if (file_bytes - offset < 4) return false;
    std::memcpy(value, bytes.data() + offset, 4);
    offset += 4;
    return true;
  };
  int32_t max_token_length = 0;
  if (!read4(&max_token_length) || max_token_length <= 0) {
    return Corrupt(path + ": the first int32 (max_token_length) must be positive");
  }
  GgufVocab vocab;
  for (int64_t id = 0; id < vocab_size; ++id) {
    float score;
    int32_t length;
    if (!read4(&score) || !read4(&length) || length < 0 ||
        static_cast<uint64_t>(length) > file_bytes - offset) {
      return Corrupt(path + ": token " + std::to_string(id) + " at offset " +
                     std::to_string(offset) + " runs past the end of the file (" +
                     std::to_string(file_bytes) + " bytes; the model expects " +
                     std::to_string(vocab_size) + " tokens)");
    }
    if (!std::isfinite(score)) {
      return Corrupt(path + ": token " + std::to_string(id) + " has a non-finite score");
    }
    std::string text(reinterpret_cast<const char*>(bytes.data() + offset), length);
    offset += length;

    int32_t type = kTypeNormal;
    if (id == kUnkId) {
      text = "<unk>", type = kTypeUnknown;
    } else if (id == kBosId) {
      text = "<s>", type = kTypeControl;  // llama2.c wrote "\n<s>\n"
    } else if (id == kEosId) {
      text = "</s>", type = kTypeControl;  // llama2.c wrote "\n</s>\n"
    } else if (id < kFirstByteId + kByteTokens) {
      const int byte = static_cast<int>(id - kFirstByteId);
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", byte);
      if (!IsSpellingOfByte(text, byte)) {
        return Corrupt(path + ": token " + std::to_string(id) + " should be the byte token " +
                       name + " (llama2.c puts bytes at ids 3..258) but is a " +
                       std::to_string(text.size()) + "-byte piece that is not that byte");
      }
      text = name, type = kTypeByte;
    } else {
      text = WithSpaceMarkers(text);  // llama2.c's export had turned "▁" into ' '
    }
    vocab.tokens.push_back(std::move(text));
    vocab.scores.push_back(score);
    vocab.types.push_back(type);
  }
  if (offset != file_bytes) {
    return Corrupt(path + ": " + std::to_string(file_bytes - offset) +
                   " bytes left after the model's " + std::to_string(vocab_size) +
                   " tokens (is this the tokenizer of this model?)");
  }
  return vocab;
}

// ---------------------------------------------------------------------------------------------
// GGUF output

Result<uint32_t> FileTypeOf(DType dtype) {
  // llama.cpp's llama_ftype: ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q8_0 = 7.
  switch (dtype) {
    case DType::kF32:
      return 0u;
    case DType::kF16:
      return 1u;
    case DType::kQ8_0:
      return 7u;
    default:
      return InvalidArgument("dtype " + std::string(Name(dtype)) +
                             " is not a conversion target (expected f32, f16 or q8_0)");
  }
}

class TensorCopier {
 public:
  TensorCopier(FILE* file, const std::string& path, gguf::Writer* writer)
      : file_(file), path_(path), writer_(writer) {}

  // Reads rows x cols f32 at `offset` and adds them as a GGUF tensor of dims [cols, rows]
  // (or [cols] when rows == 0), stored as `dtype`.
  Status Copy(const std::string& name, uint64_t offset, uint64_t cols, uint64_t rows, DType dtype) {
    const uint64_t n_rows = rows == 0 ? 1 : rows;
    const uint32_t block = Info(dtype).block_elements;
    if (cols % block != 0) {
      return InvalidArgument(name + ": rows of " + std::to_string(cols) +
                             " values cannot be stored as " + std::string(Name(dtype)) +
                             " (needs a multiple of " + std::to_string(block) +
                             "); use --dtype f32 or f16");
    }
    std::vector<float> values(cols * n_rows);
    KVIK_RETURN_IF_ERROR(
        ReadAt(file_, path_, offset, values.data(), values.size() * sizeof(float)));
    const uint64_t row_bytes = RowBytes(dtype, cols);
    std::vector<uint8_t> data(row_bytes * n_rows);
    for (uint64_t r = 0; r < n_rows; ++r) {
      QuantizeRow(dtype, values.data() + r * cols, static_cast<int64_t>(cols),
                  data.data() + r * row_bytes);
    }
    std::vector<uint64_t> dims = {cols};
    if (rows != 0) dims.push_back(rows);
    return writer_->AddTensor(name, std::move(dims), dtype, std::move(data));
  }

 private:
  FILE* file_;
  const std::string& path_;
  gguf::Writer* writer_;
};

Status AddTensors(FILE* file, const std::string& path, const Llama2cConfig& c, DType dtype,
                  gguf::Writer* writer) {
  const CheckpointLayout at = LayoutOf(c);
  TensorCopier copy(file, path, writer);
  const uint64_t f = sizeof(float);
  const uint64_t dim = c.dim, hidden = c.hidden_dim, kv = c.kv_dim(), vocab = c.vocab_size;
  KVIK_RETURN_IF_ERROR(copy.Copy("token_embd.weight", at.token_embedding, dim, vocab, dtype));
  for (uint64_t l = 0; l < static_cast<uint64_t>(c.n_layers); ++l) {
    const std::string blk = "blk." + std::to_string(l) + ".";
    KVIK_RETURN_IF_ERROR(
        copy.Copy(blk + "attn_norm.weight", at.rms_att + l * dim * f, dim, 0, DType::kF32));
    KVIK_RETURN_IF_ERROR(
        copy.Copy(blk + "attn_q.weight", at.wq + l * dim * dim * f, dim, dim, dtype));
    KVIK_RETURN_IF_ERROR(
        copy.Copy(blk + "attn_k.weight", at.wk + l * kv * dim * f, dim, kv, dtype));
    KVIK_RETURN_IF_ERROR(
        copy.Copy(blk + "attn_v.weight", at.wv + l * kv * dim * f, dim, kv, dtype));
    KVIK_RETURN_IF_ERROR(
        copy.Copy(blk + "attn_output.weight", at.wo + l * dim * dim * f, dim, dim, dtype));
    KVIK_RETURN_IF_ERROR(
        copy.Copy(blk + "ffn_norm.weight", at.rms_ffn + l * dim * f, dim, 0, DType::kF32));
    KVIK_RETURN_IF_ERROR(
        copy.Copy(blk + "ffn_gate.weight", at.w1 + l * hidden * dim * f, dim, hidden, dtype));
    KVIK_RETURN_IF_ERROR(
        copy.Copy(blk + "ffn_down.weight", at.w2 + l * dim * hidden * f, hidden, dim, dtype));
    KVIK_RETURN_IF_ERROR(
        copy.Copy(blk + "ffn_up.weight", at.w3 + l * hidden * dim * f, dim, hidden, dtype));
  }
  KVIK_RETURN_IF_ERROR(copy.Copy("output_norm.weight", at.rms_final, dim, 0, DType::kF32));
  if (!c.shared_classifier) {
    KVIK_RETURN_IF_ERROR(copy.Copy("output.weight", at.classifier, dim, vocab, dtype));
  }
  return Status::Ok();
}

void AddMetadata(const Llama2cConfig& c, const std::string& name, uint32_t file_type,
                 GgufVocab vocab, gguf::Writer* w) {
  w->SetString("general.architecture", "llama");
  w->SetString("general.name", name);
  w->SetUint32("general.file_type", file_type);
  w->SetUint32("llama.context_length", static_cast<uint32_t>(c.seq_len));
  w->SetUint32("llama.embedding_length", static_cast<uint32_t>(c.dim));
  w->SetUint32("llama.block_count", static_cast<uint32_t>(c.n_layers));
  w->SetUint32("llama.feed_forward_length", static_cast<uint32_t>(c.hidden_dim));
  w->SetUint32("llama.attention.head_count", static_cast<uint32_t>(c.n_heads));
  w->SetUint32("llama.attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  w->SetUint32("llama.rope.dimension_count", static_cast<uint32_t>(c.head_size()));
  // llama2.c's precompute_freqs_cis uses theta 10000; its rmsnorm adds 1e-5.
  w->SetFloat32("llama.rope.freq_base", 10000.0f);
  w->SetFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w->SetUint32("llama.vocab_size", static_cast<uint32_t>(c.vocab_size));
  w->SetString("tokenizer.ggml.model", "llama");
  w->SetStringArray("tokenizer.ggml.tokens", std::move(vocab.tokens));
  w->SetFloat32Array("tokenizer.ggml.scores", std::move(vocab.scores));
  w->SetInt32Array("tokenizer.ggml.token_type", std::move(vocab.types));
  w->SetUint32("tokenizer.ggml.unknown_token_id", kUnkId);
  w->SetUint32("tokenizer.ggml.bos_token_id", kBosId);
  w->SetUint32("tokenizer.ggml.eos_token_id", kEosId);
  w->SetBool("tokenizer.ggml.add_bos_token", true);
  w->SetBool("tokenizer.ggml.add_space_prefix", true);
}

}  // namespace

Status ConvertLlama2c(const Llama2cConvertOptions& options) {
  if (options.model_path.empty()) return InvalidArgument("no llama2.c model file given");
  if (options.tokenizer_path.empty()) return InvalidArgument("no llama2.c tokenizer file given");
  if (options.output_path.empty()) return InvalidArgument("no output file given");
  KVIK_ASSIGN_OR_RETURN(const uint32_t file_type, FileTypeOf(options.dtype));

  uint64_t model_bytes = 0;
  KVIK_ASSIGN_OR_RETURN(FilePtr model, OpenForReading(options.model_path, &model_bytes));
  KVIK_ASSIGN_OR_RETURN(const Llama2cConfig config,
                        ReadHeader(model.get(), options.model_path, model_bytes));
  KVIK_ASSIGN_OR_RETURN(GgufVocab vocab, ReadTokenizer(options.tokenizer_path, config.vocab_size));

  std::string name = options.model_name;
  if (name.empty()) name = std::filesystem::path(options.output_path).stem().string();

  gguf::Writer writer;
  AddMetadata(config, name, file_type, std::move(vocab), &writer);
  KVIK_RETURN_IF_ERROR(AddTensors(model.get(), options.model_path, config, options.dtype, &writer));
  return writer.WriteFile(options.output_path);
}

}  // namespace kvik
