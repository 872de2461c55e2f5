// Talking to running commands through the real server (DESIGN.md §7.3): stdin pipes and
// `input`, terminals and `resize`, the agent environment, and `waiting_for_input`.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <fstream>

#include "harness.h"

namespace corral::testing {
namespace {

namespace json = boost::json;

std::string Path(const std::string& id, const std::string& action) {
  return "/api/v0/processes/" + id + "/" + action;
}

HttpResult Input(Server& server, const std::string& id, const std::string& data,
                 bool close = false) {
  return server.Post(Path(id, "input"),
                     "{\"data\":" + Quote(data) + (close ? ",\"close\":true}" : "}"));
}

json::object Object(const HttpResult& r) {
  return r.json.is_object() ? r.json.as_object() : json::object();
}

json::object Read(Server& server, const std::string& id, const std::string& query = "") {
  HttpResult r = server.Get(Path(id, "read") + (query.empty() ? "" : "?" + query));
  EXPECT_EQ(r.status, 200) << r.body;
  return Object(r);
}

// The process's entry in `list`, or an empty object.
json::object Listed(Server& server, const std::string& id) {
  HttpResult r = server.Get("/api/v0/processes/list?limit=1024");
  for (const auto& p : r.json.at("processes").as_array()) {
    if (p.at("id").as_string() == id) return p.as_object();
  }
  return {};
}

std::string Output(const json::object& o) { return std::string(o.at("output").as_string()); }

// Polls the read answer until its output contains `text` (15 s at most); the last answer.
json::object ReadUntil(Server& server, const std::string& id, const std::string& text) {
  json::object last;
  Eventually([&] {
    last = Read(server, id);
    return std::string(last.at("data").as_string()).find(text) != std::string::npos;
  });
  return last;
}

std::string Message(const HttpResult& r) {
  return r.json.is_object() ? std::string(r.json.at("message").as_string()) : r.body;
}

TEST(Stdin, CatWithAPipeEchoesItsInputAndExitsZeroOnClose) {
  Server server;
  const std::string id = server.Start("cat", "\"stdin\":\"pipe\"");
  EXPECT_EQ(Listed(server, id).at("stdin").as_string(), "pipe");
  HttpResult first = Input(server, id, "hello\n");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.json.at("written").to_number<int>(), 6);
  ReadUntil(server, id, "hello\n");
  HttpResult last = Input(server, id, "world\n", /*close=*/true);
  ASSERT_EQ(last.status, 200) << last.body;
  auto done = server.WaitOutput(id);
  EXPECT_EQ(Output(done), "hello\nworld\n");
  EXPECT_EQ(done.at("exit_code").to_number<int>(), 0);
  EXPECT_FALSE(done.contains("stdin")) << "done: it no longer applies";
  EXPECT_FALSE(done.contains("waiting_for_input")) << "done: it no longer applies";
}

TEST(Stdin, InputToACommandWithoutAPipeIsAConflictNamingIt) {
  Server server;
  const std::string id = server.Start("sleep 30");
  HttpResult r = Input(server, id, "x");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Message(r), "Process \"" + id + "\" has no open stdin.");
  EXPECT_EQ(Listed(server, id).at("stdin").as_string(), "null");
  EXPECT_FALSE(Listed(server, id).contains("waiting_for_input"));
  server.Post(Path(id, "signal"), R"({"signal":"kill"})");
}

TEST(Stdin, InputToADoneCommandIsNotRunningEvenWithAPipe) {
  Server server;
  const std::string piped = server.Start("true", "\"stdin\":\"pipe\"");
  const std::string plain = server.Start("true");
  server.WaitOutput(piped);
  server.WaitOutput(plain);
  for (const std::string& id : {piped, plain}) {
    HttpResult r = Input(server, id, "x");
    EXPECT_EQ(r.status, 409);
    EXPECT_EQ(Message(r), "Process \"" + id + "\" is not running.");
  }
  EXPECT_EQ(Input(server, "no-such-id", "x").status, 404);
}

TEST(Stdin, InputAfterCloseIsAConflict) {
  Server server;
  const std::string id = server.Start("cat; sleep 30", "\"stdin\":\"pipe\"");
  ASSERT_EQ(Input(server, id, "", /*close=*/true).status, 200);
  HttpResult r = Input(server, id, "late");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Message(r), "Process \"" + id + "\" has no open stdin.");
  server.Post(Path(id, "signal"), R"({"signal":"kill"})");
}

