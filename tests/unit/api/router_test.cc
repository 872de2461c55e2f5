#include "api/router.h"

#include <gtest/gtest.h>

namespace corral::api {
namespace {

using Kind = Route::Kind;

TEST(ParseRoute, KnownRoutesAndTheirMethods) {
  EXPECT_EQ(ParseRoute("POST", "/api/v0/processes/start").kind, Kind::kStart);
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processes/list").kind, Kind::kList);
  EXPECT_EQ(ParseRoute("GET", "/api/v0/health").kind, Kind::kHealth);
  auto wrong = ParseRoute("GET", "/api/v0/processes/start");
  EXPECT_EQ(wrong.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(wrong.allow, "POST");
  EXPECT_EQ(ParseRoute("PUT", "/api/v0/processes/list").allow, "GET");
}

TEST(ParseRoute, NamesEveryMatchedPathByItsTemplate) {
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processes/list").name, "/api/v0/processes/list");
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processes/list?limit=5").name, "/api/v0/processes/list");
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processes/abc/output?wait=1").name,
            "/api/v0/processes/{id}/output");
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processes/abc/output?timeout_ms=x").name,
            "/api/v0/processes/{id}/output");
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processes/abc/signal").name,
            "/api/v0/processes/{id}/signal");  // the wrong method still names the route
  EXPECT_EQ(ParseRoute("GET", "/metrics").kind, Kind::kMetrics);
  EXPECT_EQ(ParseRoute("GET", "/api/v0/openapi.json").kind, Kind::kOpenApi);
  EXPECT_EQ(ParseRoute("GET", "/ui").name, "/ui");
  EXPECT_TRUE(IsPublic(ParseRoute("GET", "/ui")));
  EXPECT_FALSE(IsPublic(ParseRoute("POST", "/ui")));
  EXPECT_FALSE(IsPublic(ParseRoute("GET", "/metrics")));
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processes/abc/nothing").name, "");
}

TEST(ParseRoute, OutputWithWaitAndTimeout) {
  auto r = ParseRoute("GET", "/api/v0/processes/abc/output?wait=true&timeout_ms=1500");
  EXPECT_EQ(r.kind, Kind::kOutput);
  EXPECT_EQ(r.id, "abc");
  EXPECT_TRUE(r.wait);
  EXPECT_EQ(r.timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processes/a/output?timeout_ms=99999999").timeout,
            std::chrono::milliseconds(kMaxWait));
  EXPECT_FALSE(ParseRoute("GET", "/api/v0/processes/a/output?wait=no").wait);
  for (const char* yes : {"true", "1", "TRUE", "True", "tRuE"}) {
    EXPECT_TRUE(ParseRoute("GET", std::string("/api/v0/processes/a/output?wait=") + yes).wait)
        << yes;
  }
  for (const char* no : {"", "0", "false", "yes", "t", "true ", "11", "truee"}) {
    EXPECT_FALSE(ParseRoute("GET", std::string("/api/v0/processes/a/output?wait=") + no).wait)
        << no;
  }
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processes/a/output?timeout_ms=-1").kind, Kind::kBadQuery);
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processes/a/output?timeout_ms=1e3").kind, Kind::kBadQuery);
}

TEST(ParseRoute, WaitManyIsARouteOfItsOwnNotAnId) {
  auto r = ParseRoute("GET", "/api/v0/processes/wait?ids=a,b%2Cc,d&until=all&timeout_ms=99");
  EXPECT_EQ(r.kind, Kind::kWaitMany);
  EXPECT_EQ(r.name, "/api/v0/processes/wait");
  EXPECT_EQ(r.ids, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(r.until_all);
  EXPECT_EQ(r.timeout, std::chrono::milliseconds(99));
  auto defaults = ParseRoute("GET", "/api/v0/processes/wait?ids=a");
  EXPECT_FALSE(defaults.until_all);
  EXPECT_EQ(defaults.timeout, kDefaultReadTimeout);
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processes/wait?ids=a&timeout_ms=999999999").timeout,
            kMaxWait);
  EXPECT_EQ(ParseRoute("POST", "/api/v0/processes/wait?ids=a").allow, "GET");
  for (const char* bad : {"", "?ids=", "?ids=a,,b", "?ids=a,", "?ids=a,b,a", "?until=x&ids=a"}) {
    SCOPED_TRACE(bad);
    auto b = ParseRoute("GET", std::string("/api/v0/processes/wait") + bad);
    EXPECT_EQ(b.kind, Kind::kBadQuery);
    EXPECT_EQ(b.name, "/api/v0/processes/wait");
  }
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processes/wait?until=some&ids=a").param, "until");
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processes/wait?ids=a&timeout_ms=-1").param, "timeout_ms");
  std::string many = "/api/v0/processes/wait?ids=0";
  for (std::size_t i = 1; i <= kMaxWaitIds; ++i) many += "," + std::to_string(i);
  EXPECT_EQ(ParseRoute("GET", many).param, "ids");
}

TEST(ParseRoute, IdsArePercentDecodedAndNeverContainASlash) {
  EXPECT_EQ(ParseRoute("POST", "/api/v0/processes/a%20b/signal").id, "a b");
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processes/a%2Fb/output").kind, Kind::kNotFound);
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processes//output").kind, Kind::kNotFound);
}

TEST(ParseRoute, EverythingElseIsNotFoundOrBad) {
  EXPECT_EQ(ParseRoute("GET", "/").kind, Kind::kNotFound);
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processes").kind, Kind::kNotFound);
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processesX/list").kind, Kind::kNotFound);
  EXPECT_EQ(ParseRoute("GET", "/api/v0/processes/a/b/output").kind, Kind::kNotFound);
  EXPECT_EQ(ParseRoute("GET", "no-slash").kind, Kind::kBadTarget);
  EXPECT_EQ(ParseRoute("GET", "/a b").kind, Kind::kBadTarget);
}

}  // namespace
}  // namespace corral::api
