#pragma once

#include <string>
#include <string_view>
#include <system_error>

namespace corral::sys {

// Appends the whole file at `path` to `out` (/proc and cgroup files, whose size stat does not
// know). Errors as the kernel gives them; `out` keeps what was read before an error.
std::error_code ReadFile(const std::string& path, std::string& out);

// Writes `text` to the existing file at `path` in one write() (cgroup control files take one
// value per write). Errors as the kernel gives them.
std::error_code WriteFile(const std::string& path, std::string_view text);

}  // namespace corral::sys
