// gguf::File: maps a file read-only, hands its bytes to the parser, answers metadata queries.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "gguf/messages.h"
#include "gguf/parser.h"
#include "kvik/gguf.h"

namespace kvik::gguf {

std::string_view ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kUint8:
      return "u8";
    case ValueType::kInt8:
      return "i8";
    case ValueType::kUint16:
      return "u16";
    case ValueType::kInt16:
      return "i16";
    case ValueType::kUint32:
      return "u32";
    case ValueType::kInt32:
      return "i32";
    case ValueType::kFloat32:
      return "f32";
    case ValueType::kBool:
      return "bool";
    case ValueType::kString:
      return "string";
    case ValueType::kArray:
      return "array";
    case ValueType::kUint64:
      return "u64";
    case ValueType::kInt64:
      return "i64";
    case ValueType::kFloat64:
      return "f64";
  }
  return "unknown";
}

uint64_t TensorInfo::n_elements() const {
  uint64_t count = 1;
  for (uint64_t dim : dims) count *= dim;  // the parser and writer reject overflowing shapes
  return count;
}

// A read-only private mapping of a whole file; unmapped when the File goes away.
struct File::Mapping {
  void* address = nullptr;
  size_t length = 0;
  ~Mapping() {
    if (address != nullptr) munmap(address, length);
  }
};

File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

Result<File> File::Open(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    const std::string message = Concat(path, ": cannot open: ", std::strerror(error));
    return error == ENOENT ? NotFound(message) : IoError(message);
  }
  struct stat info {};
  if (fstat(fd, &info) != 0) {
    const int error = errno;
    close(fd);
    return IoError(Concat(path, ": cannot stat: ", std::strerror(error)));
  }
  if (!S_ISREG(info.st_mode)) {
    close(fd);
    return InvalidArgument(Concat(path, ": not a regular file"));
  }
  if (info.st_size == 0) {
    close(fd);
    return Corrupt(Concat(path, ": file is empty; a GGUF file starts with a 24-byte header"));
  }
  auto mapping = std::make_unique<Mapping>();
  mapping->length = static_cast<size_t>(info.st_size);
  // MAP_PRIVATE + PROT_READ: pages are loaded lazily, so opening touches only the header pages.
  void* address = mmap(nullptr, mapping->length, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_error = errno;
  close(fd);  // the mapping keeps its own reference to the file
  if (address == MAP_FAILED) {
    return IoError(
        Concat(path, ": cannot mmap ", mapping->length, " bytes: ", std::strerror(map_error)));
  }
  mapping->address = address;
  const std::span<const uint8_t> bytes(static_cast<const uint8_t*>(address), mapping->length);
  KVIK_ASSIGN_OR_RETURN(File file, FromBytes(bytes, path));
  file.mapping_ = std::move(mapping);
  return file;
}

void File::ReleasePages(std::span<const uint8_t> range) const {
  if (!mapping_ || range.empty()) return;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(range.data()) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(range.data()) + range.size()) / page * page;
  // A private, never-written file mapping: MADV_DONTNEED only drops the page-table entries.
  if (begin < end) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

Result<File> File::FromBytes(std::span<const uint8_t> bytes, std::string display_name) {
  KVIK_ASSIGN_OR_RETURN(ParsedFile parsed, ParseFile(bytes, display_name));
  File file;
  file.bytes_ = bytes;
  file.path_ = std::move(display_name);
  file.version_ = parsed.version;
  file.alignment_ = parsed.alignment;
  file.data_offset_ = parsed.data_offset;
  file.metadata_ = std::move(parsed.metadata);
  file.metadata_index_ = std::move(parsed.metadata_index);
  file.tensors_ = std::move(parsed.tensors);
  file.tensor_index_ = std::move(parsed.tensor_index);
  return file;
}

