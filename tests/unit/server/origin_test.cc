#include "server/origin.h"

#include <gtest/gtest.h>

namespace corral::server {
namespace {

using Verdict = BrowserPolicy::Verdict;

BrowserPolicy Policy(std::vector<std::string> hosts = {}, std::vector<std::string> origins = {}) {
  auto p = BrowserPolicy::Make(hosts, origins);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? p.value() : BrowserPolicy();
}

TEST(BrowserPolicy, TakesIpLiteralsAndLocalhostWithOrWithoutPort) {
  const BrowserPolicy p = Policy();
  for (const char* host : {"127.0.0.1", "127.0.0.1:7777", "10.1.2.3:80", "[::1]", "[::1]:7777",
                           "[FE80::1]:1", "::1", "localhost", "LocalHost:9", "localhost:65535"}) {
    EXPECT_EQ(p.Check(host, std::nullopt), Verdict::kAllowed) << host;
  }
}

TEST(BrowserPolicy, RefusesNamesAndMalformedHostsAsDnsRebinding) {
  const BrowserPolicy p = Policy();
  for (const char* host :
       {"evil.example", "evil.example:7777", "127.0.0.1.evil.example", "localhost.",
        "sub.localhost", "127.1", "0x7f000001", "2130706433", "[::1", "[nope]:1", "::1:99999",
        "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:70000", "local host", "[::1]x", "x"}) {
    EXPECT_EQ(p.Check(host, std::nullopt), Verdict::kHostNotAllowed) << host;
  }
}

TEST(BrowserPolicy, NoHostHeaderIsNotRefusedForIt) {
  const BrowserPolicy p = Policy();
  EXPECT_EQ(p.Check(std::nullopt, std::nullopt), Verdict::kAllowed);
  EXPECT_EQ(p.Check("", std::nullopt), Verdict::kAllowed);
}

TEST(BrowserPolicy, AllowHostAddsNamesCaseInsensitivelyWhateverThePort) {
  const BrowserPolicy p = Policy({"Corral.Example"});
  EXPECT_EQ(p.Check("corral.example", std::nullopt), Verdict::kAllowed);
  EXPECT_EQ(p.Check("CORRAL.example:8443", std::nullopt), Verdict::kAllowed);
  EXPECT_EQ(p.Check("other.example", std::nullopt), Verdict::kHostNotAllowed);
}

TEST(BrowserPolicy, TheServersOwnOriginIsAllowed) {
  const BrowserPolicy p = Policy();
  EXPECT_EQ(p.Check("127.0.0.1:7777", "http://127.0.0.1:7777"), Verdict::kAllowed);
  EXPECT_EQ(p.Check("127.0.0.1:7777", "https://127.0.0.1:7777"), Verdict::kAllowed);
  EXPECT_EQ(p.Check("LOCALHOST:7777", "HTTP://localhost:7777"), Verdict::kAllowed);
  EXPECT_EQ(p.Check("[::1]:7777", "http://[::1]:7777"), Verdict::kAllowed);
  // Default ports are implied on either side.
  EXPECT_EQ(p.Check("localhost", "http://localhost"), Verdict::kAllowed);
  EXPECT_EQ(p.Check("localhost", "https://localhost"), Verdict::kAllowed);
  EXPECT_EQ(p.Check("localhost", "http://localhost:80"), Verdict::kAllowed);
  EXPECT_EQ(p.Check("localhost:80", "http://localhost"), Verdict::kAllowed);
  EXPECT_EQ(p.Check("localhost:443", "https://localhost"), Verdict::kAllowed);
}

TEST(BrowserPolicy, AnyOtherOriginIsCrossOrigin) {
  const BrowserPolicy p = Policy();
  const char* host = "127.0.0.1:7777";
  for (const char* origin :
       {"http://evil.example", "http://127.0.0.1:7778", "http://127.0.0.1", "http://localhost:7777",
        "https://127.0.0.1:7777.evil.example", "null", "", "file://", "ftp://127.0.0.1:7777",
        "http://127.0.0.1:7777/", "http://user@127.0.0.1:7777", "127.0.0.1:7777"}) {
    EXPECT_EQ(p.Check(host, origin), Verdict::kCrossOrigin) << origin;
  }
  EXPECT_EQ(p.Check("localhost:443", "http://localhost"), Verdict::kCrossOrigin);
  EXPECT_EQ(p.Check("localhost:80", "https://localhost"), Verdict::kCrossOrigin);
  EXPECT_EQ(p.Check(std::nullopt, "http://127.0.0.1"), Verdict::kCrossOrigin)
      << "without Host there is no own origin";
}

TEST(BrowserPolicy, AllowOriginAddsOriginsWithDefaultPortsImplied) {
  const BrowserPolicy p = Policy({}, {"https://App.Example", "http://127.0.0.1:3000"});
  EXPECT_EQ(p.Check("127.0.0.1:7777", "https://app.example"), Verdict::kAllowed);
  EXPECT_EQ(p.Check("127.0.0.1:7777", "https://app.example:443"), Verdict::kAllowed);
  EXPECT_EQ(p.Check("127.0.0.1:7777", "http://app.example"), Verdict::kCrossOrigin);
  EXPECT_EQ(p.Check("127.0.0.1:7777", "http://127.0.0.1:3000"), Verdict::kAllowed);
  EXPECT_EQ(p.Check("127.0.0.1:7777", "http://127.0.0.1:3001"), Verdict::kCrossOrigin);
}

TEST(BrowserPolicy, HostIsCheckedBeforeOrigin) {
  const BrowserPolicy p = Policy({}, {"http://evil.example"});
  EXPECT_EQ(p.Check("evil.example", "http://evil.example"), Verdict::kHostNotAllowed);
}

TEST(BrowserPolicy, BadFlagsAreRefusedNamingTheValue) {
  for (const char* host : {"", "a b", "name:80", "[::1]", "127.0.0.1", "a/b"}) {
    auto p = BrowserPolicy::Make({host}, {});
    EXPECT_FALSE(p.ok()) << host;
  }
  for (const char* origin : {"", "*", "null", "app.example", "ftp://app.example",
                             "https://app.example/", "https://app.example:99999"}) {
    auto p = BrowserPolicy::Make({}, {origin});
    ASSERT_FALSE(p.ok()) << origin;
    EXPECT_NE(p.status().message().find(origin), std::string::npos);
  }
}

}  // namespace
}  // namespace corral::server
