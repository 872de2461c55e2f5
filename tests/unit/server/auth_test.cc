#include "server/auth.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "server/environment.h"
#include "server/listen_address.h"

namespace corral::server {
namespace {

TEST(Auth, ConstantTimeEqualsIsPlainEqualityInResult) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcabc")) << "a repetition is not the token";
  EXPECT_FALSE(ConstantTimeEquals("abc", ""));
  EXPECT_FALSE(ConstantTimeEquals("", "")) << "an empty token never matches";
}

TEST(Auth, BearerMatches) {
  EXPECT_TRUE(BearerMatches("Bearer tok", "tok"));
  EXPECT_TRUE(BearerMatches("bearer tok", "tok"));
  EXPECT_TRUE(BearerMatches("BEARER  tok ", "tok"));
  EXPECT_FALSE(BearerMatches("Basic tok", "tok"));
  EXPECT_FALSE(BearerMatches("Bearer", "tok"));
  EXPECT_FALSE(BearerMatches("Bearertok", "tok"));
  EXPECT_FALSE(BearerMatches("", "tok"));
}

TEST(Auth, TakeTokenFromEnvironmentLeavesNoCopyInTheEnvironment) {
  ::setenv("CORRAL_TOKEN", " s3cret \n", 1);
  char* where = std::getenv("CORRAL_TOKEN");
  ASSERT_NE(where, nullptr);
  const std::size_t length = std::strlen(where);
  EXPECT_EQ(TakeTokenFromEnvironment(), "s3cret");
  EXPECT_EQ(std::getenv("CORRAL_TOKEN"), nullptr);
  // setenv's copy is never freed by glibc: its bytes were cleared in place.
  EXPECT_EQ(std::string(where, length), std::string(length, '\0'));
  EXPECT_EQ(TakeTokenFromEnvironment(), std::nullopt);
  ::setenv("CORRAL_TOKEN", "", 1);
  EXPECT_EQ(TakeTokenFromEnvironment(), std::nullopt);
}

TEST(ListenAddress, ParsesEveryForm) {
  std::string error;
  auto u = ParseListenAddress("unix:/run/x.sock", error);
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->is_unix);
  EXPECT_EQ(u->path, "/run/x.sock");
  auto t = ParseListenAddress("127.0.0.1:0", error);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 0);
  auto v6 = ParseListenAddress("[::1]:8080", error);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
  EXPECT_EQ(ParseListenAddress(":9", error)->host, "0.0.0.0");
  EXPECT_FALSE(ParseListenAddress("localhost", error));
  EXPECT_FALSE(ParseListenAddress("h:70000", error));
  EXPECT_FALSE(ParseListenAddress("h:1x", error));
  EXPECT_FALSE(ParseListenAddress("unix:", error));
}

TEST(EnvLines, ParsesKeyValueLines) {
  proc::Environment env;
  EXPECT_EQ(ParseEnvLines("# c\n\nA=1\nexport B=two words\r\n  C==x\nEMPTY=\n", env), "");
  EXPECT_EQ(env, (proc::Environment{{"A", "1"}, {"B", "two words"}, {"C", "=x"}, {"EMPTY", ""}}));
  EXPECT_NE(ParseEnvLines("A=1\nbroken\n", env), "");
  EXPECT_NE(ParseEnvLines("=1\n", env), "");
}

}  // namespace
}  // namespace corral::server
