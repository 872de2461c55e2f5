#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace corral::base {

// What went wrong, in terms the api layer can map to a response. Domain code returns these;
// only api/ turns them into HTTP status codes.
enum class Code {
  kOk,
  kInvalidArgument,     // the caller asked for something malformed
  kNotFound,            // no such thing (or not visible to this caller)
  kFailedPrecondition,  // the thing exists but is in the wrong state
  kResourceExhausted,   // a configured cap was reached
  kUnavailable,         // the server is shutting down
  kInternal,            // the OS refused
};

// A small value type for errors, after LevelDB's: ok, or a code and a human-readable reason.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const { return std::get<Status>(v_); }
  T& value() { return std::get<T>(v_); }
  const T& value() const { return std::get<T>(v_); }
  T* operator->() { return &value(); }
  T& operator*() { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace corral::base