TEST(Stdin, ACommandThatClosedItsStdinMakesInputAConflictNotACrash) {
  Server server;
  const std::string id = server.Start("exec 0<&-; sleep 30", "\"stdin\":\"pipe\"");
  // Once its shell closed stdin, our write meets no reader (EPIPE, SIGPIPE ignored).
  ASSERT_TRUE(Eventually([&] { return Input(server, id, "x").status == 409; }));
  EXPECT_EQ(Message(Input(server, id, "x")), "Process \"" + id + "\" has no open stdin.");
  EXPECT_EQ(server.Health().at("status").as_string(), "ok");
  server.Post(Path(id, "signal"), R"({"signal":"kill"})");
}

TEST(Stdin, PastAMebibyteQueuedInputIsRefusedWholeAndNothingOfItIsWritten) {
  Server server;
  const std::string dir = TempDir();
  // Reads nothing until told to, then counts every byte it was given.
  const std::string id = server.Start("while [ ! -e " + dir + "/go ]; do sleep 0.05; done; wc -c",
                                      "\"stdin\":\"pipe\"");
  const std::string chunk(256 * 1024, 'x');
  std::size_t accepted = 0;
  HttpResult refused;
  for (int i = 0; i < 20; ++i) {
    HttpResult r = Input(server, id, chunk);
    if (r.status != 200) {
      refused = r;
      break;
    }
    accepted += chunk.size();
  }
  ASSERT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(Message(refused), "Input queue full.");
  EXPECT_GE(accepted, 1024u * 1024);
  // Smaller input still fits where the refused request did not.
  ASSERT_EQ(Input(server, id, "tail").status, 200);
  accepted += 4;
  std::ofstream(dir + "/go") << "";
  ASSERT_EQ(Input(server, id, "", /*close=*/true).status, 200);
  auto done = server.WaitOutput(id);
  EXPECT_EQ(Output(done), std::to_string(accepted) + "\n");
}

TEST(Stdin, BadStdinAndTtyValuesAreRefused) {
  Server server;
  struct Case {
    std::string extra;
    std::string message;
  };
  for (const Case& c : {Case{R"("stdin":"file")", "Invalid stdin."},
                        Case{R"("stdin":1)", "Request body must be valid JSON."},
                        Case{R"("tty":"yes")", "Invalid tty."},
                        Case{R"("tty":{"rows":0,"cols":80})", "Invalid tty."},
                        Case{R"("tty":{"rows":24,"cols":100000})", "Invalid tty."},
                        Case{R"("tty":{"rows":24})", "Invalid tty."},
                        Case{R"("tty":true,"stdin":"pipe")", "Invalid stdin."}}) {
    HttpResult r = server.Post("/api/v0/processes/start", "{\"command\":\"true\"," + c.extra + "}");
    EXPECT_EQ(r.status, 400) << c.extra;
    EXPECT_EQ(Message(r), c.message) << c.extra;
  }
  const std::string id = server.Start("sleep 30", "\"stdin\":\"pipe\"");
  EXPECT_EQ(server.Post(Path(id, "input"), R"({"data":5})").status, 400);
  EXPECT_EQ(server.Post(Path(id, "input"), R"({"close":"yes"})").status, 400);
  EXPECT_EQ(server.Get(Path(id, "input")).status, 405);
  server.Post(Path(id, "signal"), R"({"signal":"kill"})");
}

TEST(Stdin, TheSameIdempotencyKeyWithAnotherStdinIsRefused) {
  Server server;
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "interact-1"}};
  const std::string id = server.Start("true", "\"stdin\":\"pipe\"", key);
  HttpResult same =
      server.Post("/api/v0/processes/start", R"({"stdin":"pipe","command":"true"})", key);
  EXPECT_EQ(same.status, 200);
  EXPECT_EQ(same.json.at("id").as_string(), id);
  HttpResult other = server.Post("/api/v0/processes/start", R"({"command":"true"})", key);
  EXPECT_EQ(other.status, 422) << other.body;
  HttpResult tty = server.Post("/api/v0/processes/start", R"({"command":"true","tty":true})", key);
  EXPECT_EQ(tty.status, 422) << tty.body;
}

HttpResult Resize(Server& server, const std::string& id, int rows, int cols) {
  return server.Post(Path(id, "resize"), "{\"rows\":" + std::to_string(rows) +
                                             ",\"cols\":" + std::to_string(cols) + "}");
}

