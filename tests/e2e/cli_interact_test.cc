// Talking to running commands through the real `corral` binary (DESIGN §7.3): run --deadline,
// run -i (local stdin forwarded), send.
#include <gtest/gtest.h>

#include "harness.h"

namespace corral::testing {
namespace {

namespace json = boost::json;

class CliInteract : public CliTest {
 protected:
  // `input | corral ARGS...` through a shell, the input given by printf's format `input`.
  CommandResult CorralFed(const std::string& input, const std::string& args) {
    return RunProgram(
        {"/bin/sh", "-c",
         "printf '" + input + "' | " + kCorral + " --server " + address_ + " " + args});
  }
};

TEST_F(CliInteract, RunDeadlineEndsTheCommandAndSaysSo) {
  auto r = Corral({"--json", "run", "--deadline", "300ms", "--", "echo started; sleep 60"});
  EXPECT_EQ(r.exit_code, 128 + SIGTERM) << r.err;
  const json::object out = json::parse(r.out).as_object();
  EXPECT_EQ(out.at("ended_by"), "deadline") << r.out;
  EXPECT_EQ(out.at("output"), "started\n") << r.out;
}

TEST_F(CliInteract, RunDeadlineTakesHoursAndMinutes) {
  auto r = Corral({"run", "--background", "--deadline", "2h", "--", "sleep 60"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::string id = r.out.substr(0, 36);
  auto list = server_.Get("/api/v0/processes/list");
  bool found = false;
  for (const auto& p : list.json.at("processes").as_array()) {
    if (p.at("id").as_string() != id) continue;
    found = true;
    EXPECT_EQ(p.at("timeout_ms"), 7'200'000) << list.body;
  }
  EXPECT_TRUE(found) << list.body;
  server_.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})");
}

TEST_F(CliInteract, RunDeadlineWithoutAUnitOrZeroIsAUsageError) {
  for (const char* bad : {"10", "0s", "8d", "soon"}) {
    auto r = Corral({"run", "--deadline", bad, "--", "true"});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("--deadline"), std::string::npos) << r.err;
  }
}

TEST_F(CliInteract, SendWritesALineAndCloseEndsTheInput) {
  const std::string id = server_.Start("cat; echo done", R"("stdin":"pipe")");
  auto sent = Corral({"send", id, "hello"});
  EXPECT_EQ(sent.exit_code, 0) << sent.err;
  EXPECT_EQ(sent.out, "");
  auto raw = Corral({"send", "-n", id, "no newline"});
  EXPECT_EQ(raw.exit_code, 0) << raw.err;
  auto closed = Corral({"send", "--close", id});
  EXPECT_EQ(closed.exit_code, 0) << closed.err;
  const json::object out = server_.WaitOutput(id);
  EXPECT_EQ(out.at("output"), "hello\nno newlinedone\n");
  EXPECT_EQ(out.at("exit_code"), 0);
}

TEST_F(CliInteract, SendToACommandWithoutStdinFailsWithTheServersMessage) {
  const std::string id = server_.Start("sleep 60");
  auto r = Corral({"send", id, "hello"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("Process \"" + id + "\" has no open stdin."), std::string::npos) << r.err;
  server_.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})");
}

TEST_F(CliInteract, SendToADoneCommandSaysItIsNotRunning) {
  const std::string id = server_.Start("true", R"("stdin":"pipe")");
  server_.WaitOutput(id);
  auto r = Corral({"send", id, "late"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("is not running."), std::string::npos) << r.err;
}

TEST_F(CliInteract, RunInteractiveForwardsLocalStdinAndItsEnd) {
  auto r = CorralFed("one\\ntwo\\n", "run -i -- 'cat; echo end'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "one\ntwo\nend\n");
}

TEST_F(CliInteract, RunInteractiveAnswersAPrompt) {
  auto r = CorralFed("yes\\n", "run -i -- 'read -p \"sure? \" a; echo \"got $a\"; exit 4'");
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.out.find("got yes\n"), std::string::npos) << r.out;
}

TEST_F(CliInteract, RunInteractiveKeepsACharacterSplitAcrossReadsWhole) {
  // 70000 bytes of two-byte characters: local reads split them wherever they like.
  auto r = RunProgram({"/bin/sh", "-c",
                       "python3 -c \"print('\\u00e9' * 35000, end='')\" | " + kCorral +
                           " --server " + address_ + " run -i -- 'wc -c'"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(r.out.find_first_not_of(' ')), "70000\n");
}

TEST_F(CliInteract, RunWithoutInteractiveLeavesStdinNull) {
  auto r = CorralFed("ignored\\n", "run -- 'cat; echo end'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "end\n");
}

TEST_F(CliInteract, WaitForOneProcessExitsWithItsCodeAndShowsItsState) {
  const std::string id = server_.Start("sleep 0.3; exit 3");
  auto r = Corral({"wait", id});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.out.find("STATE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(id + "  exited    3"), std::string::npos) << r.out;
}

TEST_F(CliInteract, WaitForAnyReturnsOnceOneIsDone) {
  const std::string quick = server_.Start("sleep 0.2");
  const std::string slow = server_.Start("sleep 60");
  auto r = Corral({"wait", slow, quick});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(slow + "  running"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(quick + "  exited    0"), std::string::npos) << r.out;
  EXPECT_LT(r.out.find(slow), r.out.find(quick)) << "in the order given";
  server_.Post("/api/v0/processes/" + slow + "/signal", R"({"signal":"kill"})");
}

TEST_F(CliInteract, WaitForAllWaitsForEveryOneAndFailsIfOneFailed) {
  const std::string a = server_.Start("sleep 0.2");
  const std::string b = server_.Start("sleep 0.6; exit 2");
  auto r = Corral({"wait", "--all", a, b});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.out.find(a + "  exited    0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(b + "  exited    2"), std::string::npos) << r.out;
  const std::string c = server_.Start("true");
  auto ok = Corral({"wait", "--all", a, c});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST_F(CliInteract, WaitTimeoutLeavesTheProcessRunning) {
  const std::string id = server_.Start("sleep 60");
  auto r = Corral({"wait", "--timeout", "200ms", id});
  EXPECT_EQ(r.exit_code, 124) << r.err;
  EXPECT_NE(r.out.find(id + "  running"), std::string::npos) << r.out;
  server_.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})");
}

TEST_F(CliInteract, WaitForAnUnknownProcessFails) {
  auto r = Corral({"wait", "00000000-0000-4000-8000-000000000000"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("00000000-0000-4000-8000-000000000000"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace corral::testing
