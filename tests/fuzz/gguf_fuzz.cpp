// libFuzzer target for the GGUF reader: any byte string must parse to a valid File or to an error
// that names the file — never a crash, leak, hang or out-of-bounds read. A parsed File is walked
// completely, reading every tensor byte, so a wrong bounds check shows up under ASan.
// Seeds: tests/fuzz/make_gguf_seeds.py.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "kvik/gguf.h"

namespace {

// Keeps the optimiser from dropping the reads the walk exists to make.
volatile uint64_t g_sink = 0;

void Check(bool condition) {
  if (!condition) std::abort();
}

void WalkValue(const kvik::gguf::File& file, const std::string& key,
               const kvik::gguf::Value& value) {
  uint64_t sum =
      static_cast<uint64_t>(value.int_value) ^ value.uint_value ^ (value.float_value > 0);
  for (char c : value.string_value) sum += static_cast<unsigned char>(c);
  for (double number : value.numbers) sum += static_cast<uint64_t>(number != 0);
  for (const std::string& text : value.strings) {
    for (char c : text) sum += static_cast<unsigned char>(c);
  }
  if (value.type == kvik::gguf::ValueType::kArray) {
    Check(value.array_length == value.numbers.size() + value.strings.size());
  }
  Check(file.Find(key) == &value);
  // Every getter must answer (a value or an error) without crashing.
  sum += file.GetUint(key).ok() + file.GetInt(key).ok() + file.GetFloat(key).ok() +
         file.GetBool(key).ok() + file.GetString(key).ok() + file.GetStringArray(key).ok() +
         file.GetNumberArray(key).ok();
  g_sink = g_sink + sum;
}

void WalkTensor(const kvik::gguf::File& file, const kvik::gguf::TensorInfo& tensor) {
  Check(file.FindTensor(tensor.name) == &tensor);
  Check(!tensor.dims.empty() && tensor.dims.size() <= 4);
  Check(tensor.offset % file.alignment() == 0);
  uint64_t sum = tensor.n_elements();
  for (uint64_t i = 0; i < tensor.n_bytes; ++i) sum += tensor.data[i];
  g_sink = g_sink + sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr std::string_view kName = "fuzz.gguf";
  auto file = kvik::gguf::File::FromBytes(std::span(data, size), std::string(kName));
  if (!file.ok()) {
    const kvik::Status status = file.status();  // status() returns a copy: keep it alive
    Check(status.message().size() > kName.size() + 2 && status.message().starts_with(kName));
    return 0;
  }
  Check(file->version() == 2 || file->version() == 3);
  for (const auto& [key, value] : file->metadata()) WalkValue(*file, key, value);
  for (const auto& tensor : file->tensors()) WalkTensor(*file, tensor);
  return 0;
}
