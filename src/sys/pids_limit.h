#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <system_error>

namespace corral::sys {

// A per-command limit on processes, through the cgroup v1 `pids` controller: each command gets
// a cgroup of its own, `<ours>/corral-<pid>/<name>`, with `pids.max` set, so a fork bomb stops
// at the limit (its forks fail with EAGAIN) instead of exhausting the machine. (Under cgroup v2
// the "no internal processes" rule forbids the move-in-and-out below without a delegated
// subtree; not supported yet.)
class PidsLimit {
 public:
  // Sets up our parent cgroup; null, with `why` set, where the pids controller is not mounted
  // or not writable for us.
  static std::unique_ptr<PidsLimit> Create(std::string& why);
  // Removes every cgroup it made that is empty by then.
  ~PidsLimit();

  // Creates the cgroup `name` allowing `max` processes, and runs `spawn` with this process
  // moved into it, so that what it spawns starts there; then moves back. The limit counts this
  // process while it is inside, so it is raised by one for that moment.
  std::error_code SpawnInto(const std::string& name, int max,
                            const std::function<std::error_code()>& spawn);
  // Signals every process in `name` but the members of group `skip_pgid`, through pidfds;
  // returns how many.
  int Signal(const std::string& name, int sig, pid_t skip_pgid);
  // Removes `name` if no process is left in it; false while some are.
  bool Remove(const std::string& name);
  // The directory of `name`, for tests and diagnostics.
  std::string PathOf(const std::string& name) const { return root_ + "/" + name; }

 private:
  PidsLimit() = default;
  std::string root_;  // our parent cgroup for commands
  std::string home_;  // the cgroup we run in, to return to after each spawn
};

}  // namespace corral::sys
