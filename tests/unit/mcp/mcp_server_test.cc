// McpServer::HandleLine, one message at a time: every JSON-RPC error, every tool's argument
// checks, and tool calls against a scripted corral server.
#include "mcp/mcp_server.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <boost/json.hpp>
#include <ext/stdio_filebuf.h>
#include <set>
#include <sstream>

#include "mcp/tools.h"
#include "unit/client/scripted_server.h"

namespace corral::mcp {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// A server no call can reach: argument checks come before any connection.
McpServer Unreachable() {
  return McpServer({{.is_unix = true, .path = "/nonexistent/corral.sock"}, "", ""});
}

std::string Call(std::string_view tool, std::string_view arguments, int id = 1) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
         R"(,"method":"tools/call","params":{"name":")" + std::string(tool) + R"(","arguments":)" +
         std::string(arguments) + "}}";
}

// A read answer with nothing in `data` (what the tools ask to learn the byte count).
std::pair<int, std::string> ReadAnswer(int total_bytes, bool running) {
  json::object o{{"data", ""},      {"offset", 0},        {"next_offset", 0},
                 {"eof", !running}, {"running", running}, {"total_bytes", total_bytes}};
  if (!running) o["exit_code"] = 0;
  return {200, json::serialize(o)};
}

// The timeout_ms a wait asked the server for.
long long TimeoutMs(const std::string& target) {
  return std::stoll(target.substr(target.rfind("timeout_ms=") + 11));
}

struct ErrorCase {
  std::string name;
  std::string line;
  json::value id;  // the id the error must carry
  int code;
  std::string data_has;  // a piece of the error's data (or message), if not empty
};

TEST(HandleLine, AnswersEveryMalformedMessageWithTheRightError) {
  const ErrorCase cases[] = {
      {"not JSON", "not json", nullptr, -32700, ""},
      {"cut JSON", R"({"jsonrpc":"2.0","id":1,)", nullptr, -32700, ""},
      {"an array", "[1, 2]", nullptr, -32600, "JSON object"},
      {"a string", "\"ping\"", nullptr, -32600, ""},
      {"no method", R"({"jsonrpc":"2.0","id":5})", 5, -32600, ""},
      {"old version", R"({"jsonrpc":"1.0","id":1,"method":"ping"})", 1, -32600, ""},
      {"no version", R"({"id":1,"method":"ping"})", 1, -32600, ""},
      {"method not a string", R"({"jsonrpc":"2.0","id":2,"method":7})", 2, -32600, ""},
      {"id an object", R"({"jsonrpc":"2.0","id":{},"method":"ping"})", nullptr, -32600, ""},
      {"id a float", R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})", nullptr, -32600, ""},
      {"unknown method", R"({"jsonrpc":"2.0","id":"a","method":"x/y"})", "a", -32601, "x/y"},
      {"params an array", R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":[]})", 3,
       -32602, "params must be an object"},
      {"unknown tool", Call("no_such_tool", "{}"), 1, -32602, "Unknown tool: no_such_tool"},
      {"no tool name", R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}})", 1, -32602,
       "\"name\""},
      {"arguments not an object", Call("list_processes", "[]"), 1, -32602, "arguments"},
      // run_command
      {"run: no command", Call("run_command", "{}"), 1, -32602, "\"command\""},
      {"run: empty command", Call("run_command", R"({"command":""})"), 1, -32602, "empty"},
      {"run: command a number", Call("run_command", R"({"command":1})"), 1, -32602, "string"},
      {"run: workdir a bool", Call("run_command", R"({"command":"x","workdir":true})"), 1, -32602,
       "\"workdir\""},
      {"run: env an array", Call("run_command", R"({"command":"x","env":[]})"), 1, -32602,
       "\"env\""},
      {"run: env value a number", Call("run_command", R"({"command":"x","env":{"A":1}})"), 1,
       -32602, "\"env\""},
      {"run: background a string", Call("run_command", R"({"command":"x","background":"yes"})"), 1,
       -32602, "boolean"},
      {"run: timeout a string", Call("run_command", R"({"command":"x","timeout_ms":"soon"})"), 1,
       -32602, "integer"},
      {"run: timeout negative", Call("run_command", R"({"command":"x","timeout_ms":-1})"), 1,
       -32602, ">= 0"},
      {"run: timeout fractional", Call("run_command", R"({"command":"x","timeout_ms":1.5})"), 1,
       -32602, "integer"},
      // process_output
      {"output: no id", Call("process_output", "{}"), 1, -32602, "\"id\""},
      {"output: wait a string", Call("process_output", R"({"id":"x","wait_ms":"1"})"), 1, -32602,
       "integer"},
      // list_processes
      {"list: limit zero", Call("list_processes", R"({"limit":0})"), 1, -32602, ">= 1"},
      {"list: limit a string", Call("list_processes", R"({"limit":"5"})"), 1, -32602, "integer"},
      // signal_process
      {"signal: no signal", Call("signal_process", R"({"id":"x"})"), 1, -32602, "\"signal\""},
      {"signal: no id", Call("signal_process", R"({"signal":"kill"})"), 1, -32602, "\"id\""},
      {"signal: hup", Call("signal_process", R"({"id":"x","signal":"hup"})"), 1, -32602,
       "terminate"},
  };
  const McpServer server = Unreachable();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto reply = server.HandleLine(c.line);
    ASSERT_TRUE(reply.has_value());
    const json::value v = json::parse(*reply);
    EXPECT_EQ(v.at("jsonrpc"), "2.0");
    EXPECT_EQ(v.at("id"), c.id);
    EXPECT_EQ(v.at("error").at("code"), c.code) << *reply;
    const auto& error = v.at("error").as_object();
    std::string text(error.at("message").as_string());
    if (auto* data = error.if_contains("data")) text += " " + std::string(data->as_string());
    EXPECT_NE(text.find(c.data_has), std::string::npos) << *reply;
  }
}

