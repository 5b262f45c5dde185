// GGUF v2/v3 files: a validating, mmap-backed reader and a writer.
// Format: magic "GGUF", u32 version, u64 tensor count, u64 metadata count, metadata key/values,
// tensor infos (name, n_dims, dims innermost-first, type, offset), padding to `general.alignment`
// (default 32), then tensor data. All little-endian.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvik/dtype.h"
#include "kvik/status.h"

namespace kvik::gguf {

enum class ValueType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6,
  kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};

std::string_view ValueTypeName(ValueType type);

// One metadata value. Scalars are widened on read (ints to int64/uint64, floats to double); arrays
// keep their element type and hold either numbers (as double, exact for all 32-bit ints) or strings.
struct Value {
  ValueType type = ValueType::kUint8;
  ValueType element_type = ValueType::kUint8;  // for kArray
  int64_t int_value = 0;        // every signed/unsigned int type and bool; u64 above INT64_MAX wraps
  uint64_t uint_value = 0;      // every unsigned int type and bool; signed ints when >= 0, else 0
  double float_value = 0;       // kFloat32 / kFloat64
  std::string string_value;     // kString
  std::vector<double> numbers;  // kArray of numbers/bools
  std::vector<std::string> strings;  // kArray of strings
  uint64_t array_length = 0;    // kArray (equals numbers.size() or strings.size())
};

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // innermost (contiguous) first, as GGUF stores them
  DType type = DType::kF32;
  uint64_t offset = 0;         // from the start of the data section
  uint64_t n_bytes = 0;        // computed from dims and type
  const uint8_t* data = nullptr;  // into the mapping (or the writer's buffer)

  uint64_t n_elements() const;
};

// A validated, read-only view of a GGUF file. Every size, count and offset is checked against the
// file before use: a malformed file yields a Status naming the problem, never a crash.
class File {
 public:
  static Result<File> Open(const std::string& path);
  // Parses an in-memory image (fuzzing, tests). `bytes` must outlive the File.
  static Result<File> FromBytes(std::span<const uint8_t> bytes, std::string display_name = "<memory>");

  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  ~File();

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_bytes() const { return bytes_.size(); }
  // The whole file image (mapped).
  std::span<const uint8_t> bytes() const { return bytes_; }
  // Tells the OS that this process no longer needs the mapped pages wholly inside `range` (part of
  // bytes()): they leave its resident memory and are read from the file again if touched. Used after
  // a tensor has been copied into another layout. Does nothing for FromBytes images.
  void ReleasePages(std::span<const uint8_t> range) const;
  // Where the data section starts (tensor offsets count from here).
  uint64_t data_offset() const { return data_offset_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  const Value* Find(std::string_view key) const;
  bool Has(std::string_view key) const { return Find(key) != nullptr; }

  // Typed getters: NotFound when absent; InvalidArgument (naming key, found and expected type) when the
  // value's type does not fit. GetUint accepts any integer type holding a non-negative value.
  Result<uint64_t> GetUint(std::string_view key) const;
  Result<int64_t> GetInt(std::string_view key) const;
  Result<double> GetFloat(std::string_view key) const;  // f32, f64 (ints accepted too)
  Result<bool> GetBool(std::string_view key) const;
  Result<std::string> GetString(std::string_view key) const;
  Result<std::vector<std::string>> GetStringArray(std::string_view key) const;
  Result<std::vector<double>> GetNumberArray(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* FindTensor(std::string_view name) const;

 private:
  File() = default;
  struct Mapping;
  std::unique_ptr<Mapping> mapping_;
  std::span<const uint8_t> bytes_;
  std::string path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::map<std::string, size_t, std::less<>> metadata_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Builds a GGUF v3 file. Metadata and tensors are written in the order they were added, so the same
// calls always give byte-identical files. Setting a key again replaces its value in place.
// `general.alignment` (u32, a power of two) is written as 32 unless set; tensor data is aligned to
// it and zero-padded, the last tensor included (as ggml writes it).
class Writer {
 public:
  void SetUint8(std::string key, uint8_t value);
  void SetInt8(std::string key, int8_t value);
  void SetUint16(std::string key, uint16_t value);
  void SetInt16(std::string key, int16_t value);
  void SetInt64(std::string key, int64_t value);
  void SetFloat64(std::string key, double value);
  void SetUint32(std::string key, uint32_t value);
  void SetInt32(std::string key, int32_t value);
  void SetUint64(std::string key, uint64_t value);
  void SetFloat32(std::string key, float value);
  void SetBool(std::string key, bool value);
  void SetString(std::string key, std::string value);
  void SetStringArray(std::string key, std::vector<std::string> values);
  void SetFloat32Array(std::string key, std::vector<float> values);
  void SetInt32Array(std::string key, std::vector<int32_t> values);
  // An array of any number or bool type; InvalidArgument when a value is not exactly representable
  // in `element_type` (e.g. 1.5 or 300 for u8, 2 for bool).
  Status SetNumberArray(std::string key, ValueType element_type, const std::vector<double>& values);

  // `dims` innermost-first; `data` must hold exactly the bytes `type` needs for those dims.
  Status AddTensor(std::string name, std::vector<uint64_t> dims, DType type,
                   std::vector<uint8_t> data);

  // Ok, or why WriteFile would fail: a `general.alignment` that is not a u32 power of two.
  Status Check() const;
  // Writes to a temporary file beside `path`, fsyncs it, then renames it over `path`, so a crash
  // never leaves a half-written file under that name.
  Status WriteFile(const std::string& path) const;
  // The whole file in memory; empty when Check() fails.
  std::vector<uint8_t> Serialize() const;

 private:
  struct Entry {
    std::string key;
    ValueType type;
    ValueType element_type;
    // The bytes after the value type (arrays: element type, length, items).
    std::vector<uint8_t> payload;
  };
  struct PendingTensor {
    std::string name;
    std::vector<uint64_t> dims;
    DType type;
    std::vector<uint8_t> data;
  };
  void SetRaw(std::string key, ValueType type, ValueType element_type, std::vector<uint8_t> payload);
  // Everything before the data section: header, metadata, tensor infos, padding.
  std::vector<uint8_t> SerializeHead() const;
  std::vector<Entry> entries_;
  std::vector<PendingTensor> tensors_;
  uint64_t alignment_ = 32;
};

}  // namespace kvik::gguf
