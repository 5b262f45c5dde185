// gguf::Writer: encodes metadata and tensors as GGUF v3, in memory or atomically to a file.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "gguf/messages.h"
#include "gguf/shape.h"
#include "kvik/gguf.h"

namespace kvik::gguf {
namespace {

constexpr uint32_t kVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr std::string_view kAlignmentKey = "general.alignment";
// llama.cpp (GGML_MAX_NAME = 64, counting the terminating NUL) rejects longer tensor names.
constexpr size_t kMaxTensorNameBytes = 63;

template <typename T>
void Append(std::vector<uint8_t>* out, T value) {
  const size_t at = out->size();
  out->resize(at + sizeof(T));
  std::memcpy(out->data() + at, &value, sizeof(T));
}

void AppendString(std::vector<uint8_t>* out, std::string_view text) {
  Append<uint64_t>(out, text.size());
  out->insert(out->end(), text.begin(), text.end());
}

template <typename T>
std::vector<uint8_t> Encode(T value) {
  std::vector<uint8_t> payload;
  Append(&payload, value);
  return payload;
}

// Array payload: element type, length, elements.
template <typename T>
std::vector<uint8_t> EncodeArray(ValueType element_type, const std::vector<T>& values) {
  std::vector<uint8_t> payload;
  Append(&payload, static_cast<uint32_t>(element_type));
  Append<uint64_t>(&payload, values.size());
  for (const T& value : values) {
    if constexpr (std::is_same_v<T, std::string>) {
      AppendString(&payload, value);
    } else {
      Append(&payload, value);
    }
  }
  return payload;
}

uint64_t AlignUp(uint64_t offset, uint64_t alignment) {
  return (offset + alignment - 1) / alignment * alignment;
}

// Appends `value` as a T when T holds it exactly (so the file holds exactly what was asked);
// false otherwise. Range is checked before the cast, which would be undefined out of range.
template <typename T>
bool AppendIfExact(double value, std::vector<uint8_t>* payload) {
  if constexpr (std::is_floating_point_v<T>) {
    const bool exact = std::isnan(value) || std::isinf(value) ||
                       (std::fabs(value) <= std::numeric_limits<T>::max() &&
                        static_cast<double>(static_cast<T>(value)) == value);
    if (!exact) return false;
  } else {
    // Integers of T lie in [min, 2^digits), both bounds exact as doubles.
    const double lower = static_cast<double>(std::numeric_limits<T>::min());
    const double upper_exclusive = std::ldexp(1.0, std::numeric_limits<T>::digits);
    if (!(value >= lower && value < upper_exclusive)) return false;
    if (static_cast<double>(static_cast<T>(value)) != value) return false;
  }
  Append(payload, static_cast<T>(value));
  return true;
}

bool AppendNumber(ValueType type, double value, std::vector<uint8_t>* payload) {
  switch (type) {
    case ValueType::kUint8:
      return AppendIfExact<uint8_t>(value, payload);
    case ValueType::kInt8:
      return AppendIfExact<int8_t>(value, payload);
    case ValueType::kUint16:
      return AppendIfExact<uint16_t>(value, payload);
    case ValueType::kInt16:
      return AppendIfExact<int16_t>(value, payload);
    case ValueType::kUint32:
      return AppendIfExact<uint32_t>(value, payload);
    case ValueType::kInt32:
      return AppendIfExact<int32_t>(value, payload);
    case ValueType::kUint64:
      return AppendIfExact<uint64_t>(value, payload);
    case ValueType::kInt64:
      return AppendIfExact<int64_t>(value, payload);
    case ValueType::kFloat32:
      return AppendIfExact<float>(value, payload);
    case ValueType::kFloat64:
      return AppendIfExact<double>(value, payload);
    case ValueType::kBool:
      return (value == 0 || value == 1) && AppendIfExact<uint8_t>(value, payload);
    case ValueType::kString:
    case ValueType::kArray:
      return false;
  }
  return false;
}

// write(2) until done, retrying interrupted and partial writes.
bool WriteAll(int fd, const uint8_t* data, uint64_t size) {
  while (size > 0) {
    const ssize_t written = write(fd, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    data += written;
    size -= static_cast<uint64_t>(written);
  }
  return true;
}

}  // namespace

void Writer::SetUint8(std::string key, uint8_t value) {
  SetRaw(std::move(key), ValueType::kUint8, ValueType::kUint8, Encode(value));
}
void Writer::SetInt8(std::string key, int8_t value) {
  SetRaw(std::move(key), ValueType::kInt8, ValueType::kUint8, Encode(value));
}
void Writer::SetUint16(std::string key, uint16_t value) {
  SetRaw(std::move(key), ValueType::kUint16, ValueType::kUint8, Encode(value));
}
void Writer::SetInt16(std::string key, int16_t value) {
  SetRaw(std::move(key), ValueType::kInt16, ValueType::kUint8, Encode(value));
}
void Writer::SetUint32(std::string key, uint32_t value) {
  SetRaw(std::move(key), ValueType::kUint32, ValueType::kUint8, Encode(value));
}
void Writer::SetInt32(std::string key, int32_t value) {
  SetRaw(std::move(key), ValueType::kInt32, ValueType::kUint8, Encode(value));
}
void Writer::SetUint64(std::string key, uint64_t value) {
  SetRaw(std::move(key), ValueType::kUint64, ValueType::kUint8, Encode(value));
}
void Writer::SetInt64(std::string key, int64_t value) {
  SetRaw(std::move(key), ValueType::kInt64, ValueType::kUint8, Encode(value));
}
void Writer::SetFloat32(std::string key, float value) {
  SetRaw(std::move(key), ValueType::kFloat32, ValueType::kUint8, Encode(value));
}
void Writer::SetFloat64(std::string key, double value) {
  SetRaw(std::move(key), ValueType::kFloat64, ValueType::kUint8, Encode(value));
}
void Writer::SetBool(std::string key, bool value) {
  SetRaw(std::move(key), ValueType::kBool, ValueType::kUint8, Encode<uint8_t>(value ? 1 : 0));
}
void Writer::SetString(std::string key, std::string value) {
  std::vector<uint8_t> payload;
  AppendString(&payload, value);
  SetRaw(std::move(key), ValueType::kString, ValueType::kUint8, std::move(payload));
}
void Writer::SetStringArray(std::string key, std::vector<std::string> values) {
  SetRaw(std::move(key), ValueType::kArray, ValueType::kString,
         EncodeArray(ValueType::kString, values));
}
void Writer::SetFloat32Array(std::string key, std::vector<float> values) {
  SetRaw(std::move(key), ValueType::kArray, ValueType::kFloat32,
         EncodeArray(ValueType::kFloat32, values));
}
void Writer::SetInt32Array(std::string key, std::vector<int32_t> values) {
  SetRaw(std::move(key), ValueType::kArray, ValueType::kInt32,
         EncodeArray(ValueType::kInt32, values));
}

Status Writer::SetNumberArray(std::string key, ValueType element_type,
                              const std::vector<double>& values) {
  if (element_type == ValueType::kString || element_type == ValueType::kArray ||
      static_cast<uint32_t>(element_type) > static_cast<uint32_t>(ValueType::kFloat64)) {
    return InvalidArgument(Concat("gguf writer: key ", Quote(key), ": element type ",
                                  ValueTypeName(element_type), " is not a number or bool type"));
  }
  std::vector<uint8_t> payload;
  Append(&payload, static_cast<uint32_t>(element_type));
  Append<uint64_t>(&payload, values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (!AppendNumber(element_type, values[i], &payload)) {
      return InvalidArgument(Concat("gguf writer: key ", Quote(key), ": element #", i, " (",
                                    values[i], ") is not exactly representable as ",
                                    ValueTypeName(element_type)));
    }
  }
  SetRaw(std::move(key), ValueType::kArray, element_type, std::move(payload));
  return Status::Ok();
}

void Writer::SetRaw(std::string key, ValueType type, ValueType element_type,
                    std::vector<uint8_t> payload) {
  if (key == kAlignmentKey) {
    // Remembered here, validated by Check(): 0 marks a value that is not a u32.
    alignment_ = 0;
    if (type == ValueType::kUint32) {
      uint32_t value = 0;
      std::memcpy(&value, payload.data(), sizeof(value));
      alignment_ = value;
    }
  }
  for (Entry& entry : entries_) {
    if (entry.key == key) {
      entry.type = type;
      entry.element_type = element_type;
      entry.payload = std::move(payload);
      return;
    }
  }
  entries_.push_back(Entry{std::move(key), type, element_type, std::move(payload)});
}

Status Writer::AddTensor(std::string name, std::vector<uint64_t> dims, DType type,
                         std::vector<uint8_t> data) {
  const std::string where = Concat("gguf writer: tensor ", Quote(name), ": ");
  if (name.size() > kMaxTensorNameBytes) {
    return InvalidArgument(Concat(where, "name is ", name.size(),
                                  " bytes; GGUF readers accept at most ", kMaxTensorNameBytes));
  }
  for (const PendingTensor& tensor : tensors_) {
    if (tensor.name == name) return InvalidArgument(Concat(where, "name already added"));
  }
  const DTypeInfo* info = FindDType(static_cast<uint32_t>(type));
  if (info == nullptr) {
    return InvalidArgument(Concat(where, "unknown type id ", static_cast<uint32_t>(type)));
  }
  uint64_t n_bytes = 0;
  if (Status shape = CheckShape(*info, dims, &n_bytes); !shape.ok()) {
    return InvalidArgument(Concat(where, shape.message()));
  }
  if (data.size() != n_bytes) {
    return InvalidArgument(Concat(where, "data is ", data.size(), " bytes; ", info->name, " dims ",
                                  DimsText(dims), " need ", n_bytes));
  }
  tensors_.push_back(PendingTensor{std::move(name), std::move(dims), type, std::move(data)});
  return Status::Ok();
}

Status Writer::Check() const {
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) {
    for (const Entry& entry : entries_) {
      if (entry.key != kAlignmentKey) continue;
      if (entry.type != ValueType::kUint32) {
        return InvalidArgument(Concat("gguf writer: general.alignment has type ",
                                      ValueTypeName(entry.type), "; expected u32"));
      }
    }
    return InvalidArgument(
        Concat("gguf writer: general.alignment ", alignment_, " is not a power of two"));
  }
  return Status::Ok();
}

std::vector<uint8_t> Writer::SerializeHead() const {
  bool has_alignment_key = false;
  for (const Entry& entry : entries_) has_alignment_key |= entry.key == kAlignmentKey;
  std::vector<uint8_t> out;
  Append(&out, uint32_t{0x46554747});  // "GGUF"
  Append(&out, kVersion);
  Append<uint64_t>(&out, tensors_.size());
  Append<uint64_t>(&out, entries_.size() + (has_alignment_key ? 0 : 1));
  for (const Entry& entry : entries_) {
    AppendString(&out, entry.key);
    Append(&out, static_cast<uint32_t>(entry.type));
    out.insert(out.end(), entry.payload.begin(), entry.payload.end());
  }
  if (!has_alignment_key) {
    AppendString(&out, kAlignmentKey);
    Append(&out, static_cast<uint32_t>(ValueType::kUint32));
    Append(&out, static_cast<uint32_t>(kDefaultAlignment));
  }
  // Each tensor starts at the next multiple of the alignment after the previous one's data.
  uint64_t offset = 0;
  for (const PendingTensor& tensor : tensors_) {
    AppendString(&out, tensor.name);
    Append<uint32_t>(&out, tensor.dims.size());
    for (uint64_t dim : tensor.dims) Append(&out, dim);
    Append(&out, static_cast<uint32_t>(tensor.type));
    Append(&out, offset);
    offset += AlignUp(tensor.data.size(), alignment_);
  }
  out.resize(AlignUp(out.size(), alignment_), 0);
  return out;
}

std::vector<uint8_t> Writer::Serialize() const {
  if (!Check().ok()) return {};
  std::vector<uint8_t> out = SerializeHead();
  for (const PendingTensor& tensor : tensors_) {
    out.insert(out.end(), tensor.data.begin(), tensor.data.end());
    out.resize(AlignUp(out.size(), alignment_), 0);
  }
  return out;
}

Status Writer::WriteFile(const std::string& path) const {
  KVIK_RETURN_IF_ERROR(Check());
  // A name no other writer (thread or process) uses, in the target's directory so rename() is
  // atomic.
  static std::atomic<uint64_t> counter{0};
  const std::string temp_path = Concat(path, ".tmp.", getpid(), ".", counter.fetch_add(1));
  const int fd = open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    return IoError(Concat(path, ": cannot create ", temp_path, ": ", std::strerror(errno)));
  }
  const auto fail = [&](std::string_view what) {
    const int error = errno;
    close(fd);
    unlink(temp_path.c_str());
    return IoError(Concat(path, ": ", what, ": ", std::strerror(error)));
  };
  const std::vector<uint8_t> head = SerializeHead();
  if (!WriteAll(fd, head.data(), head.size())) return fail("cannot write header");
  static constexpr uint8_t kZeros[256] = {};  // alignment padding (alignments above 256 loop)
  for (const PendingTensor& tensor : tensors_) {
    if (!WriteAll(fd, tensor.data.data(), tensor.data.size())) {
      return fail(Concat("cannot write tensor ", Quote(tensor.name)));
    }
    for (uint64_t pad = AlignUp(tensor.data.size(), alignment_) - tensor.data.size(); pad > 0;) {
      const uint64_t chunk = std::min<uint64_t>(pad, sizeof(kZeros));
      if (!WriteAll(fd, kZeros, chunk)) return fail("cannot write padding");
      pad -= chunk;
    }
  }
  // Flush to disk before the rename publishes the file, so the name never points at partial data.
  if (fsync(fd) != 0) return fail("cannot fsync");
  if (close(fd) != 0) {
    const int error = errno;
    unlink(temp_path.c_str());
    return IoError(Concat(path, ": cannot close ", temp_path, ": ", std::strerror(error)));
  }
  if (rename(temp_path.c_str(), path.c_str()) != 0) {
    const int error = errno;
    unlink(temp_path.c_str());
    return IoError(Concat(path, ": cannot rename ", temp_path, " over it: ", std::strerror(error)));
  }
  return Status::Ok();
}

}  // namespace kvik::gguf
