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

// A read answer: `data` from `offset` to `next`, of `total` bytes written.
std::pair<int, std::string> ReadAnswer(std::string data, int offset, int next, int total,
                                       bool running, bool eof) {
  json::object o{{"data", data},         {"offset", offset}, {"next_offset", next},
                 {"total_bytes", total}, {"eof", eof},       {"running", running}};
  if (!running) o["exit_code"] = 3;
  return {200, json::serialize(o)};
}

TEST(CorralClient, FollowHandsOverEachChunkAndEndsAtEof) {
  std::atomic<int> asked{0};
  ScriptedServer server([&](std::string_view) {
    switch (++asked) {
      case 1:
        return ReadAnswer("ab", 0, 2, 2, true, false);
      case 2:
        return ReadAnswer("", 2, 2, 2, true, false);  // a slice passed in silence
      default:
        return ReadAnswer("cd", 2, 4, 4, false, true);
    }
  });
  HttpClient http(server.destination());
  CorralClient api(http, {.answer = 2s, .follow_slice = 100ms});
  std::uint64_t offset = 0;
  std::string printed;
  auto last = api.Follow("id", &offset, false, std::nullopt, {},
                         [&](const json::object& r) { printed += r.at("data").as_string(); });
  ASSERT_TRUE(last.ok()) << last.status().message();
  EXPECT_EQ(printed, "abcd");
  EXPECT_EQ(offset, 4u);
  EXPECT_EQ(ShellExitStatus(*last), 3);
  const auto targets = server.targets();
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[1],
            "/api/v0/processes/id/read?offset=2&limit=1048576&wait=output&timeout_ms=100");
}

TEST(CorralClient, FollowEndsWhenDoneThoughLeftoversHoldTheOutputOpen) {
  // Done and read to the end, but no eof: leftovers of the command hold its pipe.
  ScriptedServer caught_up([](std::string_view) { return ReadAnswer("", 5, 5, 5, false, false); });
  HttpClient http(caught_up.destination());
  CorralClient api(http, {.answer = 2s, .follow_slice = 100ms});
  std::uint64_t offset = 5;
  auto last = api.Follow("id", &offset, false, std::nullopt, {}, {});
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(caught_up.targets().size(), 1u);
  // Done, with a partial character pending that a whole slice did not complete.
  ScriptedServer partial([](std::string_view) { return ReadAnswer("", 5, 5, 6, false, false); });
  HttpClient http2(partial.destination());
  CorralClient api2(http2, {.answer = 2s, .follow_slice = 100ms});
  auto ended = api2.Follow("id", &offset, false, std::nullopt, {}, {});
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(partial.targets().size(), 1u);
  EXPECT_EQ(offset, 5u);
}

TEST(CorralClient, FollowReturnsTheRunningStateAtTheDeadline) {
  ScriptedServer server([](std::string_view) { return ReadAnswer("", 0, 0, 0, true, false); });
  HttpClient http(server.destination());
  CorralClient api(http, {.answer = 2s, .follow_slice = 100ms});
  std::uint64_t offset = 0;
  auto last = api.Follow("id", &offset, false, Clock::now() + 250ms, {}, {});
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->at("running"), true);
  EXPECT_GE(server.targets().size(), 2u) << "asked in slices of 100 ms";
}

TEST(CorralClient, AReplayedStartIsToldApart) {
  ScriptedServer server([](std::string_view) {
    return std::pair<int, std::string>(200, R"({"id":"p1","started":true})");
  });
  HttpClient http(server.destination());
  CorralClient api(http);
  bool replayed = true;
  ASSERT_TRUE(api.Start({.command = "x", .idempotency_key = "k"}, &replayed).ok());
  EXPECT_FALSE(replayed) << "no Idempotent-Replayed header";
  EXPECT_EQ(FindHeader({{"idempotent-replayed", "true"}}, "Idempotent-Replayed"), "true");
  EXPECT_EQ(FindHeader({{"Other", "x"}}, "Idempotent-Replayed"), "");
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
