#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace corral::sys {

// How a child ended.
struct ExitStatus {
  int code = 0;    // exit code when !signaled
  int signal = 0;  // terminating signal when signaled
  bool signaled = false;
};

// Reports the exit of the child behind `pidfd` without reaping it (WNOWAIT): its zombie keeps
// the pid and the process group id pinned. Returns nullopt while it still runs.
std::optional<ExitStatus> PeekExit(int pidfd);

// Reaps the child behind `pidfd`. REQUIRES: it has exited (PeekExit returned a value), or
// `block` is set, which waits for the exit (use only right after killing it).
void ReapExited(int pidfd, bool block = false);

// Reaps `pid` if it has exited. REQUIRES: pid is our child and no one else reaps it.
// Returns true if it was reaped.
bool ReapIfExited(pid_t pid);

// True if some child of ours has exited and is not yet reaped (it may be a tracked leader).
// Cheap: one waitid(P_ALL, WNOWAIT) that reaps nothing.
bool AnyChildExited();

// Sets `out` to the pids of our direct children (including those the subreaper setting handed
// us), zombies included. Errors as the kernel gives them when /proc/self/task or a children file
// of a live thread cannot be read: then `out` may miss children, and an empty `out` does not
// mean there are none.
std::error_code ListChildren(std::vector<pid_t>& out);

// The process group of `pid`, or -1 if it is gone.
pid_t ProcessGroupOf(pid_t pid);

// kill(-pgid, sig). REQUIRES: some member of the group is unreaped by us, so that the pgid
// cannot have been reused by a stranger.
std::error_code SignalGroup(pid_t pgid, int sig);

// kill(pid, sig). REQUIRES: pid is our unreaped child.
std::error_code SignalChild(pid_t pid, int sig);

// Sets `out` to our descendants: our children, theirs, and so on (from
// /proc/PID/task/*/children). A descendant that exits meanwhile is simply missing. Errors: those
// of ListChildren (then `out` holds what could be found).
std::error_code ListDescendants(std::vector<pid_t>& out);

// Calls found(pid, pidfd, value) for every process of `candidates` whose environment has
// KEY=value. The pidfd is opened before the environment is read, so signalling through it
// reaches the process that was read, or nothing: never a stranger that reused its pid.
void ForEachWithEnvironment(
    const std::vector<pid_t>& candidates, std::string_view key,
    const std::function<void(pid_t, int pidfd, std::string_view value)>& found);

// pidfd_send_signal. Errors as the kernel gives them (ESRCH once the process is gone).
std::error_code SignalPidfd(int pidfd, int sig);

// Makes orphaned descendants reparent to this process instead of init.
std::error_code BecomeChildSubreaper();

}  // namespace corral::sys
