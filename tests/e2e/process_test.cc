// Process semantics (DESIGN.md §2) through the real binary: exit codes, the drain grace,
// signals to whole groups, descriptors, environment, workdir, reaping.
#include <signal.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "harness.h"

namespace corral::testing {
namespace {

namespace json = boost::json;

std::string OutputPath(const std::string& id) { return "/api/v0/processes/" + id + "/output"; }

TEST(Process, ExitCodesAreTheShellsRealStatus) {
  Server server;
  for (auto [command, code] : std::vector<std::pair<std::string, int>>{
           {"true", 0}, {"exit 42", 42}, {"no-such-command-here", 127}}) {
    auto out = server.WaitOutput(server.Start(command));
    EXPECT_EQ(out.at("exit_code").as_int64(), code) << command;
    EXPECT_FALSE(out.contains("exit_signal")) << command;
  }
}

TEST(Process, ASignalledShellReportsMinusOneAndTheSignalName) {
  Server server;
  auto out = server.WaitOutput(server.Start("kill -KILL $$"));
  EXPECT_EQ(out.at("exit_code").as_int64(), -1);
  EXPECT_EQ(out.at("exit_signal").as_string(), "SIGKILL");
  auto list = server.Get("/api/v0/processes/list").json.at("processes").as_array();
  EXPECT_EQ(list[0].at("exit_signal").as_string(), "SIGKILL");
}

TEST(Process, ABackgroundChildHoldingThePipeDoesNotHangTheProcess) {
  Server server;
  const std::string id = server.Start("sleep 30 & echo started");
  // Within the drain grace the process is still running, though its shell has exited...
  ASSERT_TRUE(
      Eventually([&] { return server.Get(OutputPath(id)).json.at("output") == "started\n"; }));
  EXPECT_TRUE(server.Get(OutputPath(id)).json.at("running").as_bool());
  // ...and done after it, with the shell's real exit code (Coder reports -1 here).
  auto out = server.WaitOutput(id);
  EXPECT_FALSE(out.at("running").as_bool());
  EXPECT_EQ(out.at("exit_code").as_int64(), 0);
  EXPECT_EQ(out.at("output").as_string(), "started\n");
}

TEST(Process, OutputWrittenJustBeforeExitIsNeverLost) {
  Server server;
  auto out = server.WaitOutput(server.Start(kHelper + " print 100000 && echo END"));
  EXPECT_EQ(out.at("truncated").at("original_bytes").as_int64(), 100004);
  EXPECT_TRUE(out.at("output").as_string().ends_with("END\n"));
}

TEST(Process, KillEndsTheWholeGroup) {
  Server server;
  const std::string pidfile = TempDir() + "/pid";
  const std::string id = server.Start(kHelper + " pidfile " + pidfile + " 300 & wait");
  const pid_t child = ReadPid(pidfile);
  ASSERT_GT(child, 0);
  ASSERT_TRUE(Alive(child));
  auto r = server.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(Eventually([&] { return !Alive(child); })) << "background child survived";
  auto out = server.WaitOutput(id);
  EXPECT_EQ(out.at("exit_code").as_int64(), -1);
  EXPECT_EQ(out.at("exit_signal").as_string(), "SIGKILL");
}

TEST(Process, TerminateIsTrappableAndKillIsNot) {
  Server server;
  const std::string id =
      server.Start("trap 'echo got-term' TERM; echo ready; while :; do sleep 0.05; done");
  ASSERT_TRUE(
      Eventually([&] { return server.Get(OutputPath(id)).json.at("output") == "ready\n"; }));
  ASSERT_EQ(server.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"terminate"})").status,
            200);
  ASSERT_TRUE(Eventually([&] {
    return server.Get(OutputPath(id)).json.at("output").as_string().find("got-term") !=
           json::string::npos;
  }));
  EXPECT_TRUE(server.Get(OutputPath(id)).json.at("running").as_bool());
  ASSERT_EQ(server.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})").status, 200);
  EXPECT_EQ(server.WaitOutput(id).at("exit_signal").as_string(), "SIGKILL");
}

