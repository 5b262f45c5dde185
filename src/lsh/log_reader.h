// Streaming reader for aggregated query logs (TSV: query <TAB> count). Malformed lines are counted
// and skipped, and the first few are kept as "file:line: why" examples, so the caller can warn.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "kvik/status.h"

namespace kvik::lsh {

struct LogLine {
  std::string_view query;  // valid until the next Next() call
  uint64_t count;
};

class LogReader {
 public:
  static constexpr size_t kMaxLineBytes = 1 << 16;
  static constexpr size_t kMaxExamples = 5;

  // allow_zero: the second column may be 0 (truth files use it for cluster ids).
  static Result<LogReader> Open(const std::string& path, bool allow_zero = false);
  LogReader(LogReader&& other) noexcept;
  LogReader& operator=(LogReader&&) = delete;
  ~LogReader();

  // Reads the next well-formed line into *line; false at end of file. Read errors end the stream
  // and are reported by status().
  bool Next(LogLine* line);

  const Status& status() const { return status_; }
  uint64_t lines() const { return line_number_; }
  uint64_t bad_lines() const { return bad_lines_; }
  uint64_t bytes_read() const { return bytes_read_; }
  const std::vector<std::string>& bad_line_examples() const { return examples_; }

 private:
  LogReader(std::string path, FILE* file, bool allow_zero)
      : path_(std::move(path)), file_(file), allow_zero_(allow_zero) {}
  void RecordBad(const std::string& why);

  std::string path_;
  FILE* file_ = nullptr;
  bool allow_zero_ = false;
  char* buffer_ = nullptr;
  size_t buffer_capacity_ = 0;
  Status status_;
  uint64_t line_number_ = 0, bad_lines_ = 0, bytes_read_ = 0;
  std::vector<std::string> examples_;
};

// Parses a decimal number with no sign, spaces or overflow; false on anything else.
bool ParseCount(std::string_view text, uint64_t* value);

}  // namespace kvik::lsh