TEST(Tty, TheCommandRunsOnAPseudoTerminal) {
  Server server;
  const std::string id = server.Start("tty", "\"tty\":true");
  auto done = server.WaitOutput(id);
  EXPECT_TRUE(Output(done).starts_with("/dev/pts/")) << Output(done);
  EXPECT_TRUE(Output(done).ends_with("\r\n")) << "the terminal writes NL as CRLF";
  EXPECT_EQ(done.at("exit_code").to_number<int>(), 0);
}

TEST(Tty, SttySizeShowsTheSizeAskedForAndFollowsAResize) {
  Server server;
  const std::string id = server.Start(
      "old=; while :; do s=$(stty size); [ \"$s\" != \"$old\" ] && echo \"size $s\"; old=$s; "
      "sleep 0.05; done",
      R"("tty":{"rows":30,"cols":100})");
  EXPECT_EQ(Listed(server, id).at("stdin").as_string(), "tty");
  ReadUntil(server, id, "size 30 100");
  HttpResult r = Resize(server, id, 40, 120);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json.at("rows").to_number<int>(), 40);
  ReadUntil(server, id, "size 40 120");
  server.Post(Path(id, "signal"), R"({"signal":"kill"})");
}

TEST(Tty, TheDefaultSizeIs24By80) {
  Server server;
  const std::string id = server.Start("stty size", "\"tty\":true");
  EXPECT_EQ(Output(server.WaitOutput(id)), "24 80\r\n");
}

TEST(Tty, ResizeWithoutATerminalOrOnceDoneIsAConflict) {
  Server server;
  const std::string plain = server.Start("sleep 30", "\"stdin\":\"pipe\"");
  HttpResult r = Resize(server, plain, 30, 100);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Message(r), "Process \"" + plain + "\" has no terminal.");
  const std::string done = server.Start("true", "\"tty\":true");
  server.WaitOutput(done);
  EXPECT_EQ(Message(Resize(server, done, 30, 100)), "Process \"" + done + "\" is not running.");
  EXPECT_EQ(Resize(server, plain, 0, 100).status, 400);
  EXPECT_EQ(Resize(server, plain, 30, 1001).status, 400);
  EXPECT_EQ(Resize(server, "no-such-id", 30, 100).status, 404);
  server.Post(Path(plain, "signal"), R"({"signal":"kill"})");
}

TEST(Tty, InputIsTypedAtTheTerminalAndCloseSendsEndOfFile) {
  Server server;
  const std::string id =
      server.Start("read x; echo \"got $x\"; cat; echo cat-done", "\"tty\":true");
  ASSERT_EQ(Input(server, id, "abc\n").status, 200);
  ReadUntil(server, id, "got abc");
  // A partial line: close needs two EOF characters, one to hand the line over, one to end.
  ASSERT_EQ(Input(server, id, "partial", /*close=*/true).status, 200);
  auto done = server.WaitOutput(id);
  EXPECT_NE(Output(done).find("cat-done"), std::string::npos) << Output(done);
  EXPECT_EQ(done.at("exit_code").to_number<int>(), 0);
}

TEST(Tty, ControlCInterruptsTheForegroundJob) {
  Server server;
  const std::string id =
      server.Start("echo ready; sleep 100; echo not-interrupted", "\"tty\":true");
  ReadUntil(server, id, "ready");
  ASSERT_EQ(Input(server, id, "\x03").status, 200);
  auto done = server.WaitOutput(id);
  EXPECT_EQ(done.at("exit_code").to_number<int>(), -1);
  EXPECT_EQ(done.at("exit_signal").as_string(), "SIGINT");
  EXPECT_EQ(done.at("ended_by").as_string(), "signal") << "no signal request was made";
  EXPECT_EQ(Output(done).find("not-interrupted"), std::string::npos);
}

// The command's environment, one KEY=VALUE a line, as `env` prints it.
std::map<std::string, std::string> EnvironmentOf(Server& server, const std::string& extra = "") {
  const std::string id = server.Start("env", extra);
  std::map<std::string, std::string> env;
  std::string text = Output(server.WaitOutput(id));
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (auto eq = line.find('='); eq != std::string::npos) {
      env[line.substr(0, eq)] = line.substr(eq + 1);
    }
    at = end + 1;
  }
  return env;
}

