#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "base/unique_fd.h"

namespace corral::sys {

// Reads a whole /proc file into `out` (replacing its contents; its capacity is reused, so a
// caller that keeps one string allocates once): sys::ReadToEnd into an emptied string.
// Returns false if the file cannot be opened or read: ENOENT or ESRCH once the process is gone,
// EACCES without ptrace access to it.
bool ReadProcFile(const char* path, std::string& out);

// Reads the whole of the /proc file open at `fd` again, from its start, into `out`: a file kept
// open is read anew with one system call instead of three. A file of /proc/PID refers to that
// process for good: once it is gone, this fails (ESRCH) even if its pid was reused.
bool RereadProcFile(int fd, std::string& out);

// The fields of /proc/PID/stat that Corral uses (proc(5) numbers them from 1).
struct ProcStat {
  char state = '?';              // 3: R running, S sleeping, D disk sleep, T stopped, Z zombie...
  pid_t ppid = 0;                // 4
  pid_t pgrp = 0;                // 5: process group
  pid_t session = 0;             // 6
  pid_t tpgid = -1;              // 8: foreground group of its controlling terminal, -1 if none
  long num_threads = 0;          // 20
  std::uint64_t start_time = 0;  // 22: clock ticks after boot at which it started
};

// Parses the text of a /proc/PID/stat file. The second field, `(comm)`, may itself contain
// spaces and parentheses (a process names itself with prctl(PR_SET_NAME)): the fields after it
// are found after the *last* ')'. nullopt if the text is not in that format.
std::optional<ProcStat> ParseProcStat(std::string_view text);

// /proc/PID/stat of `pid`, or of thread `tid` of `pid` when tid > 0 (/proc/PID/task/TID/stat);
// nullopt if it is gone or unreadable. `scratch` is a buffer the caller may keep to avoid
// allocating on every call.
std::optional<ProcStat> ReadProcStat(pid_t pid, std::string& scratch, pid_t tid = 0);
std::optional<ProcStat> ReadProcStat(pid_t pid);

// When `pid` started, in clock ticks after boot (field 22 of /proc/PID/stat): with the pid it
// identifies a process for as long as the machine is up, since a pid reused by a later
// process gets a later start time. nullopt if there is no such process (or it is unreadable).
std::optional<std::uint64_t> ProcessStartTime(pid_t pid);

// The thread ids of `pid` (from /proc/PID/task) into `out`; false if it is gone.
bool ListThreads(pid_t pid, std::vector<pid_t>& out);

// `root` followed by all its living descendants (children, their children...), each once,
// from /proc/PID/task/TID/children (the children of every thread). A process that exits while
// this runs may be missing; one whose parent died and that was reparented (to a subreaper or
// init) is no longer a descendant. Empty if `root` is gone.
std::vector<pid_t> ProcessTree(pid_t root);

// The members of process group `pgid` among `pids` (zombies included), in their order; processes
// that are gone are left out. For a terminal, the members of its foreground group (see
// sys/pty.h ForegroundGroup) are the candidates for WaitingForInput.
std::vector<pid_t> GroupMembers(std::span<const pid_t> pids, pid_t pgid);

// Sets `out` to every process on the machine now (the numeric entries of /proc). For the
// one-time recovery scan only: ordinary work looks at our descendants. Errors as the kernel
// gives them when /proc cannot be listed (then `out` is empty or partial).
std::error_code ListAllProcesses(std::vector<pid_t>& out);

// pidfd_open(pid): a descriptor that names this one process (never a later one with its pid),
// close-on-exec. Empty when the process is gone or the kernel refuses.
base::UniqueFd OpenPidfd(pid_t pid);

}  // namespace corral::sys
