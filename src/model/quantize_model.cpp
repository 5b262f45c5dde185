// kvik quantize: read a GGUF model, re-encode its matrices, write a new GGUF with the same
// metadata.
#include "kvik/quantize_model.h"

#include <filesystem>
#include <vector>

#include "kvik/gguf.h"
#include "kvik/quantize.h"

namespace kvik {
namespace {

constexpr std::string_view kOutputTensor = "output.weight";
constexpr std::string_view kEmbeddingTensor = "token_embd.weight";

Status CheckComputable(DType type, const char* option) {
  if (!Info(type).computable) {
    return InvalidArgument(std::string(option) + ": kvik cannot compute with " +
                           std::string(Name(type)) + " (use f32, f16, bf16, q8_0 or q4_0)");
  }
  return Status::Ok();
}

Status CheckPaths(const QuantizeModelOptions& options) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::exists(options.input_path, error)) {
    return NotFound(options.input_path + ": no such file");
  }
  const bool same = fs::exists(options.output_path, error)
                        ? fs::equivalent(options.input_path, options.output_path, error)
                        : fs::weakly_canonical(options.input_path, error) ==
                              fs::weakly_canonical(options.output_path, error);
  if (same) {
    return InvalidArgument(options.output_path + ": the output would overwrite the input model");
  }
  return Status::Ok();
}

// Copies one metadata value with its original GGUF type.
Status CopyValue(const std::string& key, const gguf::Value& v, gguf::Writer* w) {
  using gguf::ValueType;
  switch (v.type) {
    case ValueType::kUint8:
      w->SetUint8(key, static_cast<uint8_t>(v.uint_value));
      break;
    case ValueType::kInt8:
      w->SetInt8(key, static_cast<int8_t>(v.int_value));
      break;
    case ValueType::kUint16:
      w->SetUint16(key, static_cast<uint16_t>(v.uint_value));
      break;
    case ValueType::kInt16:
      w->SetInt16(key, static_cast<int16_t>(v.int_value));
      break;
    case ValueType::kUint32:
      w->SetUint32(key, static_cast<uint32_t>(v.uint_value));
      break;
    case ValueType::kInt32:
      w->SetInt32(key, static_cast<int32_t>(v.int_value));
      break;
    case ValueType::kUint64:
      w->SetUint64(key, v.uint_value);
      break;
    case ValueType::kInt64:
      w->SetInt64(key, v.int_value);
      break;
    case ValueType::kFloat32:
      w->SetFloat32(key, static_cast<float>(v.float_value));
      break;
    case ValueType::kFloat64:
      w->SetFloat64(key, v.float_value);
      break;
    case ValueType::kBool:
      w->SetBool(key, v.int_value != 0);
      break;
    case ValueType::kString:
      w->SetString(key, v.string_value);
      break;
    case ValueType::kArray:
      if (v.element_type == ValueType::kString) {
        w->SetStringArray(key, v.strings);
        break;
      }
      return w->SetNumberArray(key, v.element_type, v.numbers);
    default:
      return Unimplemented("metadata '" + key + "' has a type kvik cannot copy");
  }
  return Status::Ok();
}

// The type a tensor should end up in, and why not when it keeps its own.
TensorConversion Plan(const gguf::TensorInfo& t, const QuantizeModelOptions& options) {
  TensorConversion c{t.name, t.type, t.type, ""};
  if (!Info(t.type).computable) {
    c.note = "kept: kvik cannot decode " + std::string(Name(t.type));
    return c;
  }
  if (t.dims.size() == 1) {
    c.to = DType::kF32;  // norms and biases: tiny, and the model reads them as f32
    return c;
  }
  DType wanted = options.type;
  if (t.name == kOutputTensor && options.output_type) wanted = *options.output_type;
  if (t.name == kEmbeddingTensor && options.embedding_type) wanted = *options.embedding_type;
  if (t.dims.size() != 2) {
    c.note = "kept: " + std::to_string(t.dims.size()) + "-D tensor";
  } else if (t.dims[0] % Info(wanted).block_elements != 0) {
    c.note = "kept: row length " + std::to_string(t.dims[0]) + " is not a multiple of " +
             std::to_string(Info(wanted).block_elements) + " (" + std::string(Name(wanted)) + ")";
  } else {
    c.to = wanted;
  }
  return c;
}

// Row by row through f32; a tensor already in the target type is copied byte for byte.
std::vector<uint8_t> Convert(const gguf::TensorInfo& t, DType to) {
  if (t.type == to) return std::vector<uint8_t>(t.data, t.data + t.n_bytes);
  const uint64_t cols = t.dims[0];
  const uint64_t rows = t.n_elements() / cols;
  const uint64_t in_row = RowBytes(t.type, cols), out_row = RowBytes(to, cols);
  std::vector<uint8_t> out(rows * out_row);
  std::vector<float> row(cols);
  for (uint64_t r = 0; r < rows; ++r) {
    DequantizeRow(t.type, t.data + r * in_row, static_cast<int64_t>(cols), row.data());
    QuantizeRow(to, row.data(), static_cast<int64_t>(cols), out.data() + r * out_row);
  }
  return out;
}

}  // namespace

uint32_t LlamaFileType(DType type) {
  switch (type) {
    case DType::kF16:
      return 1;
    case DType::kQ4_0:
      return 2;
    case DType::kQ8_0:
      return 7;
    case DType::kBF16:
      return 32;
    default:
      return 0;  // all f32
  }
}

Result<QuantizeModelReport> QuantizeModel(const QuantizeModelOptions& options) {
  KVIK_RETURN_IF_ERROR(CheckComputable(options.type, "--type"));
  if (options.output_type)
    KVIK_RETURN_IF_ERROR(CheckComputable(*options.output_type, "--output-type"));
  if (options.embedding_type) {
    KVIK_RETURN_IF_ERROR(CheckComputable(*options.embedding_type, "--embedding-type"));
  }
  KVIK_RETURN_IF_ERROR(CheckPaths(options));
  KVIK_ASSIGN_OR_RETURN(const gguf::File input, gguf::File::Open(options.input_path));

  gguf::Writer writer;
  for (const auto& [key, value] : input.metadata()) {
    KVIK_RETURN_IF_ERROR(CopyValue(key, value, &writer));
  }
  writer.SetUint32("general.file_type", LlamaFileType(options.type));

  QuantizeModelReport report;
  report.input_bytes = input.file_bytes();
  for (const gguf::TensorInfo& t : input.tensors()) {
    TensorConversion c = Plan(t, options);
    KVIK_RETURN_IF_ERROR(writer.AddTensor(t.name, t.dims, c.to, Convert(t, c.to)));
    report.tensors.push_back(std::move(c));
  }
  KVIK_RETURN_IF_ERROR(writer.WriteFile(options.output_path));
  std::error_code error;
  report.output_bytes = std::filesystem::file_size(options.output_path, error);
  return report;
}

}  // namespace kvik
