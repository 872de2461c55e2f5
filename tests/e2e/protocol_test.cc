// The wire protocol of DESIGN.md §1: every route, status code and message, through the real
// binary.
#include <gtest/gtest.h>

#include <set>

#include "harness.h"

namespace corral::testing {
namespace {

namespace json = boost::json;
constexpr char kStart[] = "/api/v0/processes/start";
constexpr char kList[] = "/api/v0/processes/list";
constexpr char kInvalidJson[] = "Request body must be valid JSON.";
constexpr char kChatA[] = "11111111-1111-4111-8111-111111111111";
constexpr char kChatB[] = "22222222-2222-4222-8222-222222222222";

std::string Message(const HttpResult& r) {
  if (!r.json.is_object() || !r.json.as_object().contains("message")) return "<no message>";
  return std::string(r.json.at("message").as_string());
}

bool HasDetail(const HttpResult& r) {
  return r.json.is_object() && r.json.as_object().contains("detail") &&
         !r.json.at("detail").as_string().empty();
}

class Protocol : public ::testing::Test {
 protected:
  Server server_;
};

TEST_F(Protocol, StartAnswersAUuidV4AndStarted) {
  HttpResult r = server_.Post(kStart, R"({"command":"true"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json");
  const std::string id(r.json.at("id").as_string());
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4') << "version nibble of " << id;
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << "variant of " << id;
  EXPECT_TRUE(r.json.at("started").as_bool());
}

TEST_F(Protocol, MalformedJsonIs400WithTheParserErrorAsDetail) {
  for (const char* body : {"{\"command\":", "", "not json", "{\"command\":\"x\"} trailing"}) {
    HttpResult r = server_.Post(kStart, body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(Message(r), kInvalidJson) << body;
    EXPECT_TRUE(HasDetail(r)) << body;
  }
}

TEST_F(Protocol, WrongTypesAre400InvalidJson) {
  for (const char* body :
       {R"({"command":5})", R"({"command":["ls"]})", R"({"command":"ls","workdir":1})",
        R"({"command":"ls","env":"A=1"})", R"({"command":"ls","env":{"A":1}})",
        R"({"command":"ls","background":"yes"})", R"([])", R"("ls")", R"(42)"}) {
    HttpResult r = server_.Post(kStart, body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(Message(r), kInvalidJson) << body;
    EXPECT_TRUE(HasDetail(r)) << body;
  }
  EXPECT_EQ(server_.Get(kList).json.at("processes").as_array().size(), 0u)
      << "a rejected start must start nothing";
}

TEST_F(Protocol, UnknownFieldsAreIgnoredAndNullMeansAbsent) {
  HttpResult r = server_.Post(
      kStart, R"({"command":"echo ok","shell":"zsh","x":{"y":[1]},"workdir":null,"env":null})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto out = server_.WaitOutput(std::string(r.json.at("id").as_string()));
  EXPECT_EQ(out.at("output").as_string(), "ok\n");
}

TEST_F(Protocol, EmptyOrMissingCommandIs400CommandIsRequired) {
  for (const char* body : {R"({"command":""})", R"({})", R"(null)", R"({"command":null})"}) {
    HttpResult r = server_.Post(kStart, body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(Message(r), "Command is required.") << body;
    EXPECT_FALSE(r.json.as_object().contains("detail")) << "empty detail is left out";
  }
}

TEST_F(Protocol, MissingWorkdirIs500FailedToStart) {
  HttpResult r = server_.Post(kStart, R"({"command":"true","workdir":"/no/such/dir"})");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(Message(r), "Failed to start process.");
  EXPECT_NE(std::string(r.json.at("detail").as_string()).find("/no/such/dir"), std::string::npos);
  EXPECT_EQ(server_.Get(kList).json.at("processes").as_array().size(), 0u);
}

TEST_F(Protocol, UnknownRouteIs404AndWrongMethodIs405) {
  HttpResult r = server_.Get("/api/v0/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.json.is_object());
  EXPECT_EQ(server_.Get("/api/v0/processes/x/y/z").status, 404);

  r = server_.Get(kStart);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "POST");
  EXPECT_EQ(server_.Post(kList, "{}").status, 405);
  EXPECT_EQ(server_.Request("DELETE", kList).status, 405);
  EXPECT_EQ(
      server_.Post("/api/v0/processes/00000000-0000-4000-8000-000000000000/output", "").status,
      405);
  EXPECT_EQ(server_.Get("/api/v0/processes/00000000-0000-4000-8000-000000000000/signal").status,
            405);
}

TEST_F(Protocol, OversizedBodyIs413AndStartsNothing) {
  std::string big = R"({"command":"echo )" + std::string(2 * 1024 * 1024, 'x') + R"("})";
  HttpResult r = server_.Post(kStart, big);
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(r.json.is_object());
  EXPECT_EQ(server_.Get(kList).json.at("processes").as_array().size(), 0u);
}

TEST_F(Protocol, UnknownIdIs404WithTheExactMessage) {
  const std::string id = "6f1c2a8e-1d2b-4c3d-9e4f-5a6b7c8d9e0f";
  HttpResult r = server_.Get("/api/v0/processes/" + id + "/output");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Message(r), "Process \"" + id + "\" not found.");
  r = server_.Get("/api/v0/processes/not-a-uuid/output");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Message(r), "Process \"not-a-uuid\" not found.");
  r = server_.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Message(r), "Process \"" + id + "\" not found.");
}

TEST_F(Protocol, SignalValidatesTheBodyBeforeTheId) {
  const std::string unknown = "/api/v0/processes/6f1c2a8e-1d2b-4c3d-9e4f-5a6b7c8d9e0f/signal";
  HttpResult r = server_.Post(unknown, R"({})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Message(r), "Signal is required.");
  r = server_.Post(unknown, R"({"signal":"hup"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Message(r), R"(Unsupported signal "hup". Use "kill" or "terminate".)");
  r = server_.Post(unknown, R"({"signal":"KILL"})");
  EXPECT_EQ(r.status, 400) << "signal names are case-sensitive";
  r = server_.Post(unknown, R"({"signal":9})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Message(r), kInvalidJson);
  r = server_.Post(unknown, R"({"signal")");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Message(r), kInvalidJson);
}

TEST_F(Protocol, SignalSentThenNotRunningIs409) {
  const std::string id = server_.Start("sleep 60");
  HttpResult r = server_.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Message(r), "Signal \"kill\" sent to process \"" + id + "\".");
  server_.WaitOutput(id);
  r = server_.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"terminate"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Message(r), "Process \"" + id + "\" is not running.");
}

TEST_F(Protocol, ListIsNeverNullAndShowsEveryField) {
  HttpResult r = server_.Get(kList);
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(r.json.at("processes").is_array());
  EXPECT_EQ(r.body, R"({"processes":[]})");

  const std::string done = server_.Start("exit 3", R"("background":true)");
  server_.WaitOutput(done);
  const std::string running = server_.Start("sleep 60");
  auto list = server_.Get(kList).json.at("processes").as_array();
  ASSERT_EQ(list.size(), 2u);
  const auto& first = list[0].as_object();
  EXPECT_EQ(first.at("id").as_string(), running) << "running processes come first";
  EXPECT_TRUE(first.at("running").as_bool());
  EXPECT_FALSE(first.contains("exit_code"));
  EXPECT_FALSE(first.contains("exited_at_unix"));
  EXPECT_FALSE(first.at("background").as_bool());
  const auto& second = list[1].as_object();
  EXPECT_EQ(second.at("id").as_string(), done);
  EXPECT_EQ(second.at("command").as_string(), "exit 3");
  EXPECT_TRUE(second.at("background").as_bool());
  EXPECT_FALSE(second.at("running").as_bool());
  EXPECT_EQ(second.at("exit_code").as_int64(), 3);
  EXPECT_GE(second.at("exited_at_unix").as_int64(), second.at("started_at_unix").as_int64());
  EXPECT_FALSE(second.at("workdir").as_string().empty());
}

TEST_F(Protocol, ListShowsAtMostTenNewestFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(server_.Start("true"));
  for (const auto& id : ids) server_.WaitOutput(id);
  auto list = server_.Get(kList).json.at("processes").as_array();
  ASSERT_EQ(list.size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(list[i].at("id").as_string(), ids[11 - i]) << "position " << i;
  }
}

TEST_F(Protocol, ChatIsolationMatrix) {
  const std::map<std::string, std::string> a = {{"Coder-Chat-Id", kChatA}};
  const std::map<std::string, std::string> b = {{"Coder-Chat-Id", kChatB}};
  const std::string in_a = server_.Start("sleep 60", "", a);
  const std::string in_b = server_.Start("sleep 60", "", b);
  const std::string in_none = server_.Start("sleep 60");

  auto ids = [&](const std::map<std::string, std::string>& h) {
    std::set<std::string> out;
    const HttpResult list = server_.Get(kList, h);
    for (const auto& p : list.json.at("processes").as_array()) {
      out.insert(std::string(p.at("id").as_string()));
    }
    return out;
  };
  EXPECT_EQ(ids(a), std::set<std::string>{in_a});
  EXPECT_EQ(ids(b), std::set<std::string>{in_b});
  EXPECT_EQ(ids({}), (std::set<std::string>{in_a, in_b, in_none})) << "no chat sees everything";
  // Missing, empty, nil and malformed chat ids all mean "no chat".
  for (const char* v : {"", "00000000-0000-0000-0000-000000000000", "not-a-uuid"}) {
    EXPECT_EQ(ids({{"Coder-Chat-Id", v}}).size(), 3u) << v;
  }
  // Other forms of the same UUID are the same chat.
  EXPECT_EQ(ids({{"Coder-Chat-Id", "{11111111-1111-4111-8111-111111111111}"}}),
            std::set<std::string>{in_a});

  auto output = [&](const std::string& id, const std::map<std::string, std::string>& h) {
    return server_.Get("/api/v0/processes/" + id + "/output", h);
  };
  EXPECT_EQ(output(in_a, a).status, 200);
  HttpResult hidden = output(in_b, a);
  EXPECT_EQ(hidden.status, 404);
  EXPECT_EQ(Message(hidden), "Process \"" + in_b + "\" not found.");
  EXPECT_EQ(output(in_none, a).status, 404) << "a chat does not see chat-less processes";
  EXPECT_EQ(output(in_a, {}).status, 200);
  EXPECT_EQ(output(in_b, {}).status, 200);

  auto signal = [&](const std::string& id, const std::map<std::string, std::string>& h,
                    const std::string& body) {
    return server_.Post("/api/v0/processes/" + id + "/signal", body, h);
  };
  // Another chat's process is 404 before the body is even looked at.
  EXPECT_EQ(signal(in_b, a, "{}").status, 404);
  EXPECT_EQ(signal(in_b, a, R"({"signal":"kill"})").status, 404);
  EXPECT_TRUE(server_.Get("/api/v0/processes/" + in_b + "/output").json.at("running").as_bool());
  EXPECT_EQ(signal(in_a, a, R"({"signal":"kill"})").status, 200);
  EXPECT_EQ(signal(in_b, {}, R"({"signal":"kill"})").status, 200);
  EXPECT_EQ(signal(in_none, {}, R"({"signal":"kill"})").status, 200);
}

TEST_F(Protocol, ChildGetsTheChatIdLastSoTheRequestCannotOverrideIt) {
  const std::string id = server_.Start("echo $CODER_CHAT_ID", R"("env":{"CODER_CHAT_ID":"evil"})",
                                       {{"Coder-Chat-Id", kChatA}});
  EXPECT_EQ(server_.WaitOutput(id, {{"Coder-Chat-Id", kChatA}}).at("output").as_string(),
            std::string(kChatA) + "\n");
}

TEST_F(Protocol, OutputOfARunningProcessShowsWhatItHasSoFar) {
  const std::string id = server_.Start("echo first; sleep 60");
  ASSERT_TRUE(Eventually([&] {
    return server_.Get("/api/v0/processes/" + id + "/output").json.at("output") == "first\n";
  }));
  auto out = server_.Get("/api/v0/processes/" + id + "/output").json.as_object();
  EXPECT_TRUE(out.at("running").as_bool());
  EXPECT_FALSE(out.contains("exit_code"));
  EXPECT_EQ(out.at("command").as_string(), "echo first; sleep 60");
}

TEST_F(Protocol, WaitWithTimeoutAnswersWithTheStateItHas) {
  const std::string id = server_.Start("sleep 60");
  HttpResult r = server_.Get("/api/v0/processes/" + id + "/output?wait=true&timeout_ms=200");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.json.at("running").as_bool());
  EXPECT_EQ(server_.Get("/api/v0/processes/" + id + "/output?timeout_ms=x").status, 400);
}

TEST_F(Protocol, HealthReportsCounts) {
  server_.Start("sleep 60");
  auto h = server_.Health();
  EXPECT_EQ(h.at("status").as_string(), "ok");
  EXPECT_EQ(h.at("processes").as_int64(), 1);
  EXPECT_EQ(h.at("running").as_int64(), 1);
  EXPECT_EQ(h.at("waiters").as_int64(), 0);
  EXPECT_GE(h.at("connections").as_int64(), 1);
}

TEST_F(Protocol, KeepAliveAndPipelinedRequestsAreAnsweredInOrder) {
  RawConnection c(server_.host(), server_.port());
  const std::string get = "GET /api/v0/processes/list HTTP/1.1\r\nHost: localhost\r\n\r\n";
  const std::string bad = "GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n";
  ASSERT_TRUE(c.Send(get + bad + get));
  EXPECT_EQ(c.ReadResponse().status, 200);
  EXPECT_EQ(c.ReadResponse().status, 404);
  EXPECT_EQ(c.ReadResponse().status, 200);
}

TEST_F(Protocol, Http10IsAnsweredAndClosed) {
  RawConnection c(server_.host(), server_.port());
  ASSERT_TRUE(c.Send("GET /api/v0/processes/list HTTP/1.0\r\n\r\n"));
  HttpResult r = c.ReadResponse();
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(c.ClosedByPeer(std::chrono::seconds(5)));
}

TEST_F(Protocol, GarbageIs400AndTheServerGoesOn) {
  RawConnection c(server_.host(), server_.port());
  ASSERT_TRUE(c.Send("\x01\x02 garbage \xff\r\n\r\n"));
  HttpResult r = c.ReadResponse();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(server_.Get(kList).status, 200);
}

}  // namespace
}  // namespace corral::testing
