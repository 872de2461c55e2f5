#include "api/answer_cache.h"

#include <gtest/gtest.h>

namespace corral::api {
namespace {

std::shared_ptr<const std::string> Bytes(std::size_t n) {
  return std::make_shared<const std::string>(n, 'x');
}

TEST(AnswerCache, AnswersOnlyForTheVersionItWasMadeAt) {
  AnswerCache cache(1000);
  auto v = Bytes(10);
  cache.Put("k", 1, v);
  EXPECT_EQ(cache.Get("k", 1), v);
  EXPECT_EQ(cache.Get("k", 2), nullptr);
  EXPECT_EQ(cache.Get("k", 1), nullptr) << "a stale entry is dropped";
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(AnswerCache, TotalBytesStayWithinTheBoundLeastRecentlyUsedFirst) {
  AnswerCache cache(100);
  cache.Put("a", 0, Bytes(40));
  cache.Put("b", 0, Bytes(40));
  ASSERT_NE(cache.Get("a", 0), nullptr);  // a is now the most recent
  cache.Put("c", 0, Bytes(40));
  EXPECT_LE(cache.bytes(), 100u);
  EXPECT_NE(cache.Get("a", 0), nullptr);
  EXPECT_EQ(cache.Get("b", 0), nullptr);
  EXPECT_NE(cache.Get("c", 0), nullptr);
  cache.Put("huge", 0, Bytes(101));
  EXPECT_EQ(cache.Get("huge", 0), nullptr) << "larger than the bound: not kept";
  EXPECT_LE(cache.bytes(), 100u);
}

TEST(AnswerCache, ReplacingAnEntryCountsItsBytesOnce) {
  AnswerCache cache(100);
  cache.Put("a", 0, Bytes(60));
  cache.Put("a", 1, Bytes(60));
  EXPECT_EQ(cache.bytes(), 60u);
  EXPECT_EQ(cache.size(), 1u);
}

}  // namespace
}  // namespace corral::api