TEST(HandleLine, NotificationsResponsesAndBlankLinesGetNoAnswer) {
  const McpServer server = Unreachable();
  for (const char* line : {
           "",
           "   \r",
           R"({"jsonrpc":"2.0","method":"notifications/initialized"})",
           R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}})",
           R"({"jsonrpc":"2.0","method":"no/such/notification"})",
           R"({"jsonrpc":"2.0","id":9,"result":{}})",
           R"({"jsonrpc":"2.0","id":9,"error":{"code":1,"message":"x"}})",
       }) {
    EXPECT_FALSE(server.HandleLine(line).has_value()) << line;
  }
}

TEST(HandleLine, InitializeNegotiatesTheVersion) {
  const McpServer server = Unreachable();
  auto reply = [&](std::string_view version) {
    return json::parse(*server.HandleLine(
        std::string(
            R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":")") +
        std::string(version) + "\"}}"));
  };
  EXPECT_EQ(reply("2025-03-26").at("result").at("protocolVersion"), "2025-03-26");
  EXPECT_EQ(reply("1999-01-01").at("result").at("protocolVersion").as_string(), kProtocolVersion);
  EXPECT_EQ(reply("2025-06-18").at("result").at("serverInfo").at("name"), "corral");
}

TEST(HandleLine, ToolsListHasEveryTool) {
  const McpServer server = Unreachable();
  auto v = json::parse(*server.HandleLine(R"({"jsonrpc":"2.0","id":"t","method":"tools/list"})"));
  std::vector<std::string> names;
  for (const auto& t : v.at("result").at("tools").as_array()) {
    names.emplace_back(t.at("name").as_string());
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"run_command", "send_input", "process_output",
                                      "wait_processes", "list_processes", "signal_process"}));
}

TEST(HandleLine, AnUnreachableServerIsAToolErrorNotAProtocolError) {
  const McpServer server = Unreachable();
  auto v = json::parse(*server.HandleLine(Call("list_processes", "{}", 4)));
  EXPECT_EQ(v.at("id"), 4);
  EXPECT_EQ(v.at("result").at("isError"), true);
  EXPECT_NE(json::serialize(v).find("corral serve"), std::string::npos);
}

