// The `corral` client subcommands against a real server: text and --json output, exit codes,
// and errors.
#include <gtest/gtest.h>

#include <fstream>

#include "harness.h"

namespace corral::testing {
namespace {

namespace json = boost::json;

class Cli : public CliTest {};

TEST_F(Cli, RunPrintsTheOutputAndExitsWithTheCommandsCode) {
  auto r = Corral({"run", "--", "echo hello; echo err >&2"});
  EXPECT_EQ(r.out, "hello\nerr\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(Corral({"run", "--", "exit 42"}).exit_code, 42);
}

TEST_F(Cli, ASignalledCommandExitsWith128PlusTheSignal) {
  EXPECT_EQ(Corral({"run", "--", "kill -KILL $$"}).exit_code, 128 + 9);
  EXPECT_EQ(Corral({"run", "--", "kill -TERM $$"}).exit_code, 128 + 15);
}

TEST_F(Cli, RunJsonPrintsTheServersAnswerUnchanged) {
  auto r = Corral({"run", "--json", "--", "printf", "x"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json::value v = json::parse(r.out);
  EXPECT_EQ(v.at("output"), "x");
  EXPECT_EQ(v.at("running"), false);
  EXPECT_EQ(v.at("exit_code"), 0);
  EXPECT_EQ(v.at("command"), "printf x");
  EXPECT_EQ(r.out, json::serialize(v) + "\n");
}

TEST_F(Cli, RunPassesEnvironmentAndWorkdir) {
  const std::string dir = TempDir();
  auto r = Corral(
      {"run", "--workdir", dir, "--env", "A=1", "--env", "B=two words", "--", "echo $A $B; pwd"});
  EXPECT_EQ(r.out, "1 two words\n" + dir + "\n");
  auto bad = Corral({"run", "--env", "novalue", "--", "true"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("KEY=VALUE"), std::string::npos);
}

TEST_F(Cli, BackgroundPrintsTheIdAndOutputWaitFollowsIt) {
  auto started = Corral({"run", "--background", "--", "sleep 0.3; echo later"});
  ASSERT_EQ(started.exit_code, 0);
  std::string id = started.out.substr(0, started.out.find('\n'));
  ASSERT_EQ(id.size(), 36u) << started.out;
  auto out = Corral({"output", id, "--wait"});
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(out.out, "later\n");
  auto json_out = Corral({"output", "--json", id});
  EXPECT_EQ(json::parse(json_out.out).at("exit_code"), 0);
}

TEST_F(Cli, TimeoutReturnsWhileTheCommandKeepsRunning) {
  auto r = Corral({"run", "--timeout", "300ms", "--", "echo partial; sleep 60"});
  EXPECT_EQ(r.exit_code, 124);
  EXPECT_EQ(r.out, "partial\n");
  EXPECT_NE(r.err.find("still running"), std::string::npos);
  auto ps = Corral({"ps"});
  EXPECT_NE(ps.out.find("running"), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("echo partial; sleep 60"), std::string::npos);
}

TEST_F(Cli, PsShowsATableAndAllIncludesDoneProcesses) {
  Corral({"run", "--", "exit 7"});
  Corral({"run", "--background", "--", "sleep 60"});
  auto running = Corral({"ps"});
  EXPECT_EQ(running.exit_code, 0);
  EXPECT_TRUE(running.out.starts_with("ID ")) << running.out;
  EXPECT_NE(running.out.find("sleep 60"), std::string::npos);
  EXPECT_EQ(running.out.find("exit 7"), std::string::npos) << "done processes need --all";
  auto all = Corral({"ps", "--all"});
  EXPECT_NE(all.out.find("exited    7"), std::string::npos) << all.out;
  auto as_json = Corral({"ps", "--json"});
  EXPECT_EQ(json::parse(as_json.out).at("processes").as_array().size(), 2u);
}

TEST_F(Cli, PsShortensCommandsToTheTerminalWidth) {
  Corral({"run", "--background", "--", "sleep 60; " + std::string(200, 'x')});
  auto ps = Corral({"ps"}, {{"COLUMNS", "100"}});
  std::istringstream lines(ps.out);
  std::string line;
  while (std::getline(lines, line)) {
    EXPECT_LE(line.size(), 100u + 2) << line;  // "…" is 3 bytes for one column
  }
  EXPECT_NE(ps.out.find("\xE2\x80\xA6"), std::string::npos);
}

TEST_F(Cli, SignalSendsAndThenReportsNotRunning) {
  auto started = Corral({"run", "--background", "--", "sleep 60"});
  const std::string id = started.out.substr(0, 36);
  auto sent = Corral({"signal", id, "kill"});
  EXPECT_EQ(sent.exit_code, 0);
  EXPECT_EQ(sent.out, "Signal \"kill\" sent to process \"" + id + "\".\n");
  Corral({"output", "--wait", id});
  auto again = Corral({"signal", id, "terminate"});
  EXPECT_EQ(again.exit_code, 125);
  EXPECT_EQ(again.err, "corral: Process \"" + id + "\" is not running.\n");
  EXPECT_NE(Corral({"signal", id, "hup"}).exit_code, 0) << "only terminate and kill";
}

TEST_F(Cli, AnUnknownIdShowsTheServersMessage) {
  auto r = Corral({"output", "6f1c2a8e-1d2b-4c3d-9e4f-5a6b7c8d9e0f"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err, "corral: Process \"6f1c2a8e-1d2b-4c3d-9e4f-5a6b7c8d9e0f\" not found.\n");
}

TEST_F(Cli, AServerErrorShowsMessageAndDetail) {
  auto r = Corral({"run", "--workdir", "/no/such/dir", "--", "true"});
  EXPECT_EQ(r.exit_code, 125) << "corral's own failure, never mistaken for the command's";
  EXPECT_EQ(r.err,
            "corral: Failed to start process. (workdir \"/no/such/dir\": No such file or "
            "directory)\n");
}

TEST_F(Cli, ChatIdsIsolate) {
  const std::string a = "11111111-1111-4111-8111-111111111111";
  const std::string b = "22222222-2222-4222-8222-222222222222";
  Corral({"run", "--background", "--chat-id", a, "--", "sleep 60"});
  EXPECT_NE(Corral({"ps", "--chat-id", a}).out.find("sleep 60"), std::string::npos);
  EXPECT_EQ(Corral({"ps"}, {{"CORRAL_CHAT_ID", b}}).out.find("sleep 60"), std::string::npos);
  EXPECT_NE(Corral({"ps"}).out.find("sleep 60"), std::string::npos);
}

TEST(CliWithoutServer, SaysHowToStartOne) {
  const std::string dir = TempDir();
  auto r = RunProgram({kCorral, "ps"}, {{"XDG_RUNTIME_DIR", dir}});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("no corral server is answering at unix:" + dir + "/corral.sock"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("corral serve"), std::string::npos);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one clear sentence";
}

TEST(CliWithToken, SendsTheTokenFromTheEnvironmentOrAFile) {
  const std::string dir = TempDir();
  {
    std::ofstream f(dir + "/token");
    f << "tok-123\n";
  }
  Server server(
      {.args = {"--listen", "127.0.0.1:0", "--token-file", dir + "/token"}, .tcp_no_auth = false});
  const std::string address = "http://127.0.0.1:" + std::to_string(server.port());
  auto denied = RunProgram({kCorral, "ps", "--server", address}, {{"XDG_RUNTIME_DIR", dir}});
  EXPECT_EQ(denied.exit_code, 125);
  EXPECT_NE(denied.err.find("Unauthorized."), std::string::npos) << denied.err;
  EXPECT_EQ(
      RunProgram({kCorral, "ps", "--server", address, "--token-file", dir + "/token"}).exit_code,
      0);
  EXPECT_EQ(
      RunProgram({kCorral, "ps", "--server", address}, {{"CORRAL_TOKEN", "tok-123"}}).exit_code, 0);
  EXPECT_EQ(RunProgram({kCorral, "ps"}, {{"CORRAL_TOKEN", "tok-123"}, {"CORRAL_SERVER", address}})
                .exit_code,
            0);
}

TEST(CliDefaultSocket, ReachesTheDefaultServerWithNoOptions) {
  const std::string runtime = TempDir();
  Server server({.env = {{"XDG_RUNTIME_DIR", runtime}}, .tcp_no_auth = false});
  auto r = RunProgram({kCorral, "run", "--", "echo via socket"}, {{"XDG_RUNTIME_DIR", runtime}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "via socket\n");
}

}  // namespace
}  // namespace corral::testing