TEST(Process, LeftoversOfAFinishedShellCanStillBeSignalled) {
  Server server({.args = {"--drain-grace", "200ms"}});
  const std::string pidfile = TempDir() + "/pid";
  const std::string id = server.Start(kHelper + " pidfile " + pidfile + " 300 >/dev/null &");
  auto out = server.WaitOutput(id);
  EXPECT_EQ(out.at("exit_code").as_int64(), 0);
  const pid_t leftover = ReadPid(pidfile);
  ASSERT_TRUE(Alive(leftover));
  auto r = server.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"terminate"})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Eventually([&] { return !Alive(leftover); }));
  // Once nothing of it is left, it is not running.
  EXPECT_TRUE(Eventually([&] {
    return server.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})").status == 409;
  }));
  EXPECT_TRUE(ZombieChildren(server.pid()).empty());
}

TEST(Process, AChildSeesOnlyStdinStdoutAndStderr) {
  Server server;
  // Keep some connections open so the server has descriptors that could leak.
  RawConnection idle1(server.host(), server.port()), idle2(server.host(), server.port());
  server.Start("sleep 60");
  auto out = server.WaitOutput(server.Start(kHelper + " fds"));
  EXPECT_EQ(out.at("output").as_string(), "0 1 2\n");
}

TEST(Process, StdinIsDevNull) {
  Server server;
  auto out = server.WaitOutput(server.Start("cat; echo eof; readlink /proc/self/fd/0"));
  EXPECT_EQ(out.at("output").as_string(), "eof\n/dev/null\n");
}

TEST(Process, StdoutAndStderrShareOnePipeInWriteOrder) {
  Server server;
  auto out = server.WaitOutput(server.Start("echo 1; echo 2 >&2; echo 3; echo 4 >&2"));
  EXPECT_EQ(out.at("output").as_string(), "1\n2\n3\n4\n");
}

TEST(Process, EnvironmentPrecedence) {
  const std::string dir = TempDir();
  {
    std::ofstream f(dir + "/env");
    f << "# hook\nB_VAR=from-file\nC_VAR=from-file\nexport D_VAR=from-file\n\n";
  }
  Server server({.args = {"--env-file", dir + "/env"},
                 .env = {{"A_VAR", "from-server"},
                         {"B_VAR", "from-server"},
                         {"C_VAR", "from-server"},
                         {"D_VAR", "from-server"},
                         {"CORRAL_TOKEN", "secret-token-value"}}});
  const std::string chat = "33333333-3333-4333-8333-333333333333";
  const std::string id = server.Start(
      "echo $A_VAR $B_VAR $C_VAR $D_VAR $CODER_CHAT_ID ${CORRAL_TOKEN:-none}",
      R"("env":{"C_VAR":"from-request","CODER_CHAT_ID":"x"})", {{"Coder-Chat-Id", chat}});
  auto out = server.WaitOutput(id);
  EXPECT_EQ(out.at("output").as_string(),
            "from-server from-file from-request from-file " + chat + " none\n");
}

TEST(Process, AnExecutableEnvHookIsRunOnceAtStart) {
  const std::string dir = TempDir();
  const std::string hook = dir + "/hook.sh";
  {
    std::ofstream f(hook);
    f << "#!/bin/sh\necho run >> " << dir << "/runs\necho HOOKED=yes\n";
  }
  ::chmod(hook.c_str(), 0755);
  Server server({.args = {"--env-file", hook}});
  EXPECT_EQ(server.WaitOutput(server.Start("echo $HOOKED")).at("output").as_string(), "yes\n");
  EXPECT_EQ(server.WaitOutput(server.Start("echo $HOOKED")).at("output").as_string(), "yes\n");
  std::ifstream runs(dir + "/runs");
  std::string all((std::istreambuf_iterator<char>(runs)), std::istreambuf_iterator<char>());
  EXPECT_EQ(all, "run\n");
}

TEST(Process, AFailingEnvHookIsAWarningNotAFailure) {
  const std::string dir = TempDir();
  const std::string hook = dir + "/hook.sh";
  {
    std::ofstream f(hook);
    f << "#!/bin/sh\necho PARTIAL=1\nexit 3\n";
  }
  ::chmod(hook.c_str(), 0755);
  Server server({.args = {"--env-file", hook}});
  auto out = server.WaitOutput(server.Start("echo ${PARTIAL:-unset}"));
  EXPECT_EQ(out.at("output").as_string(), "unset\n");
  EXPECT_NE(server.Log().find("env hook"), std::string::npos);
}

