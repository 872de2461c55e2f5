#include "proc/utf8.h"

#include <gtest/gtest.h>

namespace corral::proc::utf8 {
namespace {

std::string Sanitized(std::string_view s) {
  std::string out;
  AppendSanitized(s, out);
  return out;
}

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8, DecodesEveryWellFormedLength) {
  EXPECT_EQ(Decode("a", 0).length, 1u);
  EXPECT_EQ(Decode("\xC3\xA9", 0).length, 2u);
  EXPECT_EQ(Decode("\xE2\x82\xAC", 0).length, 3u);
  EXPECT_EQ(Decode("\xF0\x9F\x98\x80", 0).length, 4u);
  for (std::string_view s : {"a", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"}) {
    EXPECT_TRUE(Decode(s, 0).valid) << s;
    EXPECT_TRUE(IsValid(s));
  }
}

TEST(Utf8, RejectsOverlongsSurrogatesAndOutOfRange) {
  for (std::string_view s : {"\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xED\xA0\x80",
                             "\xF0\x80\x80\x80", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFF"}) {
    EXPECT_FALSE(IsValid(s)) << testing::PrintToString(s);
  }
}

TEST(Utf8, ReplacesEachMaximalSubpartOnce) {
  EXPECT_EQ(Sanitized("a\xFF"
                      "b"),
            "a" + kFffd + "b");
  EXPECT_EQ(Sanitized("\xE2\x82"
                      "A"),
            kFffd + "A")
      << "a truncated sequence is one U+FFFD";
  EXPECT_EQ(Sanitized("\xC3\x28"), kFffd + "(");
  EXPECT_EQ(Sanitized("\x80\x80"), kFffd + kFffd);
  EXPECT_EQ(Sanitized("\xED\xA0\x80"), kFffd + kFffd + kFffd) << "surrogates: byte by byte";
  EXPECT_EQ(Sanitized(std::string("a\0b", 3)), std::string("a\0b", 3));
  EXPECT_EQ(Sanitized("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
}

TEST(Utf8, CompletePrefixDropsOnlyACharacterCutByTheEnd) {
  EXPECT_EQ(CompletePrefix("ab\xE2\x82"), 2u);
  EXPECT_EQ(CompletePrefix("ab\xE2"), 2u);
  EXPECT_EQ(CompletePrefix("ab\xF0\x9F\x98"), 2u);
  EXPECT_EQ(CompletePrefix("ab\xE2\x82\xAC"), 5u);
  EXPECT_EQ(CompletePrefix("ab\xFF"), 3u) << "invalid, not cut: kept for U+FFFD";
  EXPECT_EQ(CompletePrefix("ab\x80"), 3u);
  EXPECT_EQ(CompletePrefix("a\xE2("), 3u);
  EXPECT_EQ(CompletePrefix(""), 0u);
}

TEST(Utf8, OrphanContinuationsAreAtMostThree) {
  EXPECT_EQ(OrphanContinuations("\x82\xAC"
                                "a"),
            2u);
  EXPECT_EQ(OrphanContinuations("a\x82"), 0u);
  EXPECT_EQ(OrphanContinuations("\x80\x80\x80\x80"), 3u);
}

TEST(Utf8, PrefixWithinNeverSplitsACharacter) {
  EXPECT_EQ(PrefixWithin("abc", 5), 3u);
  EXPECT_EQ(PrefixWithin("ab\xE2\x82\xAC", 4), 2u);
  EXPECT_EQ(PrefixWithin("ab\xE2\x82\xAC"
                         "c",
                         5),
            5u);
  EXPECT_EQ(PrefixWithin("\xE2\x82\xAC\xE2\x82\xAC", 3), 3u);
  EXPECT_EQ(PrefixWithin("ab\xE2\x82(", 3), 3u) << "an invalid run may be cut";
}

}  // namespace
}  // namespace corral::proc::utf8
