#include "base/log.h"

#include <time.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <charconv>
#include <chrono>
#include <cmath>

namespace corral::base {
namespace {

LogLevel g_level = LogLevel::kInfo;
LogFormat g_format = LogFormat::kText;

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
  out += boost::json::serialize(boost::json::string_view(s.data(), s.size()));
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

std::string FormatLogLine(LogFormat format, std::int64_t unix_ms, LogLevel level,
                          std::string_view message, std::initializer_list<LogField> fields) {
  std::string line;
  line.reserve(128 + message.size());
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
    return line;
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
  std::string line = FormatLogLine(g_format, unix_ms, level, message, fields);
  line += '\n';
  // One write per line so concurrent writers never interleave inside a line.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace corral::base
