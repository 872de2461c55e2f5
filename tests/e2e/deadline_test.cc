// Run deadlines and `ended_by` (DESIGN §7.3), through the real binary: `timeout_ms` on start
// ends the whole command, SIGTERM then SIGKILL, whatever waits on it.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "harness.h"

namespace corral::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// The process's `output` answer once it is done, polling for at most `limit`; empty if it is
// still running by then.
json::object DoneWithin(Server& server, const std::string& id, std::chrono::milliseconds limit) {
  json::object done;
  Eventually(
      [&] {
        auto r = server.Get("/api/v0/processes/" + id + "/output");
        if (r.status != 200 || r.json.at("running").as_bool()) return false;
        done = r.json.as_object();
        return true;
      },
      limit);
  return done;
}

// The process as `list` shows it.
json::object Listed(Server& server, const std::string& id) {
  auto r = server.Get("/api/v0/processes/list?limit=1024");
  EXPECT_EQ(r.status, 200) << r.body;
  for (const auto& p : r.json.at("processes").as_array()) {
    if (p.at("id").as_string() == id) return p.as_object();
  }
  ADD_FAILURE() << "process " << id << " not listed: " << r.body;
  return {};
}

TEST(Deadline, KillsATermIgnoringCommandAfterTheGrace) {
  Server server;
  const std::string id = server.Start("trap '' TERM; sleep 100", R"("timeout_ms":1000)");
  // 1 s deadline (time for the shell to set its trap) + 5 s until SIGKILL, with generous slack for
  // a loaded machine.
  auto done = DoneWithin(server, id, 20s);
  ASSERT_FALSE(done.empty()) << "still running long after deadline + 5 s";
  EXPECT_EQ(done.at("ended_by"), "deadline") << done;
  EXPECT_EQ(done.at("exit_code"), -1) << done;
  EXPECT_EQ(done.at("exit_signal"), "SIGKILL") << done;
}

TEST(Deadline, EndsACommandThatHonoursTermWithTerm) {
  Server server;
  const std::string id = server.Start("sleep 100", R"("timeout_ms":300)");
  auto done = DoneWithin(server, id, 4500ms);  // before the SIGKILL could have come
  ASSERT_FALSE(done.empty()) << "SIGTERM did not end it";
  EXPECT_EQ(done.at("ended_by"), "deadline") << done;
  EXPECT_EQ(done.at("exit_signal"), "SIGTERM") << done;
}

TEST(Deadline, EndsTheWholeCommandNotOnlyTheShell) {
  Server server;
  const std::string dir = TempDir();
  // A grandchild that left the command's process group and session.
  const std::string id = server.Start(
      "setsid sh -c 'echo $$ > " + dir + "/pid; exec sleep 100' & wait", R"("timeout_ms":300)");
  const pid_t grandchild = ReadPid(dir + "/pid");
  ASSERT_GT(grandchild, 0);
  auto done = DoneWithin(server, id, 15s);
  ASSERT_FALSE(done.empty());
  EXPECT_EQ(done.at("ended_by"), "deadline") << done;
  EXPECT_TRUE(Eventually([&] { return !Alive(grandchild); }, 5s)) << "the grandchild lives on";
}

TEST(Deadline, DoesNotFireForACommandThatFinishedFirst) {
  Server server;
  const std::string id = server.Start("exit 7", R"("timeout_ms":300)");
  auto out = server.WaitOutput(id);
  EXPECT_EQ(out.at("ended_by"), "exit");
  ::usleep(600 * 1000);  // past the deadline: nothing may change
  auto later = server.Get("/api/v0/processes/" + id + "/output").json.as_object();
  EXPECT_EQ(later.at("ended_by"), "exit") << later;
  EXPECT_EQ(later.at("exit_code"), 7) << later;
}

TEST(Deadline, IsIndependentOfAWaitThatTimesOut) {
  Server server;
  const std::string id = server.Start("sleep 100", R"("timeout_ms":2000)");
  // A wait that gives up first neither ends the command nor stops its deadline.
  auto r = server.Get("/api/v0/processes/" + id + "/output?wait=true&timeout_ms=100");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json.at("running").as_bool());
  auto done = DoneWithin(server, id, 15s);
  ASSERT_FALSE(done.empty());
  EXPECT_EQ(done.at("ended_by"), "deadline");
}

TEST(Deadline, ListShowsTheTimeoutAskedFor) {
  Server server;
  const std::string with = server.Start("sleep 100", R"("timeout_ms":60000)");
  const std::string without = server.Start("sleep 100", R"("timeout_ms":0)");
  EXPECT_EQ(Listed(server, with).at("timeout_ms"), 60000);
  EXPECT_FALSE(Listed(server, without).contains("timeout_ms")) << "0 is no deadline";
  for (const auto& id : {with, without}) {
    server.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})");
  }
}

