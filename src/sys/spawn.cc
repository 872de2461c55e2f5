#include "sys/spawn.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>

#include "sys/fault.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace corral::sys {
namespace {

std::error_code Errno(int e) { return {e, std::system_category()}; }

// The child's stack: it runs only our setup code and execve.
constexpr std::size_t kChildStack = 64 * 1024;
// The kernel's sigset size (the C library's sigset_t is larger).
constexpr std::size_t kKernelSigsetBytes = 8;

// What the child needs, prepared by the parent (the child shares our memory until exec and must
// not allocate). `error` is how the child reports a failure before exec: the parent reads it once
// CLONE_VFORK lets it run again, that is after the exec or the child's exit.
struct ChildArgs {
  const SpawnSpec* spec;
  char* const* argv;
  char* const* envp;
  int stdin_read;    // kPipe: the read end of the input pipe
  int output_write;  // not kTty: the write end of the output pipe
  int error;
};

// Raw system calls only: the C library's wrappers may touch state we share with the parent.
[[noreturn]] void ChildFail(ChildArgs* a, long rc) {
  a->error = static_cast<int>(-rc);
  ::syscall(SYS_exit, 127);
  __builtin_unreachable();
}

long Check(long rc) { return rc < 0 ? -errno : rc; }

int ChildMain(void* arg) {
  auto* a = static_cast<ChildArgs*>(arg);
  const SpawnSpec& spec = *a->spec;
  // Every disposition back to default, including the C library's internal signals (32, 33)
  // that sigaction() refuses to touch: nothing we ignore (SIGPIPE) may be inherited. An
  // all-zero kernel sigaction is SIG_DFL with no flags, whatever the architecture's layout.
  unsigned char dfl[64] = {};
  for (int sig = 1; sig < _NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::syscall(SYS_rt_sigaction, sig, dfl, nullptr, kKernelSigsetBytes);
  }
  // A new session and process group: the command can be signalled as one, and never gets
  // the server's controlling terminal.
  if (long rc = Check(::syscall(SYS_setsid)); rc < 0) ChildFail(a, rc);

  // dup2 clears FD_CLOEXEC on the copies: only 0, 1 and 2 survive exec. REQUIRES (the server
  // guarantees it) that 0, 1 and 2 are open in the parent, so no source fd is below 3.
  auto dup_to = [a](int from, int to) {
    if (long rc = Check(::syscall(SYS_dup2, from, to)); rc < 0) ChildFail(a, rc);
  };
  if (spec.stdin_mode == StdinMode::kTty) {
    if (long rc = Check(::syscall(SYS_ioctl, spec.tty_slave, TIOCSCTTY, 0)); rc < 0) {
      ChildFail(a, rc);
    }
    for (int fd = 0; fd <= 2; ++fd) dup_to(spec.tty_slave, fd);
  } else {
    if (spec.stdin_mode == StdinMode::kPipe) {
      dup_to(a->stdin_read, STDIN_FILENO);
    } else {
      long null = Check(::syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC));
      if (null < 0) ChildFail(a, null);
      dup_to(static_cast<int>(null), STDIN_FILENO);
    }
    dup_to(a->output_write, STDOUT_FILENO);
    dup_to(a->output_write, STDERR_FILENO);
  }
  if (spec.v1_procs >= 0) {
    if (long rc = Check(::syscall(SYS_write, spec.v1_procs, "0", 1)); rc < 0) ChildFail(a, rc);
  }
  if (spec.nofile) {
    if (long rc = Check(::syscall(SYS_setrlimit, RLIMIT_NOFILE, &*spec.nofile)); rc < 0) {
      ChildFail(a, rc);
    }
  }
  if (long rc = Check(::syscall(SYS_chdir, spec.workdir.c_str())); rc < 0) ChildFail(a, rc);
  // Asio's sockets are not close-on-exec: close every other descriptor explicitly.
  if (long rc = Check(::syscall(SYS_close_range, 3U, ~0U, 0U)); rc < 0) ChildFail(a, rc);
  std::uint64_t none = 0;
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, kKernelSigsetBytes);
  ChildFail(a, Check(::syscall(SYS_execve, "/bin/sh", a->argv, a->envp)));
}

