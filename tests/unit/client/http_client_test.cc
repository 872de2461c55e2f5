// The HTTP client against a real Unix socket served by a scriptable server: answers, deadlines,
// stops, and waits asked for in slices.
#include "client/http_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <thread>

#include "client/corral_client.h"
#include "unit/client/scripted_server.h"

namespace corral::client {
namespace {

namespace json = boost::json;
using testing::ScriptedServer;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(HttpClient, SendsARequestAndReadsTheAnswerOnOneConnection) {
  ScriptedServer server([](std::string_view target) {
    return std::pair<int, std::string>(200, "{\"target\":\"" + std::string(target) + "\"}");
  });
  HttpClient http(server.destination());
  for (int i = 0; i < 3; ++i) {
    auto r = http.Send("GET", "/x", {}, 5s);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "{\"target\":\"/x\"}");
  }
}

TEST(HttpClient, NoServerIsUnavailableAndSaysHowToStartOne) {
  HttpClient http({{.is_unix = true, .path = "/nonexistent/corral.sock"}, "", ""});
  auto r = http.Send("GET", "/", {}, 5s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), base::Code::kUnavailable);
  EXPECT_NE(r.status().message().find("corral serve"), std::string::npos);
}

TEST(HttpClient, AServerThatNeverAnswersFailsAtTheDeadline) {
  ScriptedServer server([](std::string_view) { return std::nullopt; });
  HttpClient http(server.destination());
  auto r = http.Send("GET", "/hang", {}, 300ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), base::Code::kUnavailable);
  EXPECT_NE(r.status().message().find("stopped answering"), std::string::npos)
      << r.status().message();
}

TEST(HttpClient, AStopAbandonsTheExchange) {
  ScriptedServer server([](std::string_view) { return std::nullopt; });
  HttpClient http(server.destination());
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(100ms);
    stop.request_stop();
  });
  auto r = http.Send("GET", "/hang", {}, std::chrono::hours(1), stop.get_token());
  stopper.join();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(stop.stop_requested());
  // Already stopped: it does not even begin.
  EXPECT_FALSE(http.Send("GET", "/hang", {}, std::chrono::hours(1), stop.get_token()).ok());
}

TEST(HttpClient, RecoversAfterAnAbandonedExchange) {
  std::atomic<bool> hang{true};
  ScriptedServer server([&](std::string_view) -> std::optional<std::pair<int, std::string>> {
    if (hang) return std::nullopt;
    return std::pair<int, std::string>(200, "{}");
  });
  HttpClient http(server.destination());
  EXPECT_FALSE(http.Send("GET", "/", {}, 200ms).ok());
  hang = false;
  auto r = http.Send("GET", "/", {}, 5s);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
}

TEST(CorralClient, LongWaitsAreAskedForInSlices) {
  ScriptedServer server([](std::string_view) {
    return std::pair<int, std::string>(200, R"({"output":"","running":true,"command":"x"})");
  });
  HttpClient http(server.destination());
  CorralClient api(http, {.answer = 2s, .wait_slice = 100ms});
  int slices = 0;
  auto out = api.WaitOutput("id", Clock::now() + 350ms, {}, [&](const json::object&) { ++slices; });
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->at("running"), true) << "the deadline won";
  const auto targets = server.targets();
  ASSERT_GE(targets.size(), 4u);
  for (const auto& t : targets) {
    ASSERT_TRUE(t.starts_with("/api/v0/processes/id/output?wait=true&timeout_ms=")) << t;
    EXPECT_LE(std::stoi(t.substr(t.rfind('=') + 1)), 100) << t;
  }
  EXPECT_EQ(slices, static_cast<int>(targets.size()) - 1);
}

TEST(CorralClient, AWaitEndsWhenTheProcessIsDone) {
  std::atomic<int> asked{0};
  ScriptedServer server([&](std::string_view) {
    const bool running = ++asked < 3;
    return std::pair<int, std::string>(200,
                                       std::string(R"({"output":"x","command":"c","running":)") +
                                           (running ? "true" : "false,\"exit_code\":3") + "}");
  });
  HttpClient http(server.destination());
  CorralClient api(http, {.answer = 2s, .wait_slice = 50ms});
  auto out = api.WaitOutput("id", std::nullopt);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(ShellExitStatus(*out), 3);
  EXPECT_EQ(asked, 3);
}

TEST(CorralClient, AServerThatStopsAnsweringMidWaitIsNoticed) {
  std::atomic<int> asked{0};
  ScriptedServer server([&](std::string_view) -> std::optional<std::pair<int, std::string>> {
    if (++asked > 1) return std::nullopt;
    return std::pair<int, std::string>(200, R"({"output":"","running":true,"command":"c"})");
  });
  HttpClient http(server.destination());
  CorralClient api(http, {.answer = 200ms, .wait_slice = 100ms});
  auto out = api.WaitOutput("id", std::nullopt);  // no deadline of its own
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("stopped answering"), std::string::npos);
}

TEST(CorralClient, ServerErrorsCarryMessageDetailAndCode) {
  ScriptedServer server([](std::string_view) {
    return std::pair<int, std::string>(404, R"({"message":"Process \"x\" not found."})");
  });
  HttpClient http(server.destination());
  CorralClient api(http);
  auto out = api.Output("x");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), base::Code::kNotFound);
  EXPECT_EQ(out.status().message(), "Process \"x\" not found.");
}

TEST(CorralClient, ListAsksForALimit) {
  ScriptedServer server(
      [](std::string_view) { return std::pair<int, std::string>(200, R"({"processes":[]})"); });
  HttpClient http(server.destination());
  CorralClient api(http);
  ASSERT_TRUE(api.List(50).ok());
  ASSERT_TRUE(api.List().ok());
  EXPECT_EQ(server.targets(), (std::vector<std::string>{"/api/v0/processes/list?limit=50",
                                                        "/api/v0/processes/list"}));
}

TEST(ShellExitStatus, IsTheCodeOr128PlusTheSignal) {
  EXPECT_EQ(ShellExitStatus(json::parse(R"({"exit_code":7})").as_object()), 7);
  EXPECT_EQ(ShellExitStatus(json::parse(R"({"exit_code":-1,"exit_signal":"SIGKILL"})").as_object()),
            137);
  EXPECT_EQ(ShellExitStatus(json::parse(R"({"exit_code":-1,"exit_signal":"SIGTERM"})").as_object()),
            143);
}

}  // namespace
}  // namespace corral::client