TEST(Deadline, RefusesATimeoutThatIsNotAWholeNumberOfMillisecondsInRange) {
  Server server;
  for (const char* bad : {"-1", "1.5", "604800001", "1e30", "18446744073709551615"}) {
    auto r = server.Post("/api/v0/processes/start",
                         std::string(R"({"command":"true","timeout_ms":)") + bad + "}");
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
    EXPECT_EQ(r.json.at("message"), "Invalid timeout_ms.") << bad;
  }
  auto typed = server.Post("/api/v0/processes/start", R"({"command":"true","timeout_ms":"500"})");
  EXPECT_EQ(typed.status, 400) << typed.body;
  EXPECT_EQ(typed.json.at("message"), "Request body must be valid JSON.");
  auto week =
      server.Post("/api/v0/processes/start", R"({"command":"true","timeout_ms":604800000})");
  EXPECT_EQ(week.status, 200) << week.body;
  auto null = server.Post("/api/v0/processes/start", R"({"command":"true","timeout_ms":null})");
  EXPECT_EQ(null.status, 200) << null.body;
}

TEST(Deadline, IdempotencyKeyReusedWithAnotherTimeoutIs422) {
  Server server;
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "deadline-key"}};
  auto first =
      server.Post("/api/v0/processes/start", R"({"command":"sleep 100","timeout_ms":5000})", key);
  ASSERT_EQ(first.status, 200) << first.body;
  auto same =
      server.Post("/api/v0/processes/start", R"({"timeout_ms":5000, "command":"sleep 100"})", key);
  EXPECT_EQ(same.status, 200) << same.body;
  EXPECT_EQ(same.json.at("id"), first.json.at("id"));
  auto other =
      server.Post("/api/v0/processes/start", R"({"command":"sleep 100","timeout_ms":6000})", key);
  EXPECT_EQ(other.status, 422) << other.body;
  auto none = server.Post("/api/v0/processes/start", R"({"command":"sleep 100"})", key);
  EXPECT_EQ(none.status, 422) << none.body;
}

TEST(EndedBy, ExitWhenItEndsByItself) {
  Server server;
  EXPECT_EQ(server.WaitOutput(server.Start("exit 3")).at("ended_by"), "exit");
}

TEST(EndedBy, SignalWhenKilledFromOutsideCorral) {
  Server server;
  const std::string dir = TempDir();
  const std::string id = server.Start("echo $$ > " + dir + "/pid; exec sleep 100");
  const pid_t pid = ReadPid(dir + "/pid");
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  auto out = server.WaitOutput(id);
  EXPECT_EQ(out.at("ended_by"), "signal") << out;
  EXPECT_EQ(out.at("exit_signal"), "SIGTERM") << out;
}

TEST(EndedBy, ClientAfterASignalRequest) {
  Server server;
  const std::string id = server.Start("sleep 100", R"("timeout_ms":60000)");
  ASSERT_EQ(server.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"terminate"})").status,
            200);
  EXPECT_EQ(server.WaitOutput(id).at("ended_by"), "client");
}

TEST(EndedBy, DeadlineWhenItPassedAfterASignalRequest) {
  Server server;
  const std::string id =
      server.Start("trap '' TERM; echo ready; sleep 100", R"("timeout_ms":1000)");
  ASSERT_TRUE(Eventually([&] {
    return server.Get("/api/v0/processes/" + id + "/output").json.at("output") == "ready\n";
  }));
  // Ignored: the command lives on until its deadline, which came later and so names the end.
  ASSERT_EQ(server.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"terminate"})").status,
            200);
  auto done = DoneWithin(server, id, 20s);
  ASSERT_FALSE(done.empty());
  EXPECT_EQ(done.at("ended_by"), "deadline") << done;
}

TEST(EndedBy, ClientWhenASignalRequestCameAfterTheDeadline) {
  Server server;
  const std::string id = server.Start("trap '' TERM; sleep 100", R"("timeout_ms":1000)");
  // The deadline's SIGTERM is ignored (1 s is time for the shell to set its trap); wait until
  // it was sent (the server logs it).
  ASSERT_TRUE(Eventually(
      [&] { return server.Log().find("deadline of 1000 ms passed") != std::string::npos; }));
  ASSERT_EQ(server.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})").status, 200);
  auto done = server.WaitOutput(id);
  EXPECT_EQ(done.at("ended_by"), "client") << done;
  EXPECT_EQ(done.at("exit_signal"), "SIGKILL") << done;
}

TEST(EndedBy, ShutdownWhenTheServerStopsAndSoAfterARestart) {
  const std::string state = TempDir() + "/state";
  std::string id;
  {
    Server server({.args = {"--state-dir", state, "--shutdown-grace", "300ms"}});
    id = server.Start("sleep 100", R"("timeout_ms":60000)");
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(server.Stop(SIGTERM), 0);
  }
  Server again({.args = {"--state-dir", state}});
  auto r = again.Get("/api/v0/processes/" + id + "/output");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.json.at("running").as_bool());
  EXPECT_EQ(r.json.at("ended_by"), "shutdown") << r.body;
}

}  // namespace
}  // namespace corral::testing
