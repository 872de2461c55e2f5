#include "sys/pids_limit.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "base/unique_fd.h"
#include "sys/proc_files.h"

namespace corral::sys {
namespace {

std::error_code Errno() { return {errno, std::system_category()}; }

// The mount point of the cgroup v1 hierarchy with the pids controller, or empty.
std::string PidsMount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    const auto dash = line.find(" - cgroup ");
    if (dash == std::string::npos) continue;
    const std::string options = line.substr(line.rfind(' ') + 1);
    if (("," + options + ",").find(",pids,") == std::string::npos) continue;
    std::istringstream fields(line.substr(0, dash));
    std::string skip, mount;
    fields >> skip >> skip >> skip >> skip >> mount;
    return mount;
  }
  return {};
}

// Our own cgroup in the pids hierarchy ("/" for the root), from /proc/self/cgroup.
std::string OwnPidsCgroup() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find(':');
    const auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = "," + line.substr(first + 1, second - first - 1) + ",";
    if (controllers.find(",pids,") != std::string::npos) return line.substr(second + 1);
  }
  return {};
}

// Sets `pids` to the processes in the cgroup `dir`. Errors as the kernel gives them (ENOENT
// once the cgroup is gone); `pids` is then empty, which does not mean the cgroup is.
std::error_code Procs(const std::string& dir, std::vector<pid_t>& pids) {
  pids.clear();
  std::string text;
  if (auto ec = ReadFile(dir + "/cgroup.procs", text)) return ec;
  std::istringstream in(text);
  for (pid_t pid; in >> pid;) pids.push_back(pid);
  return {};
}

}  // namespace

std::unique_ptr<PidsLimit> PidsLimit::Create(std::string& why) {
  const std::string mount = PidsMount();
  const std::string own = OwnPidsCgroup();
  if (mount.empty() || own.empty()) {
    why = "no cgroup v1 pids hierarchy is mounted";
    return nullptr;
  }
  std::unique_ptr<PidsLimit> limit(new PidsLimit);
  limit->root_ = mount + (own == "/" ? "" : own) + "/corral-" + std::to_string(::getpid());
  if (::mkdir(limit->root_.c_str(), 0755) != 0 && errno != EEXIST) {
    why = "cannot create " + limit->root_ + ": " + std::strerror(errno);
    return nullptr;
  }
  return limit;
}

PidsLimit::~PidsLimit() {
  // The commands' cgroups first, then ours; one still holding processes stays.
  if (DIR* dir = ::opendir(root_.c_str())) {
    while (dirent* e = ::readdir(dir)) {
      if (e->d_type == DT_DIR && e->d_name[0] != '.') ::rmdir((root_ + "/" + e->d_name).c_str());
    }
    ::closedir(dir);
  }
  ::rmdir(root_.c_str());
}

std::error_code PidsLimit::Prepare(const std::string& name, int max, base::UniqueFd& procs) {
  const std::string dir = PathOf(name);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Errno();
  std::error_code ec = WriteFile(dir + "/pids.max", std::to_string(max));
  if (!ec) {
    procs.reset(::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (!procs) ec = Errno();
  }
  if (ec) ::rmdir(dir.c_str());
  return ec;
}

std::error_code PidsLimit::Signal(const std::string& name, int sig, pid_t skip_pgid,
                                  int& signalled) {
  signalled = 0;
  std::vector<pid_t> pids;
  if (auto ec = Procs(PathOf(name), pids)) return ec;
  for (pid_t pid : pids) {
    if (skip_pgid > 0 && ::getpgid(pid) == skip_pgid) continue;
    // A pidfd first; then check the process is still in this cgroup, so a pid reused since
    // cgroup.procs was read is never signalled.
    base::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) continue;
    std::string cgroup;
    if (ReadFile("/proc/" + std::to_string(pid) + "/cgroup", cgroup)) continue;
    if (cgroup.find("/corral-" + std::to_string(::getpid()) + "/" + name + "\n") ==
        std::string::npos) {
      continue;
    }
    if (::syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0) == 0) ++signalled;
  }
  return {};
}

bool PidsLimit::Remove(const std::string& name) { return ::rmdir(PathOf(name).c_str()) == 0; }

}  // namespace corral::sys
