// Parses and validates the bytes of a GGUF v2/v3 file: header, metadata, tensor infos and the
// placement of tensor data. Never touches tensor data itself, so opening a multi-GB file costs only
// the size of its header.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kvik/gguf.h"
#include "kvik/status.h"

namespace kvik::gguf {

struct ParsedFile {
  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t data_offset = 0;  // where the data section starts, from the start of the file
  std::vector<std::pair<std::string, Value>> metadata;        // file order
  std::map<std::string, size_t, std::less<>> metadata_index;  // key -> index into metadata
  std::vector<TensorInfo> tensors;                            // file order, data into `bytes`
  std::map<std::string, size_t, std::less<>> tensor_index;    // name -> index into tensors
};

// `display_name` prefixes every error message (a path, or "<memory>").
Result<ParsedFile> ParseFile(std::span<const uint8_t> bytes, const std::string& display_name);

}  // namespace kvik::gguf