TEST(AgentEnv, CommandsGetTheAgentDefaultsOverTheServersEnvironment) {
  Server server({.env = {{"TERM", "xterm"}, {"PAGER", "less"}}});
  auto env = EnvironmentOf(server);
  const std::map<std::string, std::string> expected = {{"GIT_TERMINAL_PROMPT", "0"},
                                                       {"GIT_PAGER", "cat"},
                                                       {"PAGER", "cat"},
                                                       {"DEBIAN_FRONTEND", "noninteractive"},
                                                       {"PYTHONUNBUFFERED", "1"},
                                                       {"CI", "1"},
                                                       {"TERM", "dumb"},
                                                       {"NO_COLOR", "1"}};
  for (const auto& [key, value] : expected) EXPECT_EQ(env[key], value) << key;
}

TEST(AgentEnv, ATerminalCommandGetsAColourTerminal) {
  Server server;
  auto env = EnvironmentOf(server, "\"tty\":true");
  EXPECT_EQ(env["TERM"], "xterm-256color");
  EXPECT_FALSE(env.contains("NO_COLOR"));
  EXPECT_EQ(env["CI"], "1");
}

TEST(AgentEnv, TheRequestAndTheEnvHookOverrideTheDefaults) {
  const std::string hook = TempDir() + "/hook.env";
  std::ofstream(hook) << "PAGER=more\nCI=hooked\n";
  Server server({.args = {"--env-file", hook}});
  auto env = EnvironmentOf(server, R"("env":{"TERM":"vt100","CI":"0"})");
  EXPECT_EQ(env["TERM"], "vt100");
  EXPECT_EQ(env["CI"], "0") << "the request wins over the hook";
  EXPECT_EQ(env["PAGER"], "more") << "the hook wins over the defaults";
  EXPECT_EQ(env["NO_COLOR"], "1");
}

TEST(AgentEnv, NoAgentEnvLeavesTheServersEnvironmentAsItIs) {
  // Whatever the test runner's environment holds, the server's own values are these.
  std::map<std::string, std::string> own;
  for (const char* key : {"GIT_TERMINAL_PROMPT", "GIT_PAGER", "PAGER", "DEBIAN_FRONTEND",
                          "PYTHONUNBUFFERED", "CI", "TERM", "NO_COLOR"}) {
    own[key] = std::string("server-") + key;
  }
  Server server({.args = {"--no-agent-env"}, .env = own});
  auto env = EnvironmentOf(server);
  for (const auto& [key, value] : own) EXPECT_EQ(env[key], value) << key;
  auto on_terminal = EnvironmentOf(server, "\"tty\":true");
  EXPECT_EQ(on_terminal["TERM"], "server-TERM");
}

TEST(AgentEnv, PythonPrintsArriveAsTheyHappen) {
  Server server;
  const std::string id =
      server.Start("python3 -c 'import time\nfor i in range(3): print(i); time.sleep(1)'");
  // A pipe makes Python buffer its prints until exit, unless PYTHONUNBUFFERED is set.
  auto first = Read(server, id, "wait=output&timeout_ms=20000");
  // (Unbuffered, print writes the text and its newline apart: the newline may come later.)
  EXPECT_TRUE(std::string(first.at("data").as_string()).starts_with("0")) << first.at("data");
  EXPECT_TRUE(first.at("running").as_bool()) << "the first print came before the exit";
  EXPECT_EQ(Output(server.WaitOutput(id)), "0\n1\n2\n");
}

bool Waiting(const json::object& o) {
  return o.contains("waiting_for_input") && o.at("waiting_for_input").as_bool();
}

TEST(WaitingForInput, AShellReadingItsPipeIsSeenWaitingInListOutputAndRead) {
  Server server;
  const std::string id =
      server.Start("printf 'name? '; read x; echo \"hi $x\"", "\"stdin\":\"pipe\"");
  ASSERT_TRUE(Eventually([&] { return Waiting(Listed(server, id)); }));
  EXPECT_TRUE(Waiting(Object(server.Get(Path(id, "output")))));
  auto read = Read(server, id);
  EXPECT_TRUE(Waiting(read));
  EXPECT_EQ(read.at("data").as_string(), "name? ") << "the prompt comes with the state";
  ASSERT_EQ(Input(server, id, "bob\n").status, 200);
  EXPECT_FALSE(Waiting(Listed(server, id))) << "given its input, it no longer waits";
  EXPECT_EQ(Output(server.WaitOutput(id)), "name? hi bob\n");
}

