#pragma once

#include <string>
#include <string_view>
#include <system_error>

namespace corral::sys {

// Appends the whole file at `path` to `out` (/proc and cgroup files, whose size stat does not
// know). Errors as the kernel gives them; `out` keeps what was read before an error.
std::error_code ReadFile(const std::string& path, std::string& out);

// Appends the whole content of the file open at `fd`, read from its start with pread (a /proc
// file kept open is generated anew when read from offset 0), to `out`: reads straight into the
// string's spare capacity, so a caller that reuses one string allocates once. Errors as the
// kernel gives them (ESRCH once the process a /proc/PID file names is gone).
std::error_code ReadToEnd(int fd, std::string& out);

// Writes `text` to the existing file at `path` in one write() (cgroup control files take one
// value per write). Errors as the kernel gives them.
std::error_code WriteFile(const std::string& path, std::string_view text);

}  // namespace corral::sys
