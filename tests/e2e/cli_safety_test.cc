// `corral` as a careless caller uses it: words that a shell would mangle, exit statuses that
// must never pass for the command's, a server that stops answering, Ctrl-C, the current
// directory, chat ids that are not UUIDs.
#include <signal.h>

#include <gtest/gtest.h>
#include <filesystem>
#include <future>

#include "harness.h"

namespace corral::testing {
namespace {

namespace json = boost::json;

class CliSafety : public CliTest {
 protected:
  // The id of the only running process whose command is `command`, once there is one.
  std::string RunningId(const std::string& command) {
    std::string id;
    Eventually([&] {
      auto list = server_.Get("/api/v0/processes/list");
      for (const auto& p : list.json.at("processes").as_array()) {
        if (p.at("command").as_string() == command && p.at("running").as_bool()) {
          id = std::string(p.at("id").as_string());
        }
      }
      return !id.empty();
    });
    return id;
  }
};

TEST_F(CliSafety, SeveralWordsKeepTheirBoundaries) {
  auto r = Corral({"run", "--", "printf", "%s|", "a b", "$x"});
  EXPECT_EQ(r.out, "a b|$x|");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> tricky = {"it's",       "\"q\"",       "back\\slash", "",
                                           "two\nlines", "caf\xC3\xA9", "*",           "~",
                                           "a=b",        "$(echo no)",  "-n"};
  std::vector<std::string> args = {"run", "--", "printf", "[%s]"};
  std::string expected;
  for (const auto& word : tricky) {
    args.push_back(word);
    expected += "[" + word + "]";
  }
  EXPECT_EQ(Corral(args).out, expected);
}

TEST_F(CliSafety, OneWordIsAShellLineAsGiven) {
  EXPECT_EQ(Corral({"run", "--", "x=1; echo $x && echo two"}).out, "1\ntwo\n");
}

TEST_F(CliSafety, BadUsageExits2AndCorralsOwnFailuresExit125) {
  EXPECT_EQ(Corral({"run"}).exit_code, 2) << "no command";
  EXPECT_EQ(Corral({"ps", "--no-such-flag"}).exit_code, 2);
  EXPECT_EQ(Corral({"ps", "--limit", "0"}).exit_code, 2);
  EXPECT_EQ(Corral({"signal", "some-id", "hup"}).exit_code, 2);
  EXPECT_EQ(RunProgram({kCorral, "ps", "--server", "nonsense"}).exit_code, 2);
  // A server error, whatever the command would have done: 125, never 1 or the command's code.
  auto r = Corral({"run", "--workdir", "/no/such/dir", "--", "exit 1"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(Corral({"signal", "6f1c2a8e-1d2b-4c3d-9e4f-5a6b7c8d9e0f", "kill"}).exit_code, 125);
}

TEST_F(CliSafety, OutputWaitExitsWithTheCommandsCode) {
  auto started = Corral({"run", "--background", "--", "sleep 0.2; exit 7"});
  const std::string id = started.out.substr(0, 36);
  auto waited = Corral({"output", "--wait", id});
  EXPECT_EQ(waited.exit_code, 7) << waited.err;
  EXPECT_EQ(Corral({"output", id}).exit_code, 0) << "without --wait: the output was printed";
  auto killed = Corral({"run", "--background", "--", "kill -KILL $$"});
  EXPECT_EQ(Corral({"output", "--wait", killed.out.substr(0, 36)}).exit_code, 128 + 9);
}

TEST_F(CliSafety, ANonUuidChatIdIsRefused) {
  auto flag = Corral({"ps", "--chat-id", "my-chat"});
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_NE(flag.err.find("\"my-chat\""), std::string::npos) << flag.err;
  EXPECT_NE(flag.err.find("UUID"), std::string::npos) << flag.err;
  auto env = Corral({"run", "--", "true"}, {{"CORRAL_CHAT_ID", "not-a-uuid"}});
  EXPECT_EQ(env.exit_code, 2);
  EXPECT_EQ(server_.Get("/api/v0/processes/list").json.at("processes").as_array().size(), 0u)
      << "nothing was started as \"no chat\"";
  // The forms the server accepts are accepted, and name the same chat.
  const std::string canonical = "11111111-1111-4111-8111-111111111111";
  ASSERT_EQ(Corral({"run", "--chat-id", "{" + canonical + "}", "--", "true"}).exit_code, 0);
  auto listed = Corral({"ps", "--all", "--chat-id", "11111111111141118111111111111111"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("true"), std::string::npos) << listed.out;
}

TEST_F(CliSafety, PsLimitAsksTheServerForMore) {
  for (int i = 0; i < 12; ++i) Corral({"run", "--", "exit " + std::to_string(i)});
  auto count = [](const std::string& table) {
    return std::count(table.begin(), table.end(), '\n') - 1;  // minus the header
  };
  EXPECT_EQ(count(Corral({"ps", "--all"}).out), 10);
  EXPECT_EQ(count(Corral({"ps", "--all", "--limit", "12"}).out), 12);
  EXPECT_EQ(count(Corral({"ps", "--all", "--limit", "3"}).out), 3);
  auto bad = server_.Get("/api/v0/processes/list?limit=many");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json.at("message"), "Invalid limit.");
  EXPECT_EQ(server_.Get("/api/v0/processes/list?limit=0").status, 400);
  auto capped = server_.Get("/api/v0/processes/list?limit=999999");
  EXPECT_EQ(capped.status, 200);
  EXPECT_EQ(capped.json.at("processes").as_array().size(), 12u);
}

TEST(CliWorkdir, ALocalServerRunsTheCommandInTheCallersDirectory) {
  const std::string dir = TempDir();
  const std::string server_default = TempDir();
  Server server({.args = {"--listen", "unix:" + dir + "/s.sock", "--workdir", server_default},
                 .tcp_no_auth = false});
  const std::string here = std::filesystem::current_path().string();
  ASSERT_NE(here, server_default);
  auto r = RunProgram({kCorral, "run", "--server", "unix:" + dir + "/s.sock", "--", "pwd"});
  EXPECT_EQ(r.out, here + "\n") << r.err;
  auto given = RunProgram(
      {kCorral, "run", "--server", "unix:" + dir + "/s.sock", "--workdir", dir, "--", "pwd"});
  EXPECT_EQ(given.out, dir + "\n");
}

TEST(CliWorkdir, ARemoteServerKeepsItsOwnDefault) {
  const std::string server_default = TempDir();
  Server server({.args = {"--workdir", server_default}});
  auto r = RunProgram({kCorral, "run", "--server",
                       "http://127.0.0.1:" + std::to_string(server.port()), "--", "pwd"});
  EXPECT_EQ(r.out, server_default + "\n") << r.err;
}

TEST_F(CliSafety, CtrlCTerminatesThenKillsAndExits130) {
  const std::string command =
      "trap 'echo got TERM' TERM; echo started; while :; do sleep 0.05; done";
  BackgroundProgram run(Argv({"run", "--", command}));
  const std::string id = RunningId(command);
  ASSERT_FALSE(id.empty());
  auto output_has = [&](const std::string& text) {
    return Eventually([&] {
      auto out = server_.Get("/api/v0/processes/" + id + "/output");
      return out.json.at("output").as_string().find(text) != std::string::npos;
    });
  };
  ASSERT_TRUE(output_has("started"));  // the trap is set
  run.Interrupt();                     // terminate: the command traps it and goes on
  ASSERT_TRUE(output_has("got TERM"));
  run.Interrupt();  // kill
  auto r = run.Finish();
  EXPECT_EQ(r.exit_code, 130);
  EXPECT_NE(r.out.find("got TERM"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("sent terminate"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sent kill"), std::string::npos) << r.err;
  auto list = server_.Get("/api/v0/processes/list");
  const auto& p = list.json.at("processes").as_array().at(0);
  EXPECT_EQ(p.at("running"), false);
  EXPECT_EQ(p.at("exit_signal"), "SIGKILL");
}

TEST_F(CliSafety, CtrlCWithDetachLeavesTheCommandRunningAndPrintsItsId) {
  BackgroundProgram run(Argv({"run", "--detach-on-interrupt", "--", "sleep 60"}));
  const std::string id = RunningId("sleep 60");
  ASSERT_FALSE(id.empty());
  run.Interrupt();
  auto r = run.Finish();
  EXPECT_EQ(r.exit_code, 130);
  EXPECT_EQ(r.out, id + "\n");
  EXPECT_NE(r.err.find("keeps running"), std::string::npos) << r.err;
  EXPECT_EQ(server_.Get("/api/v0/processes/" + id + "/output").json.at("running"), true);
}

// The one slow test of the client: a stopped server is noticed within the 25 s deadline.
TEST_F(CliSafety, AStoppedServerMakesRunExit125WithinTheDeadline) {
  auto run = std::async(std::launch::async, [&] { return Corral({"run", "--", "sleep 120"}); });
  ASSERT_FALSE(RunningId("sleep 120").empty());
  ::kill(server_.pid(), SIGSTOP);
  auto r = run.get();  // RunProgram fails the test past 60 s
  ::kill(server_.pid(), SIGCONT);
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("stopped answering"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace corral::testing