TEST(WaitingForInput, ABusyLoopNeverWaits) {
  Server server;
  const std::string id = server.Start("while :; do :; done", "\"stdin\":\"pipe\"");
  for (int i = 0; i < 10; ++i) {
    auto listed = Listed(server, id);
    ASSERT_TRUE(listed.contains("waiting_for_input"));
    EXPECT_FALSE(listed.at("waiting_for_input").as_bool());
    ::usleep(100 * 1000);
  }
  const std::string sleeper = server.Start("sleep 30", "\"stdin\":\"pipe\"");
  ::usleep(300 * 1000);
  EXPECT_FALSE(Waiting(Listed(server, sleeper))) << "asleep, but not reading its input";
  server.Post(Path(id, "signal"), R"({"signal":"kill"})");
  server.Post(Path(sleeper, "signal"), R"({"signal":"kill"})");
}

TEST(WaitingForInput, PythonAskingOnATerminalIsSeenWaiting) {
  Server server;
  const std::string id =
      server.Start("python3 -c \"print('hello', input('name? '))\"", "\"tty\":true");
  ASSERT_TRUE(Eventually([&] { return Waiting(Listed(server, id)); }));
  EXPECT_NE(std::string(Read(server, id).at("data").as_string()).find("name? "), std::string::npos);
  ASSERT_EQ(Input(server, id, "ann\r").status, 200);
  auto done = server.WaitOutput(id);
  EXPECT_NE(Output(done).find("hello ann"), std::string::npos) << Output(done);
  EXPECT_EQ(done.at("exit_code").to_number<int>(), 0);
}

TEST(WaitingForInput, ReadWaitIdleEndsWhenTheCommandWaitsForInput) {
  Server server;
  // Were the wait to go on, the background job's line would come within it.
  const std::string id =
      server.Start("(sleep 8; echo late) & printf 'name? '; read x", "\"stdin\":\"pipe\"");
  auto idle = Read(server, id, "wait=idle&idle_ms=60000&timeout_ms=60000");
  EXPECT_TRUE(Waiting(idle));
  EXPECT_TRUE(idle.at("running").as_bool());
  EXPECT_EQ(idle.at("data").as_string(), "name? ");
  Input(server, id, "x\n", /*close=*/true);
  server.WaitOutput(id);
}

TEST(WaitingForInput, ACommandJustGivenItsInputIsNotSeenWaiting) {
  Server server;
  // Each line has it sleep a second: right after the input it is busy with it, never waiting.
  // Its read, woken by our write, can still look asleep in /proc for a moment on another CPU:
  // that moment must not make it look waiting.
  const std::string id = server.Start("exec " + kHelper + " prompt", "\"stdin\":\"pipe\"");
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(Waiting(Read(server, id, "wait=idle&idle_ms=60000&timeout_ms=60000")));
    ASSERT_EQ(Input(server, id, "1000\n").status, 200);
    EXPECT_FALSE(Waiting(Object(server.Get(Path(id, "output"))))) << "cycle " << i;
  }
  Input(server, id, "", /*close=*/true);
  server.WaitOutput(id);
}

TEST(WaitingForInput, AStreamSendsTheStateAfterThePrompt) {
  Server server;
  const std::string id =
      server.Start("printf 'name? '; read x; echo \"hi $x\"", "\"stdin\":\"pipe\"");
  RawConnection c(server.host(), server.port());
  ASSERT_TRUE(c.Send("GET " + Path(id, "stream") + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"));
  std::string got;
  ASSERT_TRUE(c.ReadUntil(got, "event: state\ndata: {\"waiting_for_input\":true}")) << got;
  const std::size_t prompt = got.find(R"("data":"name? ")");
  ASSERT_NE(prompt, std::string::npos) << got;
  EXPECT_LT(prompt, got.find("{\"waiting_for_input\":true}"));
  ASSERT_EQ(Input(server, id, "bob\n").status, 200);
  ASSERT_TRUE(c.ReadUntil(got, "event: exit")) << got;
  const std::size_t answered = got.find("hi bob");
  EXPECT_NE(answered, std::string::npos) << got;
  EXPECT_LT(got.find("{\"waiting_for_input\":false}"), got.find("event: exit"));
}

}  // namespace
}  // namespace corral::testing
