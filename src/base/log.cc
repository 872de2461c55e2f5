#include "base/log.h"

#include <time.h>
#include <unistd.h>

#include <errno.h>

#include <boost/json/serializer.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <mutex>

namespace corral::base {
namespace {

LogLevel g_level = LogLevel::kInfo;
LogFormat g_format = LogFormat::kText;

// A batch is written at once past this size.
constexpr std::size_t kMaxBatch = 64 * 1024;

std::mutex g_mutex;               // guards what follows, and orders writes
std::function<void()> g_batcher;  // schedules FlushLog, if lines are batched
std::string g_batch;              // lines gathered since the last write

// Under g_mutex.
void WriteBatch() {
  std::string_view rest = g_batch;
  while (!rest.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // nowhere to say it
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  g_batch.clear();
}

std::string_view Name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

void AppendQuoted(std::string& out, std::string_view s) {
  thread_local boost::json::serializer serializer;
  serializer.reset(boost::json::string_view(s.data(), s.size()));
  char buf[256];
  while (!serializer.done()) out += serializer.read(buf);
}

// A value in text lines: bare when it is a plain word, else quoted as in JSON, so that a
// reader can split a line on spaces.
void AppendTextString(std::string& out, std::string_view s) {
  const bool bare = !s.empty() && s.find_first_of(" \t\r\n\"\\=") == std::string_view::npos;
  if (bare) {
    out += s;
  } else {
    AppendQuoted(out, s);
  }
}

void AppendValue(std::string& out, const LogField& f, bool json) {
  char buf[32];
  switch (f.type()) {
    case LogField::Type::kNull:
      out += json ? "null" : "-";
      return;
    case LogField::Type::kString:
      json ? AppendQuoted(out, f.string()) : AppendTextString(out, f.string());
      return;
    case LogField::Type::kInt: {
      auto r = std::to_chars(buf, buf + sizeof buf, f.integer());
      out.append(buf, r.ptr);
      return;
    }
    case LogField::Type::kReal: {
      if (!std::isfinite(f.real())) {
        out += json ? "null" : "-";
        return;
      }
      // Three decimals: durations are in milliseconds, a microsecond is the finest worth a log.
      auto r = std::to_chars(buf, buf + sizeof buf, f.real(), std::chars_format::fixed, 3);
      out.append(buf, r.ptr);
      return;
    }
    case LogField::Type::kBool:
      out += f.integer() ? "true" : "false";
      return;
  }
}

// RFC 3339 in UTC with milliseconds: 2026-01-02T03:04:05.678Z.
void AppendTimestamp(std::string& out, std::int64_t unix_ms) {
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  struct tm tm;
  ::gmtime_r(&seconds, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  out.append(buf, n);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03dZ", static_cast<int>(unix_ms % 1000));
  out += ms;
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level = level; }
void SetLogFormat(LogFormat format) { g_format = format; }
bool LogEnabled(LogLevel level) { return level >= g_level; }

namespace {

void AppendLogLine(std::string& line, LogFormat format, std::int64_t unix_ms, LogLevel level,
                   std::string_view message, std::initializer_list<LogField> fields) {
  if (format == LogFormat::kJson) {
    line += "{\"ts\":\"";
    AppendTimestamp(line, unix_ms);
    line += "\",\"level\":\"";
    line += Name(level);
    line += "\",\"msg\":";
    AppendQuoted(line, message);
    for (const auto& f : fields) {
      line += ',';
      AppendQuoted(line, f.key());
      line += ':';
      AppendValue(line, f, true);
    }
    line += '}';
    return;
  }
  line += "corral: ";
  line += Name(level);
  line += ": ";
  line += message;
  for (const auto& f : fields) {
    line += ' ';
    line += f.key();
    line += '=';
    AppendValue(line, f, false);
  }
}

}  // namespace

std::string FormatLogLine(LogFormat format, std::int64_t unix_ms, LogLevel level,
                          std::string_view message, std::initializer_list<LogField> fields) {
  std::string line;
  AppendLogLine(line, format, unix_ms, level, message, fields);
  return line;
}

void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  std::int64_t unix_ms = 0;
  if (g_format == LogFormat::kJson) {
    unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  }
  std::lock_guard lock(g_mutex);
  const bool first = g_batch.empty();
  AppendLogLine(g_batch, g_format, unix_ms, level, message, fields);
  g_batch += '\n';
  if (!g_batcher || level >= LogLevel::kWarning || g_batch.size() >= kMaxBatch) {
    WriteBatch();
  } else if (first) {
    g_batcher();
  }
}

void SetLogBatcher(std::function<void()> schedule_flush) {
  std::lock_guard lock(g_mutex);
  WriteBatch();
  g_batcher = std::move(schedule_flush);
}

void FlushLog() {
  std::lock_guard lock(g_mutex);
  WriteBatch();
}

}  // namespace corral::base