TEST(HandleLine, RunCommandStartsThenWaitsInSlices) {
  std::vector<std::string> seen;
  testing::ScriptedServer corral([](std::string_view target) {
    if (target == "/api/v0/processes/start") {
      return std::pair<int, std::string>(200, R"({"id":"p1","started":true})");
    }
    if (target.find("/read?") != std::string_view::npos) return ReadAnswer(3, false);
    return std::pair<int, std::string>(
        200, R"({"output":"hi\n","running":false,"exit_code":0,"command":"echo hi"})");
  });
  McpServer server(corral.destination());
  auto v = json::parse(*server.HandleLine(Call("run_command", R"({"command":"echo hi"})")));
  const auto& result = v.at("result");
  EXPECT_EQ(result.at("isError"), false);
  EXPECT_EQ(result.at("structuredContent").at("id"), "p1");
  EXPECT_EQ(result.at("structuredContent").at("output"), "hi\n");
  EXPECT_EQ(result.at("structuredContent").at("next_offset"), 3) << "the read's total_bytes";
  EXPECT_FALSE(result.at("structuredContent").as_object().contains("command"));
  const auto targets = corral.targets();
  ASSERT_EQ(targets.size(), 5u) << "start, wait, then read, output, read";
  EXPECT_TRUE(targets[1].starts_with("/api/v0/processes/p1/output?wait=true&timeout_ms="));
  EXPECT_EQ(TimeoutMs(targets[1]) / 1000, 9) << "the default 10 s, less what has passed";
  EXPECT_EQ(targets[3], "/api/v0/processes/p1/output");
}

TEST(HandleLine, ProcessOutputFromAnOffsetReadsABoundedPieceAndSaysWhatIsLeft) {
  testing::ScriptedServer corral([](std::string_view) {
    return std::pair<int, std::string>(
        200, R"({"data":"xyz","offset":5,"next_offset":8,"total_bytes":100000,"eof":false,)"
             R"("running":true})");
  });
  McpServer server(corral.destination());
  auto v = json::parse(*server.HandleLine(Call("process_output", R"({"id":"p","offset":5})")));
  const auto& result = v.at("result");
  ASSERT_EQ(result.at("isError"), false) << v;
  const auto& o = result.at("structuredContent");
  EXPECT_EQ(o.at("output"), "xyz");
  EXPECT_FALSE(o.as_object().contains("data"));
  EXPECT_EQ(o.at("next_offset"), 8);
  EXPECT_EQ(o.at("remaining_bytes"), 100000 - 8);
  EXPECT_EQ(corral.targets(), std::vector<std::string>{"/api/v0/processes/p/read?offset=5&limit=" +
                                                       std::to_string(kMaxReadBytes)});
  const std::string text(result.at("content").at(0).at("text").as_string());
  EXPECT_NE(text.find("99992 more bytes"), std::string::npos) << text;
  EXPECT_NE(text.find("offset=8"), std::string::npos) << text;

  auto bad = json::parse(*server.HandleLine(Call("process_output", R"({"id":"p","offset":-1})")));
  EXPECT_EQ(bad.at("error").at("code"), -32602);
}

TEST(HandleLine, AWaitWithoutProgressIsCappedBelowTheSdksTimeout) {
  testing::ScriptedServer corral([](std::string_view) {
    return std::pair<int, std::string>(
        200, R"({"output":"","running":false,"exit_code":0,"command":"x"})");
  });
  McpServer server(corral.destination(), {.deadlines = {.answer = 10s, .wait_slice = 600s}});
  server.HandleLine(Call("process_output", R"({"id":"p","wait_ms":600000})"));
  ASSERT_GE(corral.targets().size(), 1u);
  ASSERT_TRUE(corral.targets()[0].starts_with("/api/v0/processes/p/output?wait=true"));
  const long long asked = TimeoutMs(corral.targets()[0]);
  EXPECT_LE(asked, kMaxWaitWithoutProgress.count());
  EXPECT_GT(asked, kMaxWaitWithoutProgress.count() - 1000);
}

TEST(Run, AnswersEveryRequestAndEndsAtEndOfInput) {
  const McpServer server = Unreachable();
  std::istringstream in(std::string(R"({"jsonrpc":"2.0","id":1,"method":"ping"})") + "\n" +
                        Call("list_processes", "{}", 2) + "\n" + "garbage\n");
  std::ostringstream out;
  server.Run(in, out);
  std::istringstream lines(out.str());
  std::set<std::string> ids;
  std::string line;
  while (std::getline(lines, line)) ids.insert(json::serialize(json::parse(line).at("id")));
  EXPECT_EQ(ids, (std::set<std::string>{"1", "2", "null"}));
}

}  // namespace
}  // namespace corral::mcp

