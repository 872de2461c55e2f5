#include "sys/input_wait.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "sys/proc_stat.h"

namespace corral::sys {
namespace {

// How many descriptors of one poll or select are looked at: past this a process waits on a
// crowd of sockets, not on its input, and each costs a stat.
constexpr unsigned long kMaxPolledFds = 1024;

// The major and minor of /dev/tty, the calling process's controlling terminal.
constexpr unsigned kTtyMajor = 5;
constexpr unsigned kTtyMinor = 0;

struct Syscall {
  long nr = -1;
  unsigned long args[6] = {};
};

// Parses /proc/PID/syscall: "NR ARG1 ... ARG6 SP PC" (NR in decimal, the rest in hex),
// "-1 SP PC" when blocked outside a system call, "running" when not blocked.
std::optional<Syscall> ParseSyscall(std::string_view text) {
  Syscall call;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), call.nr);
  if (ec != std::errc{} || call.nr < 0) return std::nullopt;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  for (unsigned long& arg : call.args) {
    if (!text.starts_with(" 0x")) return std::nullopt;
    text.remove_prefix(3);
    auto [arg_end, arg_ec] = std::from_chars(text.data(), text.data() + text.size(), arg, 16);
    if (arg_ec != std::errc{}) return std::nullopt;
    text.remove_prefix(static_cast<std::size_t>(arg_end - text.data()));
  }
  return call;
}

enum class Kind { kOther, kRead, kPoll, kSelect, kEpoll };

Kind KindOf(long nr) {
  switch (nr) {
    case SYS_read:
    case SYS_readv:
    case SYS_pread64:
    case SYS_preadv:
    case SYS_preadv2:
      return Kind::kRead;
#ifdef SYS_poll
    case SYS_poll:
#endif
    case SYS_ppoll:
      return Kind::kPoll;
#ifdef SYS_select
    case SYS_select:
#endif
    case SYS_pselect6:
      return Kind::kSelect;
#ifdef SYS_epoll_wait
    case SYS_epoll_wait:
#endif
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
    case SYS_epoll_pwait:
      return Kind::kEpoll;
    default:
      return Kind::kOther;
  }
}

// One thread of a process, and the buffers the probe reuses.
struct Probe {
  pid_t pid;
  pid_t tid;
  const FileIdentity& input;
  std::string& text;

  // True if descriptor `fd` of the thread is the input (or /dev/tty, for a terminal).
  bool IsInput(unsigned long fd) const {
    char path[80];
    std::snprintf(path, sizeof path, "/proc/%d/task/%d/fd/%lu", pid, tid, fd);
    struct stat st {};
    if (::stat(path, &st) != 0) return false;
    if (st.st_dev == input.dev && st.st_ino == input.ino) return true;
    return input.terminal && S_ISCHR(st.st_mode) && major(st.st_rdev) == kTtyMajor &&
           minor(st.st_rdev) == kTtyMinor;
  }

  bool ReadMemory(unsigned long address, void* buffer, std::size_t size) const {
    iovec local{buffer, size};
    iovec remote{reinterpret_cast<void*>(address), size};
    return ::process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(size);
  }

  bool PollsInput(unsigned long fds_address, unsigned long nfds) const {
    std::vector<pollfd> fds(std::min(nfds, kMaxPolledFds));
    if (fds.empty() || !ReadMemory(fds_address, fds.data(), fds.size() * sizeof(pollfd))) {
      return false;
    }
    for (const pollfd& p : fds) {
      if (p.fd >= 0 && (p.events & (POLLIN | POLLRDNORM)) && IsInput(p.fd)) return true;
    }
    return false;
  }

  bool SelectsInput(unsigned long nfds, unsigned long readfds_address) const {
    nfds = std::min(nfds, kMaxPolledFds);
    if (readfds_address == 0 || nfds == 0) return false;
    std::vector<unsigned char> bits((nfds + 7) / 8);
    if (!ReadMemory(readfds_address, bits.data(), bits.size())) return false;
    // The fd_set layout: bit fd % 8 of byte fd / 8 (an array of little-endian longs).
    for (unsigned long fd = 0; fd < nfds; ++fd) {
      if ((bits[fd / 8] >> (fd % 8) & 1) && IsInput(fd)) return true;
    }
    return false;
  }

