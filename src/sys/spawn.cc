#include "sys/spawn.h"

#include "sys/fault.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>

namespace corral::sys {
namespace {

std::error_code Errno(int e) { return {e, std::system_category()}; }

// RAII for the two posix_spawn attribute objects.
struct SpawnAttrs {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnAttrs() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnAttrs() {
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
  }
};

}  // namespace

std::error_code Spawn(const SpawnSpec& spec, SpawnedChild& out) {
  int fds[2];
  if (int e = TakeFault(Call::kPipe2)) return Errno(e);
  // O_CLOEXEC: no other child spawned meanwhile may inherit either end.
  if (::pipe2(fds, O_CLOEXEC) != 0) return Errno(errno);
  base::UniqueFd read_end(fds[0]);
  base::UniqueFd write_end(fds[1]);

  SpawnAttrs a;
  int rc = 0;
  auto check = [&rc](int r) {
    if (rc == 0) rc = r;
  };
  check(posix_spawn_file_actions_addopen(&a.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0));
  // dup2 clears FD_CLOEXEC on the copies, so only 1 and 2 survive exec.
  check(posix_spawn_file_actions_adddup2(&a.actions, write_end.get(), STDOUT_FILENO));
  check(posix_spawn_file_actions_adddup2(&a.actions, write_end.get(), STDERR_FILENO));
  // Asio's sockets are not close-on-exec: close every other fd in the child explicitly.
  check(posix_spawn_file_actions_addclosefrom_np(&a.actions, STDERR_FILENO + 1));
  check(posix_spawn_file_actions_addchdir_np(&a.actions, spec.workdir.c_str()));

  sigset_t all, none;
  sigfillset(&all);
  // sigfillset leaves out glibc's internal signals (32 and 33, for thread cancellation and
  // setxid), and posix_spawn then leaves them SIG_IGN in the child, ignored across exec by
  // everything it runs. Add them by hand: the child starts with every disposition default.
  for (int sig = SIGRTMIN - 2; sig < SIGRTMIN; ++sig) {
    if (sig > 0 && !sigismember(&all, sig)) {
      all.__val[(sig - 1) / (8 * sizeof(unsigned long))] |=
          1UL << ((sig - 1) % (8 * sizeof(unsigned long)));
    }
  }
  sigemptyset(&none);
  // SETSIGDEF with every signal: dispositions we ignore (SIGPIPE) must not be inherited.
  check(posix_spawnattr_setsigdefault(&a.attr, &all));
  check(posix_spawnattr_setsigmask(&a.attr, &none));
  // SETSID: a new session and process group, so the whole command can be signalled as one and
  // it never gets the server's controlling terminal.
  check(posix_spawnattr_setflags(
      &a.attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK));
  if (rc != 0) return Errno(rc);

  std::vector<char*> envp;
  envp.reserve(spec.env.size() + 1);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"),
                  const_cast<char*>(spec.command.c_str()), nullptr};

  pid_t pid;
  if (int e = TakeFault(Call::kPosixSpawn)) return Errno(e);
  rc = posix_spawn(&pid, "/bin/sh", &a.actions, &a.attr, argv, envp.data());
  if (rc != 0) return Errno(rc);
  write_end.reset();

  // Safe right after spawn: the child stays unreaped (a zombie at worst) until we wait for it,
  // so this pid cannot name anyone else yet.
  // Through syscall(): glibc 2.36's <sys/pidfd.h> lacks the extern "C" that C++ needs.
  int pidfd = -1;
  if (int e = TakeFault(Call::kPidfdOpen)) {
    errno = e;
  } else {
    pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  }
  if (pidfd < 0) {
    int e = errno;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return Errno(e);
  }
  base::UniqueFd pidfd_owner(pidfd);  // pidfds are always close-on-exec
  if (::fcntl(read_end.get(), F_SETFL, O_NONBLOCK) != 0) {
    int e = errno;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return Errno(e);
  }

  out.pid = pid;
  out.pidfd = std::move(pidfd_owner);
  out.output = std::move(read_end);
  return {};
}

}  // namespace corral::sys
