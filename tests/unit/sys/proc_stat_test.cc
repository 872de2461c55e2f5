#include "sys/proc_stat.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace corral::sys {
namespace {

TEST(ProcStat, StartTimeIsReadPastACommandNameWithSpacesAndParentheses) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::prctl(PR_SET_NAME, "x) 1 2 (y");
    char c = 0;
    (void)!::write(ready[1], &c, 1);
    ::pause();
    _exit(0);
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  const auto ours = ProcessStartTime(::getpid());
  const auto theirs = ProcessStartTime(child);
  ASSERT_TRUE(ours && theirs);
  EXPECT_GE(*theirs, *ours) << "a child starts after its parent";
  EXPECT_EQ(ProcessStartTime(child), theirs) << "stable for the life of the process";
  // The same number through a pidfd-named process: still it.
  EXPECT_TRUE(static_cast<bool>(OpenPidfd(child)));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_FALSE(ProcessStartTime(child)) << "gone once reaped";
  EXPECT_FALSE(static_cast<bool>(OpenPidfd(child)));
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(ProcStat, StartTimeIsField22) {
  std::ifstream in("/proc/self/stat");  // our name has no spaces: fields split plainly
  std::string field;
  for (int i = 1; i <= 22; ++i) in >> field;
  EXPECT_EQ(ProcessStartTime(::getpid()), std::stoull(field));
}

TEST(ProcStat, ListAllProcessesIncludesOurselvesAndInit) {
  const auto all = ListAllProcesses();
  EXPECT_NE(std::find(all.begin(), all.end(), ::getpid()), all.end());
  EXPECT_NE(std::find(all.begin(), all.end(), 1), all.end());
}

}  // namespace
}  // namespace corral::sys
