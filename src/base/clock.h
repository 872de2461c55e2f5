#pragma once

#include <chrono>
#include <cstdint>

namespace corral::base {

using SteadyClock = std::chrono::steady_clock;

// Seconds since the Unix epoch, as the wire protocol reports times.
inline std::int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace corral::base
