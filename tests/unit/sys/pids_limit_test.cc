#include "sys/pids_limit.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "sys/proc_files.h"

namespace corral::sys {
namespace {

// Regression: reading a command's cgroup.procs failed silently (an unreadable or missing cgroup
// looked like an empty one); Signal now says why it signalled nothing.
TEST(PidsLimit, SignalSaysWhenTheCgroupCannotBeReadAndCountsWhatItSignals) {
  std::string why;
  auto limit = PidsLimit::Create(why);
  if (!limit) GTEST_SKIP() << why;
  int signalled = -1;
  EXPECT_EQ(limit->Signal("never-prepared", SIGTERM, 0, signalled),
            std::errc::no_such_file_or_directory);
  EXPECT_EQ(signalled, 0);

  base::UniqueFd procs;
  ASSERT_FALSE(limit->Prepare("command", 16, procs));
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::write(procs.get(), "0", 1) != 1) _exit(1);
    ::pause();
    _exit(0);
  }
  procs.reset();
  std::string members;
  for (int i = 0; i < 500 && members.empty(); ++i) {
    members.clear();
    ReadFile(limit->PathOf("command") + "/cgroup.procs", members);
    if (members.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(members, std::to_string(child) + "\n");
  EXPECT_FALSE(limit->Signal("command", SIGKILL, 0, signalled));
  EXPECT_EQ(signalled, 1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_TRUE(limit->Remove("command"));
  EXPECT_EQ(limit->Signal("command", SIGKILL, 0, signalled), std::errc::no_such_file_or_directory);
}

}  // namespace
}  // namespace corral::sys
