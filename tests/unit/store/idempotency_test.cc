#include "store/idempotency.h"

#include <gtest/gtest.h>

#include <functional>

namespace corral::store {
namespace {

StartRequest Request() {
  StartRequest r;
  r.command = "make test";
  r.workdir = "/src";
  r.env = {{"A", "1"}, {"B", "2"}};
  r.background = true;
  r.stdin_mode = "tty";
  r.tty_rows = 24;
  r.tty_cols = 80;
  r.timeout_ms = 60000;
  return r;
}

TEST(RequestDigest, IsSha256HexAndEqualForEqualRequestsWhateverTheEnvOrder) {
  StartRequest a = Request();
  StartRequest b = Request();
  b.env.clear();
  b.env.emplace("B", "2");
  b.env.emplace("A", "1");
  EXPECT_EQ(RequestDigest(a), RequestDigest(b));
  EXPECT_EQ(RequestDigest(a).size(), 64u);
  EXPECT_EQ(RequestDigest(a).find_first_not_of("0123456789abcdef"), std::string::npos);
  // A known value (sha256 of "corral-start-v1;c0:w0:e1:0b1:0s4:nullr1:0l1:0t1:0"): the
  // serialisation must stay stable, since journals outlive binaries.
  EXPECT_EQ(RequestDigest(StartRequest{}),
            "c8a9766de991926acfaea87622692c922912e1039e5cc8872740897c2f5441d0");
}

TEST(RequestDigest, EveryFieldChangesIt) {
  const std::string base = RequestDigest(Request());
  const std::vector<std::function<void(StartRequest&)>> changes = {
      [](StartRequest& r) { r.command += " "; },      [](StartRequest& r) { r.workdir = ""; },
      [](StartRequest& r) { r.env["A"] = "2"; },      [](StartRequest& r) { r.env.erase("B"); },
      [](StartRequest& r) { r.env["C"] = ""; },       [](StartRequest& r) { r.background = false; },
      [](StartRequest& r) { r.stdin_mode = "pipe"; }, [](StartRequest& r) { r.tty_rows = 25; },
      [](StartRequest& r) { r.tty_cols = 81; },       [](StartRequest& r) { r.timeout_ms = 0; },
  };
  for (std::size_t i = 0; i < changes.size(); ++i) {
    StartRequest r = Request();
    changes[i](r);
    EXPECT_NE(RequestDigest(r), base) << "change " << i;
  }
}

TEST(RequestDigest, NoValueCanPassForASeparatorBetweenFields) {
  StartRequest a, b;
  a.env = {{"ab", "c"}};
  b.env = {{"a", "bc"}};
  EXPECT_NE(RequestDigest(a), RequestDigest(b));
  a = {};
  b = {};
  a.command = "x";
  b.workdir = "x";
  EXPECT_NE(RequestDigest(a), RequestDigest(b));
}

TEST(IdempotencyKey, IsOneTo255PrintableAsciiCharacters) {
  EXPECT_TRUE(IsValidIdempotencyKey("a"));
  EXPECT_TRUE(IsValidIdempotencyKey("retry 3: run-tests ~!@#$%^&*()"));
  EXPECT_TRUE(IsValidIdempotencyKey(std::string(255, 'k')));
  EXPECT_FALSE(IsValidIdempotencyKey(""));
  EXPECT_FALSE(IsValidIdempotencyKey(std::string(256, 'k')));
  EXPECT_FALSE(IsValidIdempotencyKey("tab\there"));
  EXPECT_FALSE(IsValidIdempotencyKey("new\nline"));
  EXPECT_FALSE(IsValidIdempotencyKey("del\x7f"));
  EXPECT_FALSE(IsValidIdempotencyKey(std::string("nul\0", 4)));
  EXPECT_FALSE(IsValidIdempotencyKey("caf\xc3\xa9"));
}

}  // namespace
}  // namespace corral::store
