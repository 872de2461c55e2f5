#include "sys/proc_stat.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <algorithm>
#include <fstream>

#include "test_process.h"

namespace corral::sys {
namespace {

using namespace std::chrono_literals;

using testing::Eventually;
using testing::TestProcess;

std::string Comm(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

TEST(ParseProcStat, FindsTheFieldsAfterACommWithSpacesAndParentheses) {
  const std::string text =
      "4242 (a) (b c)) R 17 4242 4200 34816 4242 4194560 110 0 0 0 3 1 0 0 20 0 1 0 "
      "987654321 2367488 214 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  auto stat = ParseProcStat(text);
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->state, 'R');
  EXPECT_EQ(stat->ppid, 17);
  EXPECT_EQ(stat->pgrp, 4242);
  EXPECT_EQ(stat->session, 4200);
  EXPECT_EQ(stat->tpgid, 4242);
  EXPECT_EQ(stat->num_threads, 1);
  EXPECT_EQ(stat->start_time, 987654321u);
}

TEST(ParseProcStat, RejectsWhatIsNotAStatLine) {
  EXPECT_FALSE(ParseProcStat(""));
  EXPECT_FALSE(ParseProcStat("12 (x"));
  EXPECT_FALSE(ParseProcStat("12 (x) S 1 2"));
  EXPECT_FALSE(ParseProcStat("12 x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"));
}

TEST(ProcessStartTime, SurvivesACommWithParenthesesAndSpaces) {
  // Only a process may rename itself: this test renames its own main thread for a moment.
  char name[16] = {};
  ASSERT_EQ(::prctl(PR_GET_NAME, name), 0);
  const auto before = ProcessStartTime(::getpid());
  ASSERT_TRUE(before);
  ASSERT_EQ(::prctl(PR_SET_NAME, "x) (y ) S 1 2"), 0);
  const std::string renamed = Comm(::getpid());
  const auto after = ProcessStartTime(::getpid());
  const auto stat = ReadProcStat(::getpid());
  ::prctl(PR_SET_NAME, name);
  ASSERT_EQ(renamed, "x) (y ) S 1 2");
  EXPECT_EQ(after, before);
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->state, 'R');  // it is us, reading
  EXPECT_EQ(stat->ppid, ::getppid());
  EXPECT_EQ(stat->pgrp, ::getpgrp());
  EXPECT_EQ(stat->session, ::getsid(0));
}

TEST(ProcessStartTime, IsNotBeforeOursAndIsGoneWithTheProcess) {
  const auto ours = ProcessStartTime(::getpid());
  ASSERT_TRUE(ours);
  pid_t pid;
  {
    TestProcess sleeper({"sleep", "100"}, {});
    pid = sleeper.pid();
    const auto theirs = ProcessStartTime(pid);
    ASSERT_TRUE(theirs);
    EXPECT_GE(*theirs, *ours);
  }
  EXPECT_FALSE(ProcessStartTime(pid));
  EXPECT_FALSE(ProcessStartTime(0));
  EXPECT_FALSE(ProcessStartTime(-1));
}

TEST(ProcessTree, ListsChildrenAndGrandchildrenAfterTheRoot) {
  TestProcess root({"sh", "-c", "sleep 100 & sh -c 'sleep 100 & sleep 100; true' & wait"}, {});
  std::vector<pid_t> tree;
  ASSERT_TRUE(Eventually([&] {
    tree = ProcessTree(root.pid());
    return tree.size() == 5;
  })) << tree.size();
  EXPECT_EQ(tree.front(), root.pid());
  // Every other member's parent is in the tree before it.
  for (std::size_t i = 1; i < tree.size(); ++i) {
    auto stat = ReadProcStat(tree[i]);
    ASSERT_TRUE(stat);
    EXPECT_NE(std::find(tree.begin(), tree.begin() + i, stat->ppid), tree.begin() + i);
  }
  std::vector<pid_t> sorted = tree;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
}

TEST(ProcessTree, FindsChildrenStartedByAnotherThread) {
  TestProcess root({"python3", "-c",
                    "import subprocess, threading\n"
                    "t = threading.Thread(target=subprocess.run, args=(['sleep', '100'],))\n"
                    "t.start(); t.join()\n"},
                   {});
  std::vector<pid_t> tree;
  ASSERT_TRUE(Eventually([&] {
    tree = ProcessTree(root.pid());
    return tree.size() == 2 && Comm(tree[1]) == "sleep";
  })) << tree.size();
}

TEST(ProcessTree, IsEmptyForAProcessThatIsGone) {
  pid_t pid;
  {
    TestProcess gone({"true"}, {});
    pid = gone.pid();
    gone.Wait();
  }
  EXPECT_TRUE(ProcessTree(pid).empty());
}

TEST(GroupMembers, KeepsOnlyTheMembersOfTheGroup) {
  TestProcess a({"sh", "-c", "sleep 100 & wait"}, {});
  TestProcess b({"sleep", "100"}, {});
  std::vector<pid_t> tree;
  ASSERT_TRUE(Eventually([&] { return (tree = ProcessTree(a.pid())).size() == 2; }));
  // b leads its group only once its setsid ran, which the fork does not wait for.
  ASSERT_TRUE(Eventually([&] { return ::getpgid(b.pid()) == b.pid(); }));
  std::vector<pid_t> all = tree;
  all.push_back(b.pid());
  all.push_back(::getpid());
  EXPECT_EQ(GroupMembers(all, a.pid()), tree);
  EXPECT_EQ(GroupMembers(all, b.pid()), std::vector<pid_t>{b.pid()});
  EXPECT_TRUE(GroupMembers(all, 999999999).empty());
}

}  // namespace
}  // namespace corral::sys
