// Serializes a built index into the format of index_format.h (written to a temp name, then renamed,
// so a server re-opening the path never sees a half-written file).
#pragma once

#include <string>
#include <vector>

#include "kvik/status.h"
#include "lsh/index_format.h"

namespace kvik::lsh {

struct IndexContents {
  format::FileHeader
      header{};  // parameters filled by the caller; sizes and checksums by WriteIndex
  std::vector<format::TokenEntry> tokens;
  std::vector<format::TypoEntry> typos;
  std::vector<uint64_t> bucket_keys;  // one per bucket, distinct, never 0
  std::vector<uint32_t> bucket_first, bucket_count;
  std::vector<uint32_t> entries;
  std::vector<format::ClusterEntry> clusters;
  std::string text;
};

// Returns the file size in bytes.
Result<uint64_t> WriteIndex(const std::string& path, IndexContents& contents);

}  // namespace kvik::lsh
