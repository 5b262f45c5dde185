#include "gguf/parser.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>

#include "gguf/byte_cursor.h"
#include "gguf/messages.h"
#include "gguf/shape.h"

namespace kvik::gguf {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // the bytes "GGUF" read as a little-endian u32
constexpr uint32_t kLastValueType = static_cast<uint32_t>(ValueType::kFloat64);
// The smallest possible encodings, used to reject counts the file cannot hold before allocating:
// a metadata entry is key length + (empty) key + value type + a 1-byte value; a tensor info is
// name length + (empty) name + n_dims + one dimension + type + offset.
constexpr uint64_t kMinMetadataEntryBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

uint64_t MinEncodedBytes(ValueType type) {
  switch (type) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool:
      return 1;
    case ValueType::kUint16:
    case ValueType::kInt16:
      return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32:
      return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
      return 8;
    case ValueType::kString:
      return 8;  // the length of an empty string
    case ValueType::kArray:
      return 4 + 8;  // element type + length of an empty array
  }
  return 1;
}

std::string KnownTypeNames() {
  std::string names;
  for (const auto& info : kDTypeTable) {
    if (!names.empty()) names += ", ";
    names += Concat(info.name, " (", static_cast<uint32_t>(info.type), ")");
  }
  return names;
}

// A scalar number widened to every representation Value keeps.
struct Widened {
  int64_t int_value = 0;
  uint64_t uint_value = 0;
  double float_value = 0;
  double as_double = 0;  // what an array stores
};

