#include "sys/proc_stat.h"

#include <sys/syscall.h>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "base/unique_fd.h"
#include "sys/proc_files.h"

namespace corral::sys {
namespace {

// Parses the unsigned or signed decimal number at the start of `text`, then skips one space.
template <typename T>
bool TakeNumber(std::string_view& text, T& value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{}) return false;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return true;
}

bool SkipField(std::string_view& text) {
  const std::size_t space = text.find(' ');
  if (space == std::string_view::npos) return false;
  text.remove_prefix(space + 1);
  return true;
}

// The pids listed in a /proc children file ("12 15 20 ").
std::vector<pid_t> ParsePids(std::string_view text) {
  std::vector<pid_t> pids;
  while (!text.empty()) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    pid_t pid = 0;
    if (!TakeNumber(text, pid)) break;
    pids.push_back(pid);
  }
  return pids;
}

}  // namespace

bool ReadProcFile(const char* path, std::string& out) {
  out.clear();
  base::UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  return fd && !ReadToEnd(fd.get(), out);
}

bool RereadProcFile(int fd, std::string& out) {
  out.clear();
  return !ReadToEnd(fd, out);
}

std::optional<ProcStat> ParseProcStat(std::string_view text) {
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
  // stime cutime cstime priority nice num_threads itrealvalue starttime ..."
  const std::size_t close = text.rfind(')');
  if (close == std::string_view::npos || text.find('(') > close) return std::nullopt;
  text.remove_prefix(close + 1);
  if (text.size() < 3 || text[0] != ' ') return std::nullopt;
  ProcStat stat;
  stat.state = text[1];
  text.remove_prefix(3);
  int tty_nr = 0;
  if (!TakeNumber(text, stat.ppid) || !TakeNumber(text, stat.pgrp) ||
      !TakeNumber(text, stat.session) || !TakeNumber(text, tty_nr) ||
      !TakeNumber(text, stat.tpgid)) {
    return std::nullopt;
  }
  for (int field = 9; field < 20; ++field) {
    if (!SkipField(text)) return std::nullopt;
  }
  if (!TakeNumber(text, stat.num_threads) || !SkipField(text) ||
      !TakeNumber(text, stat.start_time)) {
    return std::nullopt;
  }
  return stat;
}

std::optional<ProcStat> ReadProcStat(pid_t pid, std::string& scratch, pid_t tid) {
  char path[64];
  if (tid > 0) {
    std::snprintf(path, sizeof path, "/proc/%d/task/%d/stat", pid, tid);
  } else {
    std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  }
  if (pid <= 0 || !ReadProcFile(path, scratch)) return std::nullopt;
  return ParseProcStat(scratch);
}

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  std::string scratch;
  return ReadProcStat(pid, scratch);
}

std::optional<std::uint64_t> ProcessStartTime(pid_t pid) {
  auto stat = ReadProcStat(pid);
  if (!stat) return std::nullopt;
  return stat->start_time;
}

bool ListThreads(pid_t pid, std::vector<pid_t>& out) {
  out.clear();
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/task", pid);
  DIR* dir = ::opendir(path);
  if (dir == nullptr) return false;
  while (dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    pid_t tid = 0;
    if (TakeNumber(name, tid) && name.empty()) out.push_back(tid);
  }
  ::closedir(dir);
  return true;
}

std::vector<pid_t> ProcessTree(pid_t root) {
  std::vector<pid_t> tree;
  std::string text;
  if (root <= 0 || !ReadProcStat(root, text)) return tree;
  tree.push_back(root);
  std::vector<pid_t> tids;
  // Breadth first; `tree` doubles as the queue. /proc is read while processes come and go, so
  // a pid could show up twice (a child reparented between two reads): it is kept once.
  for (std::size_t next = 0; next < tree.size(); ++next) {
    const pid_t pid = tree[next];
    // Children are listed per thread. Most processes have one thread, whose id is the pid:
    // reading the task directory only for the others saves an opendir per process.
    auto stat = ReadProcStat(pid, text);
    if (!stat) continue;
    if (stat->num_threads > 1) {
      if (!ListThreads(pid, tids)) continue;
    } else {
      tids.assign(1, pid);
    }
    for (pid_t tid : tids) {
      char path[64];
      std::snprintf(path, sizeof path, "/proc/%d/task/%d/children", pid, tid);
      if (!ReadProcFile(path, text)) continue;
      for (pid_t child : ParsePids(text)) {
        if (std::find(tree.begin(), tree.end(), child) == tree.end()) tree.push_back(child);
      }
    }
  }
  return tree;
}

std::vector<pid_t> GroupMembers(std::span<const pid_t> pids, pid_t pgid) {
  std::vector<pid_t> members;
  std::string scratch;
  for (pid_t pid : pids) {
    auto stat = ReadProcStat(pid, scratch);
    if (stat && stat->pgrp == pgid) members.push_back(pid);
  }
  return members;
}

std::error_code ListAllProcesses(std::vector<pid_t>& out) {
  out.clear();
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return {errno, std::system_category()};
  errno = 0;
  while (dirent* entry = ::readdir(dir)) {
    pid_t pid = 0;
    const std::string_view name = entry->d_name;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec == std::errc{} && end == name.data() + name.size() && pid > 0) out.push_back(pid);
  }
  const std::error_code result(errno, std::system_category());  // readdir's, if it failed
  ::closedir(dir);
  return result;
}

base::UniqueFd OpenPidfd(pid_t pid) {
  if (pid <= 0) return base::UniqueFd();
  // pidfd_open's descriptors are close-on-exec already.
  return base::UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

}  // namespace corral::sys
