#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "base/unique_fd.h"

namespace corral::sys {

// Where the child's standard input comes from.
enum class StdinMode {
  kNull,  // /dev/null
  kPipe,  // a pipe whose write end the caller keeps (SpawnedChild::input)
  kTty,   // the pseudo-terminal `tty_slave`, also the controlling terminal and stdout/stderr
};

struct SpawnSpec {
  std::string command;           // run as `sh -c command`
  std::string workdir;           // must exist; the child starts there
  std::vector<std::string> env;  // "KEY=VALUE" entries, the child's whole environment
  StdinMode stdin_mode = StdinMode::kNull;
  int tty_slave = -1;  // REQUIRED with kTty: the terminal's slave side (the caller keeps it)
  // A cgroup v2 directory to start the child in (clone3's CLONE_INTO_CGROUP: it never runs
  // outside it); -1: our own cgroup.
  int cgroup_dir = -1;
  // A cgroup v1 `cgroup.procs` file, opened for writing, that the child enters before exec
  // (a v1 pids limit; v1 has nothing like CLONE_INTO_CGROUP); -1: none.
  int v1_procs = -1;
  // The open-file limit the child gets (the server raises its own; programs that select() need
  // the usual one back); nullopt: inherit ours.
  std::optional<rlimit> nofile;
};

// A started child: the leader of a new session and process group (pgid == pid).
struct SpawnedChild {
  pid_t pid = -1;
  base::UniqueFd pidfd;   // pins the pid: signals and waits go through it
  base::UniqueFd output;  // read end of stdout+stderr, non-blocking; unset with kTty
  base::UniqueFd input;   // write end of stdin with kPipe, non-blocking; unset otherwise
};

// Starts `sh -c spec.command` through clone3 (CLONE_VM | CLONE_VFORK, like posix_spawn, plus
// CLONE_PIDFD and CLONE_INTO_CGROUP): a new session and process group, default signal
// dispositions, an empty signal mask, stdout and stderr on one pipe (or the terminal), and no
// descriptor of ours above 2. The child is unreaped on return; the caller owns reaping it
// (through pidfd). On failure nothing is left behind: no process, no descriptor.
std::error_code Spawn(const SpawnSpec& spec, SpawnedChild& out);

}  // namespace corral::sys
