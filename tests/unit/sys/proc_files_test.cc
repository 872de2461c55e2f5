#include "sys/proc_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <algorithm>

#include "base/unique_fd.h"
#include "sys/child.h"
#include "sys/proc_stat.h"
#include "test_process.h"

namespace corral::sys {
namespace {

using testing::TestProcess;

TEST(ReadFile, AppendsTheWholeFileAndReportsAMissingOne) {
  std::string text = "kept:";
  ASSERT_FALSE(ReadFile("/proc/self/status", text));
  EXPECT_TRUE(text.starts_with("kept:Name:")) << text.substr(0, 40);
  EXPECT_NE(text.find("\nPid:"), std::string::npos);
  std::string none = "kept";
  EXPECT_EQ(ReadFile("/proc/self/no-such-file", none), std::errc::no_such_file_or_directory);
  EXPECT_EQ(none, "kept");
}

// One reader serves both: a file kept open reads anew from its start each time, however large
// (/proc/self/maps of a test binary is well past one 4 KiB read).
TEST(ReadToEnd, RereadsAnOpenFileFromItsStartPastOneBuffer) {
  base::UniqueFd fd(::open("/proc/self/maps", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd);
  std::string first, second;
  ASSERT_FALSE(ReadToEnd(fd.get(), first));
  ASSERT_TRUE(RereadProcFile(fd.get(), second));
  EXPECT_GT(first.size(), 4096u);
  EXPECT_EQ(first.substr(0, 200), second.substr(0, 200));
  std::string via_path;
  ASSERT_TRUE(ReadProcFile("/proc/self/maps", via_path));
  EXPECT_EQ(first.substr(0, 200), via_path.substr(0, 200));
}

TEST(ListChildren, FindsAChildAndSaysWhenItCannotRead) {
  TestProcess child({"sleep", "30"}, {});
  std::vector<pid_t> children;
  ASSERT_FALSE(ListChildren(children));
  EXPECT_NE(std::find(children.begin(), children.end(), child.pid()), children.end());
  std::vector<pid_t> descendants;
  ASSERT_FALSE(ListDescendants(descendants));
  EXPECT_NE(std::find(descendants.begin(), descendants.end(), child.pid()), descendants.end());
}

TEST(ListAllProcesses, IncludesUsAndOurChild) {
  TestProcess child({"sleep", "30"}, {});
  std::vector<pid_t> all{-1};
  ASSERT_FALSE(ListAllProcesses(all));
  EXPECT_EQ(std::find(all.begin(), all.end(), -1), all.end()) << "replaced, not appended";
  EXPECT_NE(std::find(all.begin(), all.end(), ::getpid()), all.end());
  EXPECT_NE(std::find(all.begin(), all.end(), child.pid()), all.end());
}

}  // namespace
}  // namespace corral::sys
