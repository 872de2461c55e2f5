#include "sys/proc_stat.h"

#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>
#include <string>
#include <string_view>

#include "sys/proc_files.h"

namespace corral::sys {

std::optional<std::uint64_t> ProcessStartTime(pid_t pid) {
  std::string stat;
  if (ReadFile("/proc/" + std::to_string(pid) + "/stat", stat)) return std::nullopt;
  const std::size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  // After ") " come field 3 (state) onwards; the start time is field 22.
  std::string_view rest = std::string_view(stat).substr(close + 1);
  for (int field = 3; field < 22; ++field) {
    const std::size_t space = rest.find(' ', 1);
    if (space == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(space);
  }
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  std::uint64_t start = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), start);
  if (ec != std::errc{}) return std::nullopt;
  return start;
}

std::vector<pid_t> ListAllProcesses() {
  std::vector<pid_t> pids;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return pids;
  while (dirent* entry = ::readdir(dir)) {
    pid_t pid = 0;
    const std::string_view name = entry->d_name;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec == std::errc{} && end == name.data() + name.size() && pid > 0) pids.push_back(pid);
  }
  ::closedir(dir);
  return pids;
}

base::UniqueFd OpenPidfd(pid_t pid) {
  if (pid <= 0) return base::UniqueFd();
  // pidfd_open's descriptors are close-on-exec already.
  return base::UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

}  // namespace corral::sys
