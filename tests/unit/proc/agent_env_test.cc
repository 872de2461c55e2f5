#include "proc/agent_env.h"

#include <gtest/gtest.h>

namespace corral::proc {
namespace {

TEST(AgentEnvironment, WithoutATerminalAsksForPlainOutput) {
  auto env = AgentEnvironment(false);
  EXPECT_EQ(env["TERM"], "dumb");
  EXPECT_EQ(env["NO_COLOR"], "1");
  EXPECT_EQ(env["GIT_TERMINAL_PROMPT"], "0");
  EXPECT_EQ(env["GIT_PAGER"], "cat");
  EXPECT_EQ(env["PAGER"], "cat");
  EXPECT_EQ(env["DEBIAN_FRONTEND"], "noninteractive");
  EXPECT_EQ(env["PYTHONUNBUFFERED"], "1");
  EXPECT_EQ(env["CI"], "1");
  EXPECT_EQ(env.size(), 8u);
}

TEST(AgentEnvironment, OnATerminalNamesAColourTerminalAndLeavesColourOn) {
  auto env = AgentEnvironment(true);
  EXPECT_EQ(env["TERM"], "xterm-256color");
  EXPECT_FALSE(env.contains("NO_COLOR"));
  EXPECT_EQ(env["CI"], "1");
}

}  // namespace
}  // namespace corral::proc