const Value* File::Find(std::string_view key) const {
  const auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const TensorInfo* File::FindTensor(std::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

bool IsUnsigned(ValueType t) {
  return t == ValueType::kUint8 || t == ValueType::kUint16 || t == ValueType::kUint32 ||
         t == ValueType::kUint64;
}
bool IsSigned(ValueType t) {
  return t == ValueType::kInt8 || t == ValueType::kInt16 || t == ValueType::kInt32 ||
         t == ValueType::kInt64;
}
bool IsFloat(ValueType t) { return t == ValueType::kFloat32 || t == ValueType::kFloat64; }

std::string TypeText(const Value& value) {
  if (value.type != ValueType::kArray) return std::string(ValueTypeName(value.type));
  return Concat("array of ", ValueTypeName(value.element_type));
}

bool IsInteger(const Value& v) { return IsUnsigned(v.type) || IsSigned(v.type); }
bool IsNumber(const Value& v) { return IsInteger(v) || IsFloat(v.type); }
bool IsBool(const Value& v) { return v.type == ValueType::kBool; }
bool IsString(const Value& v) { return v.type == ValueType::kString; }
bool IsStringArray(const Value& v) {
  return v.type == ValueType::kArray && v.element_type == ValueType::kString;
}
bool IsNumberArray(const Value& v) {
  return v.type == ValueType::kArray && v.element_type != ValueType::kString &&
         v.element_type != ValueType::kArray;
}

// The value a getter reads: NotFound when absent; InvalidArgument naming the found and expected
// types when `fits` rejects it.
Result<const Value*> Lookup(const File& file, std::string_view key, bool (*fits)(const Value&),
                            std::string_view expected) {
  const Value* value = file.Find(key);
  if (value == nullptr) {
    return NotFound(Concat(file.path(), ": metadata key ", Quote(key), " not found"));
  }
  if (!fits(*value)) {
    return InvalidArgument(Concat(file.path(), ": metadata key ", Quote(key), " has type ",
                                  TypeText(*value), "; expected ", expected));
  }
  return value;
}

}  // namespace

Result<uint64_t> File::GetUint(std::string_view key) const {
  KVIK_ASSIGN_OR_RETURN(const Value* value, Lookup(*this, key, IsInteger, "an integer"));
  if (IsSigned(value->type) && value->int_value < 0) {
    return OutOfRange(Concat(path_, ": metadata key ", Quote(key), " is ", value->int_value,
                             "; expected a non-negative integer"));
  }
  return IsSigned(value->type) ? static_cast<uint64_t>(value->int_value) : value->uint_value;
}

Result<int64_t> File::GetInt(std::string_view key) const {
  KVIK_ASSIGN_OR_RETURN(const Value* value, Lookup(*this, key, IsInteger, "an integer"));
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  if (IsUnsigned(value->type) && value->uint_value > kMax) {
    return OutOfRange(Concat(path_, ": metadata key ", Quote(key), " is ", value->uint_value,
                             "; expected at most ", kMax));
  }
  return value->int_value;
}

Result<double> File::GetFloat(std::string_view key) const {
  KVIK_ASSIGN_OR_RETURN(const Value* value, Lookup(*this, key, IsNumber, "a number"));
  if (IsFloat(value->type)) return value->float_value;
  if (IsSigned(value->type)) return static_cast<double>(value->int_value);
  return static_cast<double>(value->uint_value);
}

Result<bool> File::GetBool(std::string_view key) const {
  KVIK_ASSIGN_OR_RETURN(const Value* value, Lookup(*this, key, IsBool, "bool"));
  return value->uint_value != 0;
}

Result<std::string> File::GetString(std::string_view key) const {
  KVIK_ASSIGN_OR_RETURN(const Value* value, Lookup(*this, key, IsString, "string"));
  return value->string_value;
}

Result<std::vector<std::string>> File::GetStringArray(std::string_view key) const {
  KVIK_ASSIGN_OR_RETURN(const Value* value, Lookup(*this, key, IsStringArray, "array of string"));
  return value->strings;
}

Result<std::vector<double>> File::GetNumberArray(std::string_view key) const {
  KVIK_ASSIGN_OR_RETURN(const Value* value, Lookup(*this, key, IsNumberArray, "array of numbers"));
  return value->numbers;
}

}  // namespace kvik::gguf
