#pragma once

#include <chrono>
#include <cstddef>

// Every default bound of the process layer, defined once: the server's options, the CLI's
// defaults and the tests refer to these.
namespace corral::proc {

// After a command's shell exits, how long its output may keep flowing (held by a background
// job) before the command is reported done anyway. DESIGN §2.
inline constexpr std::chrono::milliseconds kDrainGrace{5000};
// On shutdown, the time between SIGTERM and SIGKILL to what is left.
inline constexpr std::chrono::milliseconds kShutdownGrace{3000};
// How long a done process is remembered (404 afterwards).
inline constexpr std::chrono::milliseconds kDoneRetention{5 * 60 * 1000};
// At most this many done processes are remembered at any moment; past it the oldest are
// forgotten first, when the next one finishes.
inline constexpr std::size_t kMaxRetainedDone = 1024;
// A run deadline (StartSpec::timeout, DESIGN §7.3): SIGTERM when it passes, SIGKILL this long
// after to whatever of the command is left, as `signal terminate` then `kill` would.
inline constexpr std::chrono::milliseconds kDeadlineKillAfter{5000};
// The longest run deadline a start may ask for: a week. Longer is a client's mistake (a value in
// microseconds, or seconds taken for minutes), answered 400 rather than silently kept.
inline constexpr std::chrono::milliseconds kMaxRunTimeout{7LL * 24 * 60 * 60 * 1000};
// Commands that may run at once (leftovers of a done command count while they live).
inline constexpr std::size_t kMaxLive = 1024;

}  // namespace corral::proc
