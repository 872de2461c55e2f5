// Issue "Safe under careless agents", the process side, through the real binary: bounded memory
// under a start loop, commands tracked whatever they do, background jobs that outlive the
// drain grace, leftovers that count against the cap.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "harness.h"

namespace corral::testing {
namespace {

namespace json = boost::json;

TEST(Careless, AStartLoopLeavesAtMostTheCapOfDoneProcesses) {
  // The default cap is 1,024 (bench/ runs 3,000 commands against it and measures the memory);
  // a smaller one keeps this test short.
  Server server({.args = {"--max-done", "50"}});
  // Each command prints 40 KB and is read once, as an agent loop would.
  const std::string command = kHelper + " print 40000";
  for (int i = 0; i < 150; ++i) {
    auto out = server.WaitOutput(server.Start(command));
    ASSERT_EQ(out.at("exit_code").as_int64(), 0);
    ASSERT_LE(server.Health().at("processes").as_int64(), 50) << "the cap holds at all times";
  }
  EXPECT_EQ(server.Health().at("processes").as_int64(), 50);
}

TEST(Careless, KillEndsAnEscapeeThatLeftTheGroupAndTheEnvironment) {
  Server server;
  if (server.Health().at("tracking").as_string() != "cgroup") {
    GTEST_SKIP() << "no writable cgroup v2 hierarchy on this machine";
  }
  const std::string dir = TempDir();
  const std::string id = server.Start("(env -i setsid sh -c 'echo $$ > " + dir +
                                      "/pid; exec sleep 301' >/dev/null 2>&1 &); sleep 300");
  const pid_t escapee = ReadPid(dir + "/pid");
  ASSERT_GT(escapee, 0);
  ASSERT_TRUE(Alive(escapee));
  auto r = server.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Eventually([&] { return !Alive(escapee); }, std::chrono::seconds(2)));
  auto out = server.WaitOutput(id);
  EXPECT_EQ(out.at("exit_signal").as_string(), "SIGKILL");
  EXPECT_EQ(out.at("ended_by").as_string(), "client");
}

TEST(Careless, ABackgroundJobLivesPastTheDrainGraceWithoutSigpipe) {
  Server server({.args = {"--drain-grace", "300ms"}});
  const std::string marker = TempDir() + "/marker";
  const std::string id = server.Start("(sleep 2; echo late; touch " + marker + ") &");
  auto out = server.WaitOutput(id);
  EXPECT_FALSE(out.at("running").as_bool()) << "done after the grace";
  EXPECT_EQ(out.at("exit_code").as_int64(), 0);
  EXPECT_TRUE(Eventually([&] { return ::access(marker.c_str(), F_OK) == 0; }))
      << "the job wrote to the pipe after the grace and was not killed for it";
  EXPECT_TRUE(Eventually([&] {
    return server.Get("/api/v0/processes/" + id + "/output").json.at("output") == "late\n";
  })) << "and its late output is kept";
}

TEST(Careless, LeftoversOfADoneCommandCountAgainstMaxProcesses) {
  Server server({.args = {"--max-processes", "1", "--drain-grace", "200ms"}});
  const std::string id = server.Start("sleep 300 >/dev/null 2>&1 &");
  server.WaitOutput(id);
  auto refused = server.Post("/api/v0/processes/start", R"({"command":"true"})");
  EXPECT_EQ(refused.status, 503) << refused.body;
  ASSERT_EQ(server.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})").status, 200)
      << "the leftover is still the command's";
  EXPECT_TRUE(Eventually([&] {
    return server.Post("/api/v0/processes/start", R"({"command":"true"})").status == 200;
  }));
}

TEST(Careless, HealthSaysHowCommandsAreTracked) {
  Server server;
  const std::string tracking(server.Health().at("tracking").as_string());
  EXPECT_TRUE(tracking == "cgroup" || tracking == "process-group") << tracking;
}

TEST(Careless, EndedBySaysWhatEndedEachCommand) {
  Server server;
  EXPECT_EQ(server.WaitOutput(server.Start("exit 3")).at("ended_by"), "exit");
  EXPECT_EQ(server.WaitOutput(server.Start("kill -TERM $$")).at("ended_by"), "signal");
  const std::string id = server.Start("sleep 300");
  server.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"terminate"})");
  EXPECT_EQ(server.WaitOutput(id).at("ended_by"), "client");
  auto list = server.Get("/api/v0/processes/list").json.at("processes").as_array();
  for (const auto& p : list) EXPECT_TRUE(p.as_object().contains("ended_by"));
}

}  // namespace
}  // namespace corral::testing
