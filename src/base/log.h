#pragma once

#include <string_view>

namespace corral::base {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Lines go to stderr as "corral: LEVEL: message". stdout is reserved for what scripts read.
void SetLogLevel(LogLevel level);
void Log(LogLevel level, std::string_view message);

inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }
inline void LogDebug(std::string_view m) { Log(LogLevel::kDebug, m); }

}  // namespace corral::base