namespace corral::mcp {
namespace {

// A corral server whose waits never end: only a stop ends a tool's wait.
std::optional<std::pair<int, std::string>> NeverDone(std::string_view target) {
  if (target == "/api/v0/processes/start") {
    return std::pair<int, std::string>(200, R"({"id":"p1","started":true})");
  }
  if (target.find("wait=true") != std::string_view::npos) return std::nullopt;
  if (target.find("/read?") != std::string_view::npos) return ReadAnswer(6, true);
  return std::pair<int, std::string>(200, R"({"output":"so far","running":true,"command":"x"})");
}

std::vector<json::value> Lines(const std::string& text) {
  std::vector<json::value> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(json::parse(line));
  return lines;
}

TEST(Run, EndOfInputEndsWaitsAndAnswersWithTheStateSoFar) {
  testing::ScriptedServer corral(NeverDone);
  McpServer server(corral.destination(), {.deadlines = {.answer = 600s, .wait_slice = 600s}});
  std::istringstream in(Call("run_command", R"({"command":"x","yield_ms":40000})", 3) + "\n");
  std::ostringstream out;
  server.Run(in, out);
  auto lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 1u) << out.str();
  EXPECT_EQ(lines[0].at("id"), 3);
  EXPECT_EQ(lines[0].at("result").at("isError"), false) << out.str();
  EXPECT_EQ(lines[0].at("result").at("structuredContent").at("running"), true);
  EXPECT_EQ(lines[0].at("result").at("structuredContent").at("output"), "so far");
}

TEST(Run, ACancelledCallIsNeverAnswered) {
  testing::ScriptedServer corral(NeverDone);
  McpServer server(corral.destination(), {.deadlines = {.answer = 600s, .wait_slice = 600s}});
  std::istringstream in(
      Call("run_command", R"({"command":"x","yield_ms":40000})", 7) + "\n" +
      R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}})" + "\n" +
      R"({"jsonrpc":"2.0","id":8,"method":"ping"})" + "\n");
  std::ostringstream out;
  server.Run(in, out);
  auto lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 1u) << out.str();
  EXPECT_EQ(lines[0].at("id"), 8);
}

TEST(Run, ProgressIsNotifiedWhenAskedFor) {
  testing::ScriptedServer corral([](std::string_view target) {
    if (target == "/api/v0/processes/start") {
      return std::pair<int, std::string>(200, R"({"id":"p1","started":true})");
    }
    return std::pair<int, std::string>(200, R"({"output":"","running":true,"command":"x"})");
  });
  McpServer server(corral.destination(), {.deadlines = {.answer = 5s, .wait_slice = 50ms}});
  // Input that stays open until the wait is over: end of input would end it at once.
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const std::string line =
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run_command",)"
      R"("arguments":{"command":"x","yield_ms":300},"_meta":{"progressToken":"tok"}}})"
      "\n";
  ASSERT_EQ(::write(pipe_fds[1], line.data(), line.size()), static_cast<ssize_t>(line.size()));
  std::thread closer([&] {
    std::this_thread::sleep_for(1s);
    ::close(pipe_fds[1]);
  });
  __gnu_cxx::stdio_filebuf<char> buffer(pipe_fds[0], std::ios::in);
  std::istream in(&buffer);
  std::ostringstream out;
  server.Run(in, out);
  closer.join();
  auto lines = Lines(out.str());
  ASSERT_GE(lines.size(), 3u) << out.str();
  double last = 0;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(lines[i].at("method"), "notifications/progress");
    EXPECT_EQ(lines[i].at("params").at("progressToken"), "tok");
    EXPECT_EQ(lines[i].at("params").at("total"), 300);
    const double progress = lines[i].at("params").at("progress").to_number<double>();
    EXPECT_GT(progress, last) << "progress only grows";
    last = progress;
  }
  EXPECT_EQ(lines.back().at("id"), 1);
}

}  // namespace
}  // namespace corral::mcp
