#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace corral::base {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// text: "corral: LEVEL: message key=value ..."; json: one object per line with "ts" (RFC 3339,
// UTC), "level", "msg" and the fields.
enum class LogFormat { kText, kJson };

// One named value of a structured line: a string, a whole number, a real number, a boolean, or
// null (absent). A string is referred to, not copied: it must outlive the Log call.
class LogField {
 public:
  enum class Type { kNull, kString, kInt, kReal, kBool };

  LogField(std::string_view key, std::nullptr_t) : key_(key) {}
  LogField(std::string_view key, std::string_view v) : key_(key), type_(Type::kString), s_(v) {}
  LogField(std::string_view key, const char* v) : LogField(key, std::string_view(v)) {}
  LogField(std::string_view key, const std::string& v) : LogField(key, std::string_view(v)) {}
  LogField(std::string_view key, bool v) : key_(key), type_(Type::kBool), i_(v) {}
  LogField(std::string_view key, double v) : key_(key), type_(Type::kReal), d_(v) {}
  template <typename Int>
  requires(std::is_integral_v<Int> && !std::is_same_v<Int, bool>)
      LogField(std::string_view key, Int v)
      : key_(key), type_(Type::kInt), i_(static_cast<std::int64_t>(v)) {}
  template <typename T>
  LogField(std::string_view key, const std::optional<T>& v)
      : LogField(v ? LogField(key, *v) : LogField(key, nullptr)) {}

  std::string_view key() const { return key_; }
  Type type() const { return type_; }
  std::string_view string() const { return s_; }
  std::int64_t integer() const { return i_; }
  double real() const { return d_; }

 private:
  std::string_view key_;
  Type type_ = Type::kNull;
  std::string_view s_;
  std::int64_t i_ = 0;
  double d_ = 0;
};

// Lines go to stderr (stdout is reserved for what scripts read), whole: lines are never cut
// or interleaved, whichever thread logs them. Default: text, info. Set both before the first
// line (they are not synchronised).
void SetLogLevel(LogLevel level);
void SetLogFormat(LogFormat format);
// True if a line at `level` would be written: callers skip building costly fields otherwise.
bool LogEnabled(LogLevel level);

void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});

// Without a batcher, each line is written as it is logged. With one, info and debug lines are
// gathered and `schedule_flush` is called when the first of a batch comes; it must make
// FlushLog run soon (a server posts it to its event loop, so a busy loop writes once per pass
// instead of once per request). Warnings and errors, and a batch past 64 KiB, are written at
// once, with what was gathered before them. An empty function removes the batcher, after
// writing what it gathered.
void SetLogBatcher(std::function<void()> schedule_flush);
// Writes what is gathered.
void FlushLog();

// Batches lines for its lifetime, then writes what is left.
class ScopedLogBatcher {
 public:
  explicit ScopedLogBatcher(std::function<void()> schedule_flush) {
    SetLogBatcher(std::move(schedule_flush));
  }
  ~ScopedLogBatcher() { SetLogBatcher({}); }
  ScopedLogBatcher(const ScopedLogBatcher&) = delete;
  ScopedLogBatcher& operator=(const ScopedLogBatcher&) = delete;
};

inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }
inline void LogDebug(std::string_view m) { Log(LogLevel::kDebug, m); }

// The line Log would write for these (without the newline), for tests. `unix_ms` is the time
// stamp in milliseconds since the epoch.
std::string FormatLogLine(LogFormat format, std::int64_t unix_ms, LogLevel level,
                          std::string_view message, std::initializer_list<LogField> fields);

}  // namespace corral::base
