#pragma once

#include <sys/types.h>

#include <string>
#include <system_error>
#include <vector>

#include "base/unique_fd.h"

namespace corral::sys {

struct SpawnSpec {
  std::string command;           // run as `sh -c command`
  std::string workdir;           // must exist; the child starts there
  std::vector<std::string> env;  // "KEY=VALUE" entries, the child's whole environment
};

// A started child: the leader of a new session and process group (pgid == pid).
struct SpawnedChild {
  pid_t pid = -1;
  base::UniqueFd pidfd;   // pins the pid: signals and waits go through it
  base::UniqueFd output;  // read end of the child's stdout+stderr pipe, non-blocking
};

// Starts `sh -c spec.command` with posix_spawn: stdin from /dev/null, stdout and stderr on one
// pipe, a new session, default signal dispositions, an empty signal mask, and no descriptor of
// ours above 2. The child is unreaped on return; the caller owns reaping it (through pidfd).
// On failure nothing is left behind: no process, no descriptor.
std::error_code Spawn(const SpawnSpec& spec, SpawnedChild& out);

}  // namespace corral::sys