// clone3 with the child on its own stack, running fn(arg) and exiting with its result. The C
// library has no clone3 wrapper (2.36), and a child that returned from syscall() on a new stack
// would pop a return address that is not there: the branch to fn must happen in the same asm.
// Returns the child's pid, or -errno.
long Clone3(clone_args* args, int (*fn)(void*), void* arg) {
  long ret;
#if defined(__x86_64__)
  // The kernel preserves every register but rax, rcx and r11 across syscall.
  register long r12 asm("r12") = reinterpret_cast<long>(fn);
  register long r13 asm("r13") = reinterpret_cast<long>(arg);
  asm volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xor %%ebp, %%ebp\n\t"
      "mov %%r13, %%rdi\n\t"
      "call *%%r12\n\t"
      "mov %%eax, %%edi\n\t"
      "mov %[exit], %%eax\n\t"
      "syscall\n\t"
      "hlt\n\t"
      "1:\n\t"
      : "=a"(ret)
      : "a"(SYS_clone3), "D"(args), "S"(sizeof(clone_args)), "r"(r12),
        "r"(r13), [exit] "i"(SYS_exit)
      : "rcx", "r11", "memory");
#elif defined(__aarch64__)
  // The kernel preserves every register but x0 across svc.
  register long x0 asm("x0") = reinterpret_cast<long>(args);
  register long x1 asm("x1") = sizeof(clone_args);
  register long x8 asm("x8") = SYS_clone3;
  register long x9 asm("x9") = reinterpret_cast<long>(fn);
  register long x10 asm("x10") = reinterpret_cast<long>(arg);
  asm volatile(
      "svc #0\n\t"
      "cbnz x0, 1f\n\t"
      "mov x29, xzr\n\t"
      "mov x0, x10\n\t"
      "blr x9\n\t"
      "mov x8, %[exit]\n\t"
      "svc #0\n\t"
      "1:\n\t"
      : "+r"(x0)
      : "r"(x1), "r"(x8), "r"(x9), "r"(x10), [exit] "i"(SYS_exit)
      : "memory");
  ret = x0;
#else
#error "corral spawns through clone3 with hand-written entry code: x86_64 and aarch64 only"
#endif
  return ret;
}

// Blocks every signal, the C library's internal ones included, for its lifetime: no handler of
// ours may run in the child while it shares our memory.
class AllSignalsBlocked {
 public:
  AllSignalsBlocked() {
    std::uint64_t all = ~std::uint64_t{0};
    ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old_, kKernelSigsetBytes);
  }
  ~AllSignalsBlocked() {
    ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old_, nullptr, kKernelSigsetBytes);
  }

 private:
  std::uint64_t old_ = 0;
};

std::error_code MakePipe(base::UniqueFd& read_end, base::UniqueFd& write_end) {
  int fds[2];
  if (int e = TakeFault(Call::kPipe2)) return Errno(e);
  // O_CLOEXEC: no other child spawned meanwhile may inherit either end.
  if (::pipe2(fds, O_CLOEXEC) != 0) return Errno(errno);
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  return {};
}

}  // namespace

std::error_code Spawn(const SpawnSpec& spec, SpawnedChild& out) {
  base::UniqueFd output_read, output_write, input_read, input_write;
  if (spec.stdin_mode == StdinMode::kTty) {
    if (spec.tty_slave < 0) return Errno(EBADF);
  } else if (auto ec = MakePipe(output_read, output_write)) {
    return ec;
  }
  if (spec.stdin_mode == StdinMode::kPipe) {
    if (auto ec = MakePipe(input_read, input_write)) return ec;
  }

  std::vector<char*> envp;
  envp.reserve(spec.env.size() + 1);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"),
                  const_cast<char*>(spec.command.c_str()), nullptr};
  ChildArgs child_args{&spec, argv, envp.data(), input_read.get(), output_write.get(), 0};

  void* stack = ::mmap(nullptr, kChildStack, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return Errno(errno);
  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  args.stack = reinterpret_cast<std::uint64_t>(stack);
  args.stack_size = kChildStack;
  if (spec.cgroup_dir >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<std::uint64_t>(spec.cgroup_dir);
  }
  long pid;
  if (int e = TakeFault(Call::kSpawn)) {
    pid = -e;
  } else {
    AllSignalsBlocked blocked;
    pid = Clone3(&args, ChildMain, &child_args);
  }
  ::munmap(stack, kChildStack);
  if (pid < 0) return Errno(static_cast<int>(-pid));

  base::UniqueFd pidfd_owner(pidfd);  // pidfds are always close-on-exec
  if (child_args.error != 0) {        // it exited before exec: reap it, report why
    siginfo_t info{};
    ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED);
    return Errno(child_args.error);
  }
  for (int fd : {output_read.get(), input_write.get()}) {
    if (fd >= 0 && ::fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
      const int e = errno;
      ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
      siginfo_t info{};
      ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED);
      return Errno(e);
    }
  }
  out.pid = static_cast<pid_t>(pid);
  out.pidfd = std::move(pidfd_owner);
  out.output = std::move(output_read);
  out.input = std::move(input_write);
  return {};
}

}  // namespace corral::sys
