#include "sys/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <string_view>

#include "sys/proc_files.h"

namespace corral::sys {
namespace {

std::error_code Errno() { return {errno, std::system_category()}; }

// The mount point of the cgroup v2 hierarchy, or empty.
std::string Cgroup2Mount() {
  std::string text;
  if (ReadFile("/proc/self/mountinfo", text)) return {};
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
    if (line.find(" - cgroup2 ") == std::string_view::npos) continue;
    // Fields: id parent major:minor root mount-point ...
    std::size_t start = 0;
    for (int field = 0; field < 4; ++field) start = line.find(' ', start) + 1;
    return std::string(line.substr(start, line.find(' ', start) - start));
  }
  return {};
}

// Our cgroup in the v2 hierarchy ("/" for its root), from the "0::" line of /proc/PID/cgroup.
std::string OwnCgroup(const std::string& proc_cgroup_file) {
  std::string text;
  if (ReadFile(proc_cgroup_file, text)) return {};
  const std::size_t at = text.rfind("0::", 0) == 0 ? 0 : text.find("\n0::");
  if (at == std::string::npos) return {};
  const std::size_t start = at == 0 ? 3 : at + 4;
  return text.substr(start, text.find('\n', start) - start);
}

std::error_code ReadProcs(const std::string& dir, std::vector<pid_t>& pids) {
  pids.clear();
  std::string text;
  if (auto ec = ReadFile(dir + "/cgroup.procs", text)) return ec;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    pid_t pid = 0;
    auto [next, ec] = std::from_chars(p, end, pid);
    if (ec != std::errc{}) break;
    pids.push_back(pid);
    p = next + 1;
  }
  return {};
}

}  // namespace

std::unique_ptr<CgroupTree> CgroupTree::Create(const std::string& instance, std::string& why) {
  const std::string mount = Cgroup2Mount();
  const std::string own = OwnCgroup("/proc/self/cgroup");
  if (mount.empty() || own.empty()) {
    why = "no cgroup v2 hierarchy is mounted";
    return nullptr;
  }
  std::unique_ptr<CgroupTree> tree(new CgroupTree);
  const std::string base = mount + (own == "/" ? "" : own);
  tree->relative_ = (own == "/" ? "" : own) + "/corral-" + instance;
  tree->root_ = mount + tree->relative_;
  if (::mkdir(tree->root_.c_str(), 0755) != 0 && errno != EEXIST) {
    why = "cannot create " + tree->root_ + ": " + std::strerror(errno);
    return nullptr;
  }
  if (::access((tree->root_ + "/cgroup.kill").c_str(), W_OK) != 0) {
    why = "the kernel has no cgroup.kill (Linux 5.14+)";
    ::rmdir(tree->root_.c_str());
    return nullptr;
  }
  // The pids controller for the commands' cgroups, where the hierarchy has it and the
  // no-internal-processes rule lets us hand it down (our cgroup is the root, or delegated
  // to us with our process kept out of it).
  tree->pids_controller_ = !WriteFile(base + "/cgroup.subtree_control", "+pids") &&
                           !WriteFile(tree->root_ + "/cgroup.subtree_control", "+pids");
  return tree;
}

CgroupTree::~CgroupTree() {
  if (DIR* dir = ::opendir(root_.c_str())) {
    while (dirent* e = ::readdir(dir)) {
      if (e->d_type == DT_DIR && e->d_name[0] != '.') ::rmdir((root_ + "/" + e->d_name).c_str());
    }
    ::closedir(dir);
  }
  ::rmdir(root_.c_str());
}

std::error_code CgroupTree::Make(const std::string& name, base::UniqueFd& dir) {
  const std::string path = PathOf(name);
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return Errno();
  dir.reset(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) {
    const std::error_code ec = Errno();
    ::rmdir(path.c_str());
    return ec;
  }
  return {};
}

std::error_code CgroupTree::LimitTasks(const std::string& name, int max) {
  if (!pids_controller_) return std::make_error_code(std::errc::not_supported);
  return WriteFile(PathOf(name) + "/pids.max", std::to_string(max));
}

std::error_code CgroupTree::Kill(const std::string& name) {
  return WriteFile(PathOf(name) + "/cgroup.kill", "1");
}

std::error_code CgroupTree::Signal(const std::string& name, int sig, int& signalled) {
  const std::string expected = "0::" + RelativePathOf(name) + "\n";
  signalled = 0;
  std::string membership;
  std::vector<pid_t> pids;
  if (auto ec = ReadProcs(PathOf(name), pids)) return ec;
  for (pid_t pid : pids) {
    base::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) continue;
    // The pidfd pins this process: if it is in the cgroup now, it is the one listed (a new
    // process only enters a command's cgroup by being forked inside it).
    membership.clear();
    if (ReadFile("/proc/" + std::to_string(pid) + "/cgroup", membership)) continue;
    if (membership.find(expected) == std::string::npos) continue;
    if (::syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0) == 0) ++signalled;
  }
  return {};
}

bool CgroupTree::Populated(const std::string& name) const {
  std::string events;
  if (auto ec = ReadFile(PathOf(name) + "/cgroup.events", events)) {
    return ec != std::errc::no_such_file_or_directory;
  }
  return events.find("populated 1") != std::string::npos;
}

std::error_code CgroupTree::Procs(const std::string& name, std::vector<pid_t>& out) const {
  return ReadProcs(PathOf(name), out);
}

bool CgroupTree::Remove(const std::string& name) { return ::rmdir(PathOf(name).c_str()) == 0; }

std::error_code KillCgroupTree(const std::string& dir) {
  // cgroup.kill covers the cgroup and everything below it.
  if (auto ec = WriteFile(dir + "/cgroup.kill", "1")) return ec;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_type == DT_DIR && e->d_name[0] != '.') KillCgroupTree(dir + "/" + e->d_name);
    }
    ::closedir(d);
  }
  return {};
}

}  // namespace corral::sys
