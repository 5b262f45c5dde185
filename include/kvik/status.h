// Status and Result<T>: kvik's error values (LevelDB/Abseil style).
// Functions that can fail on input return one of these; exceptions never cross a module boundary.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace kvik {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // the caller passed something malformed (option, prompt, JSON)
  kNotFound,          // a file, key or tensor that should exist does not
  kIoError,           // the OS refused (open, read, mmap, write)
  kCorrupt,           // a file's bytes contradict its own format
  kOutOfRange,        // a value outside what the format or config allows
  kResourceExhausted, // a budget (memory, context, queue) is used up
  kUnimplemented,     // a valid input kvik does not support (e.g. an unknown tensor type)
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "ok" or "<message>": what a CLI prints after "error: ".
  std::string ToString() const { return ok() ? std::string("ok") : message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status Corrupt(std::string m) { return {StatusCode::kCorrupt, std::move(m)}; }
inline Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }

// Either a T or a non-ok Status. Accessing value() of an error is a programmer error (asserts).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design, like absl::StatusOr
  Result(Status status) : state_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(state_).ok() && "Result built from an ok Status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(state_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(state_); }

  T& value() & {
    assert(ok());
    return std::get<T>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(state_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace kvik

// Early-return helpers. KVIK_RETURN_IF_ERROR(expr) for Status; KVIK_ASSIGN_OR_RETURN(lhs, expr) for
// Result<T> (lhs may be a declaration: `KVIK_ASSIGN_OR_RETURN(auto file, Open(path));`).
#define KVIK_RETURN_IF_ERROR(expr)            \
  do {                                        \
    ::kvik::Status kvik_status_ = (expr);     \
    if (!kvik_status_.ok()) return kvik_status_; \
  } while (0)

#define KVIK_CONCAT_INNER_(a, b) a##b
#define KVIK_CONCAT_(a, b) KVIK_CONCAT_INNER_(a, b)
#define KVIK_ASSIGN_OR_RETURN(lhs, expr) \
  KVIK_ASSIGN_OR_RETURN_IMPL_(KVIK_CONCAT_(kvik_result_, __LINE__), lhs, expr)
#define KVIK_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
