#include "sys/child.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

#include "base/unique_fd.h"
#include "sys/proc_files.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace corral::sys {
namespace {

std::error_code Errno() { return {errno, std::system_category()}; }

int WaitPidfd(int pidfd, siginfo_t& info, int options) {
  info.si_pid = 0;
  int rc;
  do {
    rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, options);
  } while (rc != 0 && errno == EINTR);
  return rc;
}

// Appends the pids in a whitespace-separated /proc children file. Errors: the file's, ENOENT
// or ESRCH when its thread is gone (it has no children then).
std::error_code ReadPids(const std::string& path, std::vector<pid_t>& out) {
  std::string text;
  if (auto ec = ReadFile(path, text)) return ec;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    while (p < end && *p == ' ') ++p;
    pid_t pid = 0;
    auto [next, ec] = std::from_chars(p, end, pid);
    if (ec != std::errc{}) break;
    out.push_back(pid);
    p = next;
  }
  return {};
}

bool Gone(const std::error_code& ec) {
  return ec == std::errc::no_such_file_or_directory || ec == std::errc::no_such_process;
}

}  // namespace

std::optional<ExitStatus> PeekExit(int pidfd) {
  siginfo_t info{};
  if (WaitPidfd(pidfd, info, WEXITED | WNOWAIT | WNOHANG) != 0 || info.si_pid == 0) {
    return std::nullopt;
  }
  ExitStatus status;
  if (info.si_code == CLD_EXITED) {
    status.code = info.si_status;
  } else {
    status.signaled = true;
    status.signal = info.si_status;
  }
  return status;
}

void ReapExited(int pidfd, bool block) {
  siginfo_t info{};
  WaitPidfd(pidfd, info, WEXITED | (block ? 0 : WNOHANG));
}

bool ReapIfExited(pid_t pid) {
  siginfo_t info{};
  info.si_pid = 0;
  int rc;
  do {
    rc = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG);
  } while (rc != 0 && errno == EINTR);
  return rc == 0 && info.si_pid == pid;
}

bool AnyChildExited() {
  siginfo_t info{};
  info.si_pid = 0;
  int rc;
  do {
    rc = ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT);
  } while (rc != 0 && errno == EINTR);
  return rc == 0 && info.si_pid != 0;
}

std::error_code ListChildren(std::vector<pid_t>& out) {
  out.clear();
  // Children are listed per thread; read every task so no thread's children are missed.
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return Errno();
  std::error_code result;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    auto ec = ReadPids(std::string("/proc/self/task/") + entry->d_name + "/children", out);
    if (ec && !Gone(ec)) result = ec;  // a thread that exited meanwhile had no children
  }
  ::closedir(dir);
  return result;
}

pid_t ProcessGroupOf(pid_t pid) {
  pid_t pgid = ::getpgid(pid);
  return pgid < 0 ? -1 : pgid;
}

std::error_code SignalGroup(pid_t pgid, int sig) {
  if (pgid <= 1) return std::make_error_code(std::errc::invalid_argument);
  return ::kill(-pgid, sig) == 0 ? std::error_code{} : Errno();
}

std::error_code SignalChild(pid_t pid, int sig) {
  if (pid <= 1) return std::make_error_code(std::errc::invalid_argument);
  return ::kill(pid, sig) == 0 ? std::error_code{} : Errno();
}

std::error_code ListDescendants(std::vector<pid_t>& out) {
  const std::error_code result = ListChildren(out);
  // Breadth first: each process's children are appended as it is visited. Below our children a
  // read that fails means the process is gone (or no longer ours to read): it is skipped.
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::string task_dir = "/proc/" + std::to_string(out[i]) + "/task";
    DIR* dir = ::opendir(task_dir.c_str());
    if (dir == nullptr) continue;  // gone meanwhile
    while (dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.')
        (void)ReadPids(task_dir + "/" + entry->d_name + "/children", out);
    }
    ::closedir(dir);
  }
  return result;
}

void ForEachWithEnvironment(
    const std::vector<pid_t>& candidates, std::string_view key,
    const std::function<void(pid_t, int pidfd, std::string_view value)>& found) {
  std::string environ_text;
  for (pid_t pid : candidates) {
    base::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) continue;
    environ_text.clear();
    (void)ReadFile("/proc/" + std::to_string(pid) + "/environ", environ_text);  // gone: none
    // Entries are NUL-terminated "KEY=VALUE" strings.
    std::string_view rest = environ_text;
    while (!rest.empty()) {
      const std::size_t nul = rest.find('\0');
      std::string_view entry_text = rest.substr(0, nul);
      if (entry_text.size() > key.size() && entry_text.starts_with(key) &&
          entry_text[key.size()] == '=') {
        found(pid, pidfd.get(), entry_text.substr(key.size() + 1));
        break;
      }
      if (nul == std::string_view::npos) break;
      rest.remove_prefix(nul + 1);
    }
  }
}

std::error_code SignalPidfd(int pidfd, int sig) {
  return ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0 ? std::error_code{}
                                                                       : Errno();
}

std::error_code BecomeChildSubreaper() {
  return ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? std::error_code{} : Errno();
}

}  // namespace corral::sys