  // /proc/PID/fdinfo/EPFD of an epoll descriptor has one line per watched file:
  // "tfd:        0 events:       19 data: ... pos:0 ino:4a2 sdev:f".
  bool EpollWatchesInput(unsigned long epfd) const {
    char path[80];
    std::snprintf(path, sizeof path, "/proc/%d/task/%d/fdinfo/%lu", pid, tid, epfd);
    if (!ReadProcFile(path, text)) return false;
    std::string_view rest = text;
    while (!rest.empty()) {
      const std::size_t eol = rest.find('\n');
      std::string_view line = rest.substr(0, eol);
      rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
      if (!line.starts_with("tfd:")) continue;
      unsigned long events = 0, ino = 0, sdev = 0;
      if (!HexAfter(line, "events:", events) || !HexAfter(line, " ino:", ino) ||
          !HexAfter(line, " sdev:", sdev)) {
        continue;
      }
      // sdev is the kernel's internal dev_t: major in the high 12 bits, minor in the low 20.
      const dev_t dev =
          makedev(static_cast<unsigned>(sdev >> 20), static_cast<unsigned>(sdev & 0xfffff));
      if ((events & POLLIN) && ino == input.ino && dev == input.dev) return true;
    }
    return false;
  }

  static bool HexAfter(std::string_view line, std::string_view key, unsigned long& value) {
    std::size_t at = line.find(key);
    if (at == std::string_view::npos) return false;
    line.remove_prefix(at + key.size());
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    return std::from_chars(line.data(), line.data() + line.size(), value, 16).ec == std::errc{};
  }

  // True if `call`, the system call the thread is blocked in, waits for the input.
  bool Waits(const Syscall& call) const {
    switch (KindOf(call.nr)) {
      case Kind::kRead:
        return IsInput(call.args[0]);
      case Kind::kPoll:
        return PollsInput(call.args[0], call.args[1]);
      case Kind::kSelect:
        return SelectsInput(call.args[0], call.args[1]);
      case Kind::kEpoll:
        return EpollWatchesInput(call.args[0]);
      case Kind::kOther:
        return false;
    }
    return false;
  }

  // For a thread of a multi-threaded process: its syscall, then (after a match) its state, as
  // a thread stopped while reading still shows the read in /proc/PID/task/TID/syscall.
  bool ThreadWaits() const {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", pid, tid);
    if (!ReadProcFile(path, text)) return false;
    auto call = ParseSyscall(text);
    if (!call || !Waits(*call)) return false;
    auto stat = ReadProcStat(pid, text, tid);
    return stat && stat->state == 'S';
  }
};

}  // namespace

std::optional<FileIdentity> IdentityOf(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::nullopt;
  return FileIdentity{st.st_dev, st.st_ino, S_ISCHR(st.st_mode) && ::isatty(fd) == 1};
}

InputWaitProbe::InputWaitProbe(pid_t pid) : pid_(pid) {
  if (pid <= 0) return;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  stat_.reset(::open(path, O_RDONLY | O_CLOEXEC));
}

bool InputWaitProbe::OpenSyscall() {
  if (syscall_) return true;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/syscall", pid_);
  syscall_.reset(::open(path, O_RDONLY | O_CLOEXEC));
  // A pid is not reused before its process is reaped: if our stat file still reads, the
  // process was alive after the open, so the file just opened is its own, not a stranger's.
  if (syscall_ && !RereadProcFile(stat_.get(), text_)) syscall_.reset();
  return static_cast<bool>(syscall_);
}

bool InputWaitProbe::WaitsForInput(const FileIdentity& input) {
  if (!valid() || !RereadProcFile(stat_.get(), text_)) return false;
  auto stat = ParseProcStat(text_);
  if (!stat) return false;
  if (stat->num_threads <= 1) {
    // The common case, and the cheapest: the one thread is the process, whose state we have.
    if (stat->state != 'S' || !OpenSyscall() || !RereadProcFile(syscall_.get(), text_)) {
      return false;
    }
    auto call = ParseSyscall(text_);
    return call && Probe{pid_, pid_, input, text_}.Waits(*call);
  }
  std::vector<pid_t> tids;
  if (!ListThreads(pid_, tids)) return false;
  for (pid_t tid : tids) {
    if (Probe{pid_, tid, input, text_}.ThreadWaits()) return true;
  }
  return false;
}

bool ProcessWaitsForInput(pid_t pid, const FileIdentity& input) {
  return InputWaitProbe(pid).WaitsForInput(input);
}

bool WaitingForInput(std::span<const pid_t> candidates, const FileIdentity& input) {
  for (pid_t pid : candidates) {
    if (ProcessWaitsForInput(pid, input)) return true;
  }
  return false;
}

}  // namespace corral::sys
