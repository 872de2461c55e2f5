// GET /api/v0/processes/wait (DESIGN §7.5), through the real binary: any or all of several
// processes, timeouts, chats, bad queries, disconnects and shutdown.
#include <signal.h>

#include <gtest/gtest.h>

#include "harness.h"

namespace corral::testing {
namespace {

namespace json = boost::json;

const std::string kWait = "/api/v0/processes/wait";
const std::string kChatA = "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b";
const std::string kChatB = "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5c";

// (id, running) of each process of a /wait answer, in its order.
std::vector<std::pair<std::string, bool>> States(const HttpResult& r) {
  std::vector<std::pair<std::string, bool>> out;
  for (const auto& p : r.json.at("processes").as_array()) {
    out.emplace_back(std::string(p.at("id").as_string()), p.at("running").as_bool());
  }
  return out;
}

void Kill(Server& server, const std::string& id) {
  server.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})");
}

TEST(WaitMany, AnyAnswersOnceTheFirstIsDoneInTheOrderOfIds) {
  Server server;
  const std::string slow = server.Start("sleep 100"), fast = server.Start("sleep 0.3");
  auto r = server.Get(kWait + "?ids=" + slow + "," + fast);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(States(r), (std::vector<std::pair<std::string, bool>>{{slow, true}, {fast, false}}));
  const auto& done = r.json.at("processes").as_array()[1].as_object();
  EXPECT_EQ(done.at("exit_code"), 0);
  EXPECT_EQ(done.at("ended_by"), "exit");
  EXPECT_EQ(r.json.at("processes").as_array()[0].at("listening_ports"), json::array())
      << "a running one shows what it listens on";
  Kill(server, slow);
}

TEST(WaitMany, AllAnswersOnceEveryOneIsDone) {
  Server server;
  const std::string a = server.Start("sleep 0.2"), b = server.Start("sleep 0.6; exit 3");
  auto r = server.Get(kWait + "?ids=" + a + "," + b + "&until=all");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(States(r), (std::vector<std::pair<std::string, bool>>{{a, false}, {b, false}}));
  EXPECT_EQ(r.json.at("processes").as_array()[1].at("exit_code"), 3);
}

TEST(WaitMany, ATimeoutAnswers200WithTheRunningOnes) {
  Server server;
  const std::string a = server.Start("sleep 100"), b = server.Start("sleep 100");
  auto r = server.Get(kWait + "?ids=" + b + "," + a + "&until=all&timeout_ms=200");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(States(r), (std::vector<std::pair<std::string, bool>>{{b, true}, {a, true}}));
  auto now = server.Get(kWait + "?ids=" + a + "&timeout_ms=0");
  EXPECT_EQ(now.status, 200) << "timeout_ms=0 answers at once: " << now.body;
  EXPECT_TRUE(States(now)[0].second);
  Kill(server, a);
  Kill(server, b);
}

TEST(WaitMany, AnswersAtOnceWhenOneIsDoneAlready) {
  Server server;
  const std::string done = server.Start("true"), running = server.Start("sleep 100");
  server.WaitOutput(done);
  auto r = server.Get(kWait + "?ids=" + running + "," + done + "&timeout_ms=60000");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(States(r), (std::vector<std::pair<std::string, bool>>{{running, true}, {done, false}}));
  Kill(server, running);
}

TEST(WaitMany, AnUnknownIdIs404NamingTheFirst) {
  Server server;
  const std::string id = server.Start("sleep 100");
  auto r = server.Get(kWait + "?ids=" + id + ",no-such-1,no-such-2");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.json.at("message"), "Process \"no-such-1\" not found.");
  Kill(server, id);
}

TEST(WaitMany, AnotherChatsProcessIsNotFound) {
  Server server;
  const std::string mine = server.Start("sleep 100", "", {{"Coder-Chat-Id", kChatA}});
  const std::string theirs = server.Start("sleep 100", "", {{"Coder-Chat-Id", kChatB}});
  auto r = server.Get(kWait + "?ids=" + mine + "," + theirs + "&timeout_ms=0",
                      {{"Coder-Chat-Id", kChatA}});
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.json.at("message").as_string(), "Process \"" + theirs + "\" not found.");
  EXPECT_EQ(
      server.Get(kWait + "?ids=" + mine + "&timeout_ms=0", {{"Coder-Chat-Id", kChatA}}).status,
      200);
  EXPECT_EQ(server.Get(kWait + "?ids=" + mine + "," + theirs + "&timeout_ms=0").status, 200)
      << "without a chat everything is visible";
  Kill(server, mine);
  Kill(server, theirs);
}

TEST(WaitMany, BadQueriesAre400NamingTheParameter) {
  Server server;
  const std::string id = server.Start("true");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "Invalid ids."},
      {"?ids=", "Invalid ids."},
      {"?ids=" + id + ",", "Invalid ids."},
      {"?ids=" + id + "," + id, "Invalid ids."},
      {"?ids=" + id + "&until=every", "Invalid until."},
      {"?ids=" + id + "&timeout_ms=-5", "Invalid timeout_ms."},
      {"?ids=" + id + "&timeout_ms=1.5", "Invalid timeout_ms."},
  };
  for (const auto& [query, message] : cases) {
    auto r = server.Get(kWait + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_EQ(r.json.at("message").as_string(), message) << query;
  }
  EXPECT_EQ(server.Post(kWait + "?ids=" + id, "").status, 405);
}

TEST(WaitMany, CountsAsOneWaiterAndIsReleasedWhenItsClientLeaves) {
  Server server;
  const std::string a = server.Start("sleep 100"), b = server.Start("sleep 100"),
                    c = server.Start("sleep 100");
  for (const char* until : {"any", "all"}) {
    SCOPED_TRACE(until);
    {
      RawConnection waiting(server.host(), server.port());
      ASSERT_TRUE(waiting.Send("GET " + kWait + "?ids=" + a + "," + b + "," + c +
                               "&until=" + until + " HTTP/1.1\r\nHost: localhost\r\n\r\n"));
      EXPECT_TRUE(Eventually([&] { return server.Health().at("waiters").as_int64() == 1; }));
    }
    EXPECT_TRUE(Eventually([&] { return server.Health().at("waiters").as_int64() == 0; }));
  }
  // And the route is counted under its own template, never as a process id.
  const std::string metrics = server.Get("/metrics").body;
  EXPECT_EQ(metrics.find("{id}/wait"), std::string::npos);
  server.Get(kWait + "?ids=" + a + "&timeout_ms=0");
  EXPECT_NE(server.Get("/metrics").body.find("route=\"/api/v0/processes/wait\""),
            std::string::npos);
  for (const auto& id : {a, b, c}) Kill(server, id);
}

TEST(WaitMany, AWaiterGetsItsAnswerWhenTheServerShutsDown) {
  Server server({.args = {"--shutdown-grace", "300ms"}});
  const std::string a = server.Start("sleep 100"), b = server.Start("sleep 100");
  RawConnection waiting(server.host(), server.port());
  ASSERT_TRUE(waiting.Send("GET " + kWait + "?ids=" + a + "," + b +
                           "&until=all HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  ASSERT_TRUE(Eventually([&] { return server.Health().at("waiters").as_int64() == 1; }));
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  HttpResult r = waiting.ReadResponse(std::chrono::seconds(5));
  ASSERT_EQ(r.status, 200) << r.body;
  for (const auto& p : r.json.at("processes").as_array()) {
    EXPECT_FALSE(p.at("running").as_bool()) << r.body;
    EXPECT_EQ(p.at("ended_by"), "shutdown") << r.body;
  }
}

}  // namespace
}  // namespace corral::testing
