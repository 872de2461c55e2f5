#pragma once

#include <sys/types.h>

#include <optional>
#include <span>
#include <string>

#include "base/unique_fd.h"

namespace corral::sys {

// What identifies an open file across processes: the device and inode of fstat(2), as stat of
// /proc/PID/fd/N shows it from any process that has it open.
struct FileIdentity {
  dev_t dev = 0;
  ino_t ino = 0;
  bool terminal = false;  // a character device that is a terminal (the pty slave)
  friend bool operator==(const FileIdentity& a, const FileIdentity& b) {
    return a.dev == b.dev && a.ino == b.ino;
  }
};

// The identity of the file open at `fd`: the write end of the command's stdin pipe (the same
// pipe as its read end) or the pty slave. nullopt if fstat fails.
std::optional<FileIdentity> IdentityOf(int fd);

// Whether `pid` is waiting for input from `input`, measured from /proc, not guessed from
// silence: true when some thread of `pid` is asleep (state S) in one of
//   - read, readv, pread64, preadv, preadv2 on a descriptor whose file is `input`;
//   - poll, ppoll with `input` among the descriptors it polls for POLLIN (the pollfd array is
//     read from the process's memory);
//   - select, pselect6 with `input` in its read set (read from the process's memory);
//   - epoll_wait, epoll_pwait, epoll_pwait2 on an epoll instance that watches `input` for
//     EPOLLIN (its watch list is in /proc/PID/fdinfo/EPFD). An epoll watching an epoll that
//     watches `input` is not followed.
// A wait on several files at once counts when `input` is one of them: the process would go on
// if input came. When `input` is a terminal, a descriptor on /dev/tty counts as it too (the
// candidates are members of the foreground group of `input`, whose /dev/tty it is): that is
// where password prompts read.
// False for a busy process (R), one sleeping in anything else (sleep, wait4, a read of another
// pipe or file), a stopped one (T: ^Z, or SIGTTIN after a read from the background), a zombie,
// one that is gone, and one whose /proc files or memory we may not read (EACCES: ptrace access
// is needed; Corral's own children are ours to read). 32-bit (compat) processes are not
// interpreted: false.
//
// A snapshot: the answer may change right after. Cost: one read of /proc/PID/stat for a
// running process; one more of /proc/PID/syscall for a sleeping single-threaded one; for a
// multi-threaded one, a listing of its tasks and one read of /proc/PID/task/TID/syscall per
// thread. A match costs one stat per candidate descriptor (one read of fdinfo for epoll), and
// one read of the thread's stat. InputWaitProbe keeps the files open between probes.
bool ProcessWaitsForInput(pid_t pid, const FileIdentity& input);

// ProcessWaitsForInput for one process probed again and again, with its /proc/PID/stat and
// (once it is first seen asleep) /proc/PID/syscall kept open, two descriptors: a probe then
// costs one pread of each instead of an open, a read and a close (about three times less).
// Keep one per process of a command for as long as it runs. The files refer to the process
// that was `pid` at construction: once it is gone, WaitsForInput is false for good, even if
// its pid is reused.
class InputWaitProbe {
 public:
  explicit InputWaitProbe(pid_t pid);

  pid_t pid() const { return pid_; }
  // False if the process was gone at construction (or its stat could not be opened, EMFILE
  // included): WaitsForInput is then always false.
  bool valid() const { return static_cast<bool>(stat_); }
  bool WaitsForInput(const FileIdentity& input);

 private:
  bool OpenSyscall();

  pid_t pid_;
  base::UniqueFd stat_;
  base::UniqueFd syscall_;
  std::string text_;  // reused between probes
};

// True if any of `candidates` waits for input from `input` (ProcessWaitsForInput). The
// candidates are, for a terminal, the members of its foreground process group (GroupMembers
// with ForegroundGroup); for a pipe, the processes of the command (ProcessTree).
bool WaitingForInput(std::span<const pid_t> candidates, const FileIdentity& input);

}  // namespace corral::sys
