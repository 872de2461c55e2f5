#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "base/unique_fd.h"

namespace corral::sys {

// Corral's subtree of a writable cgroup v2 hierarchy (DESIGN §7.8): `<ours>/corral-<instance>`,
// with one cgroup per command below it. A command is started straight into its cgroup
// (SpawnSpec::cgroup_dir), so whatever it starts stays inside, escapees (`setsid`, `env -i`)
// included: the cgroup is how its processes are found, signalled and counted.
class CgroupTree {
 public:
  // Finds the cgroup v2 hierarchy (/sys/fs/cgroup on a pure v2 system, the controller-less
  // /sys/fs/cgroup/unified of a hybrid one) and creates our subtree under our own cgroup. Null,
  // with `why` set, where there is none we can write to, or the kernel lacks cgroup.kill.
  static std::unique_ptr<CgroupTree> Create(const std::string& instance, std::string& why);
  // Removes every command cgroup that is empty by then, and the subtree if it is empty.
  ~CgroupTree();

  // Creates the cgroup of command `name` and opens its directory for CLONE_INTO_CGROUP.
  std::error_code Make(const std::string& name, base::UniqueFd& dir);
  // Limits `name` to `max` tasks through the v2 pids controller. ENOTSUP where the controller
  // is not available in this hierarchy.
  std::error_code LimitTasks(const std::string& name, int max);
  // SIGKILL to every process in `name`, atomically (cgroup.kill): nothing can escape or be
  // missed, and no pid is ever named, so no stranger can be hit.
  std::error_code Kill(const std::string& name);
  // Sends `sig` to every process in `name`, each through a pidfd opened before its membership
  // is checked, so a pid reused since cgroup.procs was read is never signalled. Returns how
  // many were signalled. Errors: those of Procs (nothing was signalled).
  std::error_code Signal(const std::string& name, int sig, int& signalled);
  // True while some process is in `name` (cgroup.events `populated`); false once the cgroup is
  // empty or gone. True as well when cgroup.events cannot be read for another reason: an
  // unreadable cgroup is never taken for an empty one.
  bool Populated(const std::string& name) const;
  // Sets `out` to the processes in `name` now (cgroup.procs). Errors as the kernel gives them
  // (ENOENT once the cgroup is gone); `out` is then empty, which does not mean it is.
  std::error_code Procs(const std::string& name, std::vector<pid_t>& out) const;
  // Removes the cgroup of `name`; false while processes are left in it.
  bool Remove(const std::string& name);

  // The directory of `name`, and its path as /proc/PID/cgroup names it.
  std::string PathOf(const std::string& name) const { return root_ + "/" + name; }
  std::string RelativePathOf(const std::string& name) const { return relative_ + "/" + name; }
  const std::string& root() const { return root_; }
  bool pids_controller() const { return pids_controller_; }

 private:
  CgroupTree() = default;
  std::string root_;      // <mount><our cgroup>/corral-<instance>
  std::string relative_;  // the same, as a path inside the hierarchy
  bool pids_controller_ = false;
};

// Kills every process of cgroup `dir` (an absolute path in a v2 hierarchy) and of all the
// cgroups below it through cgroup.kill, then removes them once empty. For the cgroups that a
// server left behind when it died (DESIGN §7.4). Errors as the kernel gives them.
std::error_code KillCgroupTree(const std::string& dir);

}  // namespace corral::sys
