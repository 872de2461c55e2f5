#include "sys/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "sys/child.h"

namespace corral::sys {
namespace {

extern "C" char** environ;

// Reads the child's output to EOF and returns it with its exit status, reaped.
std::pair<std::string, ExitStatus> Finish(SpawnedChild& child) {
  std::string out;
  for (;;) {
    pollfd p{child.output.get(), POLLIN, 0};
    ::poll(&p, 1, 10000);
    char buf[4096];
    ssize_t n = ::read(child.output.get(), buf, sizeof buf);
    if (n < 0 && errno == EAGAIN) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  pollfd p{child.pidfd.get(), POLLIN, 0};
  ::poll(&p, 1, 10000);
  auto status = PeekExit(child.pidfd.get());
  EXPECT_TRUE(status.has_value());
  ReapExited(child.pidfd.get());
  return {out, status.value_or(ExitStatus{})};
}

SpawnSpec Spec(std::string command) {
  return {std::move(command), "/", {"PATH=/usr/bin:/bin", "MARK=1"}};
}

TEST(Spawn, RunsShellCommandWithItsOwnEnvironmentAndWorkdir) {
  SpawnedChild child;
  ASSERT_FALSE(Spawn({"echo $MARK $HOME; pwd; exit 7", "/tmp", {"MARK=x"}}, child));
  auto [out, status] = Finish(child);
  EXPECT_EQ(out, "x\n/tmp\n");
  EXPECT_FALSE(status.signaled);
  EXPECT_EQ(status.code, 7);
}

TEST(Spawn, ChildLeadsANewSessionAndGroup) {
  SpawnedChild child;
  ASSERT_FALSE(Spawn(Spec("ps -o pid=,pgid=,sid= -p $$"), child));
  auto [out, status] = Finish(child);
  const std::string pid = std::to_string(child.pid);
  EXPECT_EQ(out.find(pid), out.find_first_not_of(' '));
  int a, b, c;
  ASSERT_EQ(std::sscanf(out.c_str(), "%d %d %d", &a, &b, &c), 3);
  EXPECT_EQ(a, child.pid);
  EXPECT_EQ(b, child.pid);
  EXPECT_EQ(c, child.pid);
}

TEST(Spawn, NoDescriptorOfOursLeaksIntoTheChild) {
  // Descriptors without close-on-exec, as Asio's sockets are.
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  int plain = ::open("/dev/null", O_RDONLY);
  SpawnedChild child;
  ASSERT_FALSE(Spawn(Spec(std::string(CORRAL_CHILD_HELPER) + " fds"), child));
  auto [out, status] = Finish(child);
  EXPECT_EQ(out, "0 1 2\n");
  ::close(sv[0]);
  ::close(sv[1]);
  ::close(plain);
}

TEST(Spawn, SignalDispositionsAndMaskAreReset) {
  // Ignored and blocked in the parent; default and unblocked in the child.
  auto old_handler = ::signal(SIGTERM, SIG_IGN);
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  ::sigprocmask(SIG_BLOCK, &block, &old_mask);
  SpawnedChild child;
  ASSERT_FALSE(Spawn(Spec("grep -E '^(SigIgn|SigBlk)' /proc/self/status"), child));
  auto [out, status] = Finish(child);
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  ::signal(SIGTERM, old_handler);
  EXPECT_EQ(out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST(Spawn, TheReadEndIsNonBlockingAndCloseOnExec) {
  SpawnedChild child;
  ASSERT_FALSE(Spawn(Spec("sleep 0.2"), child));
  EXPECT_TRUE(::fcntl(child.output.get(), F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(::fcntl(child.output.get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_TRUE(::fcntl(child.pidfd.get(), F_GETFD) & FD_CLOEXEC);
  Finish(child);
}

TEST(Spawn, AMissingWorkdirFailsWithNothingLeftBehind) {
  const int before = ::open("/dev/null", O_RDONLY);
  ::close(before);
  SpawnedChild child;
  auto ec = Spawn({"true", "/no/such/dir", {}}, child);
  EXPECT_EQ(ec, std::errc::no_such_file_or_directory);
  EXPECT_FALSE(child.pidfd);
  EXPECT_FALSE(child.output);
  const int after = ::open("/dev/null", O_RDONLY);
  ::close(after);
  EXPECT_EQ(after, before) << "no descriptor leaked";
}

TEST(Child, PeekExitLeavesTheZombieSoTheGroupStaysPinned) {
  SpawnedChild child;
  ASSERT_FALSE(Spawn(Spec("kill -TERM $$"), child));
  pollfd p{child.pidfd.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1);
  auto status = PeekExit(child.pidfd.get());
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->signaled);
  EXPECT_EQ(status->signal, SIGTERM);
  EXPECT_EQ(ProcessGroupOf(child.pid), child.pid) << "the zombie still exists";
  EXPECT_FALSE(SignalGroup(child.pid, 0)) << "its group can still be addressed";
  ReapExited(child.pidfd.get());
  EXPECT_EQ(ProcessGroupOf(child.pid), -1);
}

}  // namespace
}  // namespace corral::sys
