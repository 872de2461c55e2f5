#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <system_error>

#include "base/unique_fd.h"

namespace corral::sys {

// A per-command limit on processes through the cgroup v1 `pids` controller, for hybrid systems
// whose v2 hierarchy has no controllers (where it has, CgroupTree::LimitTasks does it for free):
// each command gets a cgroup of its own, `<ours>/corral-<pid>/<name>`, with `pids.max` set, so
// a fork bomb stops at the limit (its forks fail with EAGAIN) instead of exhausting the machine.
// v1 has no CLONE_INTO_CGROUP: the child moves itself in before exec (SpawnSpec::v1_procs).
class PidsLimit {
 public:
  // Sets up our parent cgroup; null, with `why` set, where the pids controller is not mounted
  // or not writable for us.
  static std::unique_ptr<PidsLimit> Create(std::string& why);
  // Removes every cgroup it made that is empty by then.
  ~PidsLimit();

  // Creates the cgroup `name` allowing `max` processes and opens its cgroup.procs for writing,
  // for the child to enter.
  std::error_code Prepare(const std::string& name, int max, base::UniqueFd& procs);
  // Signals every process in `name` but the members of group `skip_pgid`, through pidfds, and
  // sets `signalled` to how many. Errors: those of reading its cgroup.procs, as the kernel
  // gives them (ENOENT once `name` is removed); nothing was signalled then.
  std::error_code Signal(const std::string& name, int sig, pid_t skip_pgid, int& signalled);
  // Removes `name` if no process is left in it; false while some are.
  bool Remove(const std::string& name);
  // The directory of `name`, for tests and diagnostics.
  std::string PathOf(const std::string& name) const { return root_ + "/" + name; }

 private:
  PidsLimit() = default;
  std::string root_;  // our parent cgroup for commands
};

}  // namespace corral::sys
