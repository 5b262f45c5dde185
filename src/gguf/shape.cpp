#include "gguf/shape.h"

#include "gguf/byte_cursor.h"
#include "gguf/messages.h"

namespace kvik::gguf {

std::string DimsText(const std::vector<uint64_t>& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) text += Concat(i ? ", " : "", dims[i]);
  return text + "]";
}

Status CheckShape(const DTypeInfo& type, const std::vector<uint64_t>& dims, uint64_t* n_bytes) {
  if (dims.empty() || dims.size() > kMaxDims) {
    return Corrupt(Concat("n_dims is ", dims.size(), "; expected 1 to ", kMaxDims));
  }
  uint64_t elements = 1;
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 0) {
      return Corrupt(Concat("dims[", d, "] is 0; every dimension must be at least 1"));
    }
    if (dims[d] > kMaxDimension) {
      return OutOfRange(Concat("dims[", d, "] is ", dims[d], ", above the limit ", kMaxDimension));
    }
    if (!CheckedMul(elements, dims[d], &elements) || elements > kMaxDimension) {
      return OutOfRange(Concat("element count of dims ", DimsText(dims), " overflows int64"));
    }
  }
  if (dims[0] % type.block_elements != 0) {
    return Corrupt(Concat("dims[0] = ", dims[0], " is not a multiple of the ", type.name,
                          " block size ", type.block_elements));
  }
  uint64_t bytes = 0;
  bool fits = CheckedMul(dims[0] / type.block_elements, type.block_bytes, &bytes);
  for (size_t d = 1; fits && d < dims.size(); ++d) fits = CheckedMul(bytes, dims[d], &bytes);
  if (!fits) {
    return OutOfRange(
        Concat("byte size of ", type.name, " dims ", DimsText(dims), " overflows 64 bits"));
  }
  *n_bytes = bytes;
  return Status::Ok();
}

}  // namespace kvik::gguf
