#include "proc/retention.h"

#include <gtest/gtest.h>

namespace corral::proc {
namespace {

using namespace std::chrono_literals;
using TimePoint = Retention::TimePoint;

const TimePoint kT0{std::chrono::hours(1)};

TEST(Retention, ForgetsEachProcessWhenItsRetentionIsOver) {
  Retention r(5min, 100);
  r.Add("a", kT0);
  r.Add("b", kT0 + 1min);
  EXPECT_EQ(r.NextDue(), kT0 + 5min);
  EXPECT_TRUE(r.TakeDue(kT0 + 5min - 1ms).empty());
  EXPECT_EQ(r.TakeDue(kT0 + 5min), std::vector<std::string>{"a"});
  EXPECT_EQ(r.NextDue(), kT0 + 6min);
  EXPECT_EQ(r.TakeDue(kT0 + 1h), std::vector<std::string>{"b"});
  EXPECT_FALSE(r.NextDue());
  EXPECT_EQ(r.size(), 0u);
}

TEST(Retention, PastTheCapTheOldestGoFirstAtOnce) {
  Retention r(5min, 1024);
  for (int i = 0; i < 1100; ++i) r.Add("p" + std::to_string(i), kT0 + std::chrono::seconds(i));
  const auto due = r.TakeDue(kT0);
  ASSERT_EQ(due.size(), 76u);
  EXPECT_EQ(due.front(), "p0");
  EXPECT_EQ(due.back(), "p75");
  EXPECT_EQ(r.size(), 1024u);
}

TEST(Retention, AddedOutOfOrderStillGoesOldestFirst) {
  Retention r(1min, 2);
  r.Add("late", kT0 + 10s);
  r.Add("early", kT0);  // a process restored from before
  r.Add("middle", kT0 + 5s);
  EXPECT_EQ(r.TakeDue(kT0), std::vector<std::string>{"early"});
}

TEST(Retention, RemovedProcessesAreNeverDue) {
  Retention r(1min, 10);
  r.Add("a", kT0);
  r.Remove("a");
  r.Remove("unknown");
  EXPECT_TRUE(r.TakeDue(kT0 + 1h).empty());
}

}  // namespace
}  // namespace corral::proc
