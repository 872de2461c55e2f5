#include "base/log.h"

#include <unistd.h>

#include <string>

namespace corral::base {
namespace {

LogLevel g_level = LogLevel::kInfo;

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

}  // namespace

void SetLogLevel(LogLevel level) { g_level = level; }

void Log(LogLevel level, std::string_view message) {
  if (level < g_level) return;
  std::string line = "corral: ";
  line += Name(level);
  line += ": ";
  line += message;
  line += '\n';
  // One write per line so concurrent writers never interleave inside a line.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace corral::base
