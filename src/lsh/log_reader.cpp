#include "lsh/log_reader.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>

namespace kvik::lsh {

bool ParseCount(std::string_view text, uint64_t* value) {
  if (text.empty() || text.size() > 20) return false;
  *value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (*value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    *value = *value * 10 + digit;
  }
  return true;
}

Result<LogReader> LogReader::Open(const std::string& path, bool allow_zero) {
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return IoError("query log " + path + ": cannot open: " + std::strerror(errno));
  }
  return LogReader(path, file, allow_zero);
}

LogReader::LogReader(LogReader&& other) noexcept
    : path_(std::move(other.path_)),
      file_(std::exchange(other.file_, nullptr)),
      allow_zero_(other.allow_zero_),
      buffer_(std::exchange(other.buffer_, nullptr)),
      buffer_capacity_(std::exchange(other.buffer_capacity_, 0)),
      status_(std::move(other.status_)),
      line_number_(other.line_number_),
      bad_lines_(other.bad_lines_),
      bytes_read_(other.bytes_read_),
      examples_(std::move(other.examples_)) {}

LogReader::~LogReader() {
  if (file_ != nullptr) std::fclose(file_);
  std::free(buffer_);
}

void LogReader::RecordBad(const std::string& why) {
  ++bad_lines_;
  if (examples_.size() < kMaxExamples) {
    examples_.push_back(path_ + ":" + std::to_string(line_number_) + ": " + why);
  }
}

bool LogReader::Next(LogLine* line) {
  while (file_ != nullptr) {
    ssize_t length = getline(&buffer_, &buffer_capacity_, file_);
    if (length < 0) {
      if (std::ferror(file_))
        status_ = IoError("query log " + path_ + ": read error after line " +
                          std::to_string(line_number_));
      std::fclose(file_);
      file_ = nullptr;
      return false;
    }
    ++line_number_;
    bytes_read_ += static_cast<uint64_t>(length);
    std::string_view text(buffer_, static_cast<size_t>(length));
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.empty()) {
      RecordBad("empty line (expected 'query<TAB>count')");
      continue;
    }
    if (text.size() > kMaxLineBytes) {
      RecordBad("line longer than " + std::to_string(kMaxLineBytes) + " bytes");
      continue;
    }
    if (text.find('\0') != std::string_view::npos) {
      RecordBad("NUL byte in line");
      continue;
    }
    size_t tab = text.rfind('\t');
    if (tab == std::string_view::npos) {
      RecordBad("no tab (expected 'query<TAB>count')");
      continue;
    }
    uint64_t count = 0;
    if (!ParseCount(text.substr(tab + 1), &count) || (count == 0 && !allow_zero_)) {
      RecordBad("count '" + std::string(text.substr(tab + 1, 32)) + "' is not a positive integer");
      continue;
    }
    line->query = text.substr(0, tab);
    line->count = count;
    return true;
  }
  return false;
}

}  // namespace kvik::lsh
