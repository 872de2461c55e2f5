#include "sys/nofile_limit.h"

#include <gtest/gtest.h>

namespace corral::sys {
namespace {

TEST(NofileLimit, RaisesTheSoftLimitToTheHardOneAndRemembersTheOriginal) {
  rlimit before;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  if (before.rlim_max < 64) GTEST_SKIP() << "hard limit too low to lower the soft one";
  rlimit lowered = before;
  lowered.rlim_cur = 60;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);

  ASSERT_FALSE(RaiseNofileLimit());
  rlimit now;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, now.rlim_max);
  EXPECT_EQ(OriginalNofileLimit().rlim_cur, 60u);
  EXPECT_EQ(OriginalNofileLimit().rlim_max, before.rlim_max);

  // A second call does not record the raised value as the original.
  ASSERT_FALSE(RaiseNofileLimit());
  EXPECT_EQ(OriginalNofileLimit().rlim_cur, 60u);
  ::setrlimit(RLIMIT_NOFILE, &before);
}

}  // namespace
}  // namespace corral::sys