TEST(Process, WorkdirResolution) {
  const std::string dir = TempDir();
  std::filesystem::create_directories(dir + "/sub");
  Server server({.args = {"--workdir", dir}});
  auto out = server.WaitOutput(server.Start("pwd"));
  EXPECT_EQ(out.at("output").as_string(), dir + "\n");
  const std::string in_sub = server.Start("pwd", R"("workdir":"sub")");
  EXPECT_EQ(server.WaitOutput(in_sub).at("output").as_string(), dir + "/sub\n");
  const std::string in_tmp = server.Start("pwd", R"("workdir":"/tmp")");
  EXPECT_EQ(server.WaitOutput(in_tmp).at("output").as_string(), "/tmp\n");
  std::set<std::string> workdirs;
  const HttpResult list = server.Get("/api/v0/processes/list");
  for (const auto& p : list.json.at("processes").as_array()) {
    workdirs.insert(std::string(p.at("workdir").as_string()));
  }
  EXPECT_EQ(workdirs, (std::set<std::string>{dir, dir + "/sub", "/tmp"}));
}

TEST(Process, AMissingDefaultWorkdirFallsBackToHome) {
  const std::string home = TempDir();
  Server server({.args = {"--workdir", "/no/such/dir"}, .env = {{"HOME", home}}});
  EXPECT_EQ(server.WaitOutput(server.Start("pwd")).at("output").as_string(), home + "\n");
}

TEST(Process, FiftyConcurrentStartsGiveFiftyDistinctIds) {
  Server server;
  std::vector<std::string> ids(50);
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      auto r = server.Post("/api/v0/processes/start", R"({"command":"true"})");
      if (r.status == 200) ids[i] = std::string(r.json.at("id").as_string());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> distinct(ids.begin(), ids.end());
  distinct.erase("");
  EXPECT_EQ(distinct.size(), 50u);
}

TEST(Process, ABurstOfShortCommandsLeavesNoZombie) {
  Server server;
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    // Every other one leaves an orphan behind, which the subreaper hands to the server.
    ids.push_back(server.Start(i % 2 ? "true" : "(sleep 0.1 &) ; true"));
  }
  for (const auto& id : ids) EXPECT_FALSE(server.WaitOutput(id).at("running").as_bool());
  EXPECT_TRUE(Eventually([&] { return ZombieChildren(server.pid()).empty(); }))
      << ZombieChildren(server.pid()).size() << " zombies";
  EXPECT_TRUE(Eventually([&] {
    std::ifstream in("/proc/" + std::to_string(server.pid()) + "/task/" +
                     std::to_string(server.pid()) + "/children");
    std::string rest;
    in >> rest;
    return rest.empty();
  })) << "orphans are reaped once they exit";
}

TEST(Process, DoneProcessesAreForgottenAfterTheRetentionWithoutAnyListCall) {
  Server server({.args = {"--retention", "300ms"}});
  const std::string done = server.Start("true");
  const std::string running = server.Start("sleep 60");
  server.WaitOutput(done);
  EXPECT_TRUE(Eventually([&] { return server.Health().at("processes").as_int64() == 1; }))
      << "the sweep runs on a timer, not on list";
  EXPECT_EQ(server.Get(OutputPath(done)).status, 404);
  EXPECT_EQ(server.Get(OutputPath(running)).status, 200) << "running processes stay";
}

TEST(Process, TheLiveProcessCapRefusesWith503AndStartsNothing) {
  Server server({.args = {"--max-processes", "2"}});
  server.Start("sleep 60");
  server.Start("sleep 60");
  auto r = server.Post("/api/v0/processes/start", R"({"command":"echo nope"})");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.json.at("message").as_string(), "Too many running processes.");
  EXPECT_EQ(server.Get("/api/v0/processes/list").json.at("processes").as_array().size(), 2u);
}

}  // namespace
}  // namespace corral::testing