class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, const std::string& name)
      : bytes_(bytes), cursor_(bytes), name_(name) {}

  Result<ParsedFile> Run() {
    KVIK_RETURN_IF_ERROR(ParseHeader());
    KVIK_RETURN_IF_ERROR(ParseMetadata());
    KVIK_RETURN_IF_ERROR(ResolveAlignment());
    KVIK_RETURN_IF_ERROR(ParseTensorInfos());
    KVIK_RETURN_IF_ERROR(PlaceTensorData());
    return std::move(out_);
  }

 private:
  // "<file>: <context>: <problem>", e.g. "m.gguf: tensor 'w' (#3): n_dims is 7; expected 1 to 4".
  template <typename... Args>
  Status Fail(StatusCode code, const Args&... args) const {
    return Status(code, Concat(name_, ": ", context_, ": ", args...));
  }

  Status Truncated(std::string_view what, uint64_t needed) const {
    return Status(StatusCode::kCorrupt,
                  Concat(name_, ": truncated: ", context_, ": ", what, " needs ", needed,
                         " bytes at offset ", cursor_.position(), " but only ", cursor_.remaining(),
                         " remain (file is ", bytes_.size(), " bytes)"));
  }

  template <typename T>
  Status Read(T* out, std::string_view what) {
    return cursor_.Read(out) ? Status::Ok() : Truncated(what, sizeof(T));
  }

  // `describe()` names the string in an error; it is only called on failure.
  template <typename Describe>
  Status ReadString(std::string* out, const Describe& describe) {
    uint64_t length = 0;
    if (!cursor_.Read(&length)) return Truncated(Concat("length of ", describe()), 8);
    std::string_view view;
    if (!cursor_.ReadView(length, &view)) {
      return Fail(StatusCode::kCorrupt, describe(), " has length ", length, " but only ",
                  cursor_.remaining(), " bytes remain after offset ", cursor_.position());
    }
    out->assign(view);
    return Status::Ok();
  }

  Status ParseHeader() {
    context_ = "header";
    uint32_t magic = 0;
    KVIK_RETURN_IF_ERROR(Read(&magic, "magic"));
    if (magic != kMagic) {
      return Fail(StatusCode::kCorrupt, "not a GGUF file: magic is ", Quote(ToText(magic)), " (",
                  HexBytes(magic), "), expected 'GGUF'");
    }
    KVIK_RETURN_IF_ERROR(Read(&out_.version, "version"));
    const uint32_t version = out_.version;
    if (version != 2 && version != 3) {
      if (const uint32_t swapped = __builtin_bswap32(version); swapped >= 1 && swapped <= 3) {
        return Fail(StatusCode::kUnimplemented, "big-endian GGUF (version ", swapped,
                    " byte-swapped) is not supported; expected a little-endian file");
      }
      return Fail(StatusCode::kUnimplemented, "unsupported version ", version,
                  " (kvik reads GGUF versions 2 and 3)");
    }
    KVIK_RETURN_IF_ERROR(Read(&tensor_count_, "tensor count"));
    KVIK_RETURN_IF_ERROR(Read(&metadata_count_, "metadata count"));
    // Reject counts the rest of the file cannot possibly hold before any allocation depends on
    // them.
    const uint64_t left = cursor_.remaining();
    if (metadata_count_ > left / kMinMetadataEntryBytes) {
      return Fail(StatusCode::kCorrupt, "metadata count ", metadata_count_,
                  " cannot fit: each entry needs at least ", kMinMetadataEntryBytes,
                  " bytes and only ", left, " bytes follow the header");
    }
    if (tensor_count_ > left / kMinTensorInfoBytes) {
      return Fail(StatusCode::kCorrupt, "tensor count ", tensor_count_,
                  " cannot fit: each tensor info needs at least ", kMinTensorInfoBytes,
                  " bytes and only ", left, " bytes follow the header");
    }
    const uint64_t least_bytes =
        metadata_count_ * kMinMetadataEntryBytes + tensor_count_ * kMinTensorInfoBytes;
    if (least_bytes > left) {
      return Fail(StatusCode::kCorrupt, "metadata count ", metadata_count_, " and tensor count ",
                  tensor_count_, " need at least ", least_bytes, " bytes but only ", left,
                  " bytes follow the header");
    }
    return Status::Ok();
  }

  static std::string HexBytes(uint32_t raw) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text;
    for (int i = 0; i < 4; ++i) {
      const uint32_t byte = (raw >> (8 * i)) & 0xff;
      text += Concat(i ? " " : "bytes ", kHex[byte >> 4], kHex[byte & 0xf]);
    }
    return text;
  }

  static std::string ToText(uint32_t raw) {
    std::string text(4, '\0');
    for (int i = 0; i < 4; ++i) text[i] = static_cast<char>((raw >> (8 * i)) & 0xff);
    return text;
  }

  Status ParseMetadata() {
    for (uint64_t i = 0; i < metadata_count_; ++i) {
      context_ = Concat("metadata entry #", i);
      std::string key;
      KVIK_RETURN_IF_ERROR(ReadString(&key, [] { return std::string("key"); }));
      context_ = Concat("metadata key ", Quote(key), " (entry #", i, ")");
      if (auto it = out_.metadata_index.find(key); it != out_.metadata_index.end()) {
        return Fail(StatusCode::kCorrupt, "duplicate key (first seen as entry #", it->second, ")");
      }
      uint32_t raw_type = 0;
      KVIK_RETURN_IF_ERROR(Read(&raw_type, "value type"));
      if (raw_type > kLastValueType) {
        return Fail(StatusCode::kCorrupt, "unknown value type ", raw_type,
                    " (valid types are 0 to ", kLastValueType, ")");
      }
      Value value;
      KVIK_RETURN_IF_ERROR(ParseValue(static_cast<ValueType>(raw_type), &value));
      out_.metadata_index.emplace(key, out_.metadata.size());
      out_.metadata.emplace_back(std::move(key), std::move(value));
    }
    return Status::Ok();
  }

  Status ParseValue(ValueType type, Value* value) {
    value->type = type;
    if (type == ValueType::kArray) return ParseArray(value);
    if (type == ValueType::kString) {
      return ReadString(&value->string_value, [] { return std::string("string value"); });
    }
    Widened number;
    KVIK_RETURN_IF_ERROR(ReadNumber(type, &number, [] { return std::string("value"); }));
    value->int_value = number.int_value;
    value->uint_value = number.uint_value;
    value->float_value = number.float_value;
    return Status::Ok();
  }

  template <typename Describe>
  Status ReadNumber(ValueType type, Widened* out, const Describe& describe) {
    switch (type) {
      case ValueType::kUint8:
        return ReadUnsigned<uint8_t>(out, describe);
      case ValueType::kUint16:
        return ReadUnsigned<uint16_t>(out, describe);
      case ValueType::kUint32:
        return ReadUnsigned<uint32_t>(out, describe);
      case ValueType::kUint64:
        return ReadUnsigned<uint64_t>(out, describe);
      case ValueType::kInt8:
        return ReadSigned<int8_t>(out, describe);
      case ValueType::kInt16:
        return ReadSigned<int16_t>(out, describe);
      case ValueType::kInt32:
        return ReadSigned<int32_t>(out, describe);
      case ValueType::kInt64:
        return ReadSigned<int64_t>(out, describe);
      case ValueType::kFloat32:
        return ReadFloat<float>(out, describe);
      case ValueType::kFloat64:
        return ReadFloat<double>(out, describe);
      case ValueType::kBool: {
        uint8_t raw = 0;
        if (!cursor_.Read(&raw)) return Truncated(describe(), 1);
        if (raw > 1) {
          return Fail(StatusCode::kCorrupt, describe(), " is ", static_cast<int>(raw),
                      " but a bool must be 0 or 1");
        }
        out->int_value = raw;
        out->uint_value = raw;
        out->as_double = raw;
        return Status::Ok();
      }
      case ValueType::kString:
      case ValueType::kArray:
        break;
    }
    return Fail(StatusCode::kCorrupt, describe(), " is not a number");  // unreachable by callers
  }

  template <typename T, typename Describe>
  Status ReadUnsigned(Widened* out, const Describe& describe) {
    T raw = 0;
    if (!cursor_.Read(&raw)) return Truncated(describe(), sizeof(T));
    out->uint_value = raw;
    out->int_value = static_cast<int64_t>(static_cast<uint64_t>(raw));  // u64 > INT64_MAX wraps
    out->as_double = static_cast<double>(raw);
    return Status::Ok();
  }

  template <typename T, typename Describe>
  Status ReadSigned(Widened* out, const Describe& describe) {
    T raw = 0;
    if (!cursor_.Read(&raw)) return Truncated(describe(), sizeof(T));
    out->int_value = raw;
    out->uint_value = raw >= 0 ? static_cast<uint64_t>(raw) : 0;
    out->as_double = static_cast<double>(raw);
    return Status::Ok();
  }

  template <typename T, typename Describe>
  Status ReadFloat(Widened* out, const Describe& describe) {
    T raw = 0;
    if (!cursor_.Read(&raw)) return Truncated(describe(), sizeof(T));
    out->float_value = raw;
    out->as_double = raw;
    return Status::Ok();
  }

  Status ParseArray(Value* value) {
    uint32_t raw_type = 0;
    KVIK_RETURN_IF_ERROR(Read(&raw_type, "array element type"));
    if (raw_type > kLastValueType) {
      return Fail(StatusCode::kCorrupt, "unknown array element type ", raw_type,
                  " (valid types are 0 to ", kLastValueType, ")");
    }
    const auto element_type = static_cast<ValueType>(raw_type);
    if (element_type == ValueType::kArray) {
      return Fail(StatusCode::kUnimplemented, "nested arrays (array of arrays) are not supported");
    }
    uint64_t length = 0;
    KVIK_RETURN_IF_ERROR(Read(&length, "array length"));
    const uint64_t min_bytes = MinEncodedBytes(element_type);
    if (length > cursor_.remaining() / min_bytes) {
      return Fail(StatusCode::kCorrupt, "array length ", length, " of ",
                  ValueTypeName(element_type), " cannot fit: each element needs at least ",
                  min_bytes, " bytes and only ", cursor_.remaining(), " bytes remain");
    }
    value->element_type = element_type;
    value->array_length = length;
    if (element_type == ValueType::kString) {
      value->strings.resize(length);
      for (uint64_t i = 0; i < length; ++i) {
        KVIK_RETURN_IF_ERROR(ReadString(
            &value->strings[i], [&] { return Concat("string element #", i, " of ", length); }));
      }
      return Status::Ok();
    }
    value->numbers.resize(length);
    for (uint64_t i = 0; i < length; ++i) {
      Widened number;
      KVIK_RETURN_IF_ERROR(ReadNumber(element_type, &number, [&] {
        return Concat(ValueTypeName(element_type), " element #", i, " of ", length);
      }));
      value->numbers[i] = number.as_double;
    }
    return Status::Ok();
  }

  Status ResolveAlignment() {
    context_ = "metadata key 'general.alignment'";
    const auto it = out_.metadata_index.find("general.alignment");
    if (it == out_.metadata_index.end()) return Status::Ok();
    const Value& value = out_.metadata[it->second].second;
    if (value.type != ValueType::kUint32) {
      return Fail(StatusCode::kCorrupt, "has type ", ValueTypeName(value.type), "; expected u32");
    }
    const uint64_t alignment = value.uint_value;
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
      return Fail(StatusCode::kCorrupt, "value ", alignment, " is not a power of two");
    }
    out_.alignment = alignment;
    return Status::Ok();
  }

  Status ParseTensorInfos() {
    context_ = "tensor infos";
    if (tensor_count_ > cursor_.remaining() / kMinTensorInfoBytes) {
      return Fail(StatusCode::kCorrupt, "tensor count ", tensor_count_,
                  " cannot fit: each tensor info needs at least ", kMinTensorInfoBytes,
                  " bytes and only ", cursor_.remaining(), " bytes remain after the metadata");
    }
    out_.tensors.reserve(tensor_count_);
    for (uint64_t i = 0; i < tensor_count_; ++i) KVIK_RETURN_IF_ERROR(ParseTensorInfo(i));
    return Status::Ok();
  }

  Status ParseTensorInfo(uint64_t index) {
    context_ = Concat("tensor info #", index);
    TensorInfo tensor;
    KVIK_RETURN_IF_ERROR(ReadString(&tensor.name, [] { return std::string("tensor name"); }));
    context_ = Concat("tensor ", Quote(tensor.name), " (#", index, ")");
    if (auto it = out_.tensor_index.find(tensor.name); it != out_.tensor_index.end()) {
      return Fail(StatusCode::kCorrupt, "duplicate tensor name (first seen as tensor #", it->second,
                  ")");
    }
    uint32_t n_dims = 0;
    KVIK_RETURN_IF_ERROR(Read(&n_dims, "n_dims"));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return Fail(StatusCode::kCorrupt, "n_dims is ", n_dims, "; expected 1 to ", kMaxDims);
    }
    tensor.dims.resize(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) {
      KVIK_RETURN_IF_ERROR(Read(&tensor.dims[d], Concat("dims[", d, "]")));
    }
    uint32_t raw_type = 0;
    KVIK_RETURN_IF_ERROR(Read(&raw_type, "tensor type"));
    KVIK_RETURN_IF_ERROR(Read(&tensor.offset, "data offset"));
    const DTypeInfo* type = FindDType(raw_type);
    if (type == nullptr) {
      return Fail(StatusCode::kUnimplemented, "unknown tensor type id ", raw_type, "; kvik knows ",
                  KnownTypeNames());
    }
    tensor.type = type->type;
    if (Status shape = CheckShape(*type, tensor.dims, &tensor.n_bytes); !shape.ok()) {
      return Fail(shape.code(), shape.message());
    }
    if (tensor.offset % out_.alignment != 0) {
      return Fail(StatusCode::kCorrupt, "data offset ", tensor.offset,
                  " is not a multiple of the alignment ", out_.alignment);
    }
    out_.tensor_index.emplace(tensor.name, out_.tensors.size());
    out_.tensors.push_back(std::move(tensor));
    return Status::Ok();
  }

  // The data section starts at the first multiple of the alignment after the tensor infos; every
  // tensor's bytes must lie inside the file and no two tensors may share a byte.
  Status PlaceTensorData() {
    const uint64_t alignment = out_.alignment;
    out_.data_offset = (cursor_.position() + alignment - 1) / alignment * alignment;
    for (TensorInfo& tensor : out_.tensors) {
      uint64_t start = 0, end = 0;
      if (!CheckedAdd(out_.data_offset, tensor.offset, &start) ||
          !CheckedAdd(start, tensor.n_bytes, &end) || end > bytes_.size()) {
        context_ = Concat("tensor ", Quote(tensor.name));
        return Fail(StatusCode::kCorrupt, "data at offset ", tensor.offset, " + ", tensor.n_bytes,
                    " bytes (data section starts at ", out_.data_offset,
                    ") lies outside the file of ", bytes_.size(), " bytes");
      }
      tensor.data = bytes_.data() + start;
    }
    std::vector<size_t> order(out_.tensors.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return out_.tensors[a].offset < out_.tensors[b].offset;
    });
    for (size_t i = 1; i < order.size(); ++i) {
      const TensorInfo& before = out_.tensors[order[i - 1]];
      const TensorInfo& after = out_.tensors[order[i]];
      if (before.offset + before.n_bytes > after.offset) {
        context_ = "tensor data";
        return Fail(StatusCode::kCorrupt, "tensors ", Quote(before.name), " [", before.offset, ", ",
                    before.offset + before.n_bytes, ") and ", Quote(after.name), " [", after.offset,
                    ", ", after.offset + after.n_bytes, ") overlap");
      }
    }
    return Status::Ok();
  }

  std::span<const uint8_t> bytes_;
  ByteCursor cursor_;
  const std::string& name_;
  std::string context_;  // what is being parsed, for messages: "metadata key 'general.name'"
  uint64_t tensor_count_ = 0;
  uint64_t metadata_count_ = 0;
  ParsedFile out_;
};

}  // namespace

Result<ParsedFile> ParseFile(std::span<const uint8_t> bytes, const std::string& display_name) {
  return Parser(bytes, display_name).Run();
}

}  // namespace kvik::gguf
