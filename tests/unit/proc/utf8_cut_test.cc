#include <gtest/gtest.h>

#include <random>

#include "proc/utf8.h"

namespace corral::proc::utf8 {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";
const std::string kEuro = "\xE2\x82\xAC";      // 3 bytes
const std::string kGrin = "\xF0\x9F\x98\x80";  // 4 bytes
const std::string kEAcute = "\xC3\xA9";        // 2 bytes

std::string Sanitized(std::string_view s) {
  std::string out;
  AppendSanitized(s, out);
  return out;
}

// Reads `all` from 0 to the end in cuts of `limit`, fetching what a caller would.
std::string ChainedText(std::string_view all, std::size_t limit) {
  std::string text;
  std::size_t offset = 0;
  while (offset < all.size()) {
    const std::string_view raw = all.substr(offset, CutFetchBytes(limit));
    const bool final = offset + raw.size() == all.size();
    const Cut cut = CutText(raw, limit, final);
    EXPECT_TRUE(cut.complete()) << "no progress at " << offset;
    if (!cut.complete()) break;
    text += cut.text;
    offset += cut.consumed;
  }
  return text;
}

TEST(Utf8Cut, AsciiIsCutExactlyAtTheLimit) {
  const Cut cut = CutText("abcdef", 4, false);
  EXPECT_EQ(cut.text, "abcd");
  EXPECT_EQ(cut.consumed, 4u);
  EXPECT_EQ(CutText("abc", 10, false).consumed, 3u);
  EXPECT_EQ(CutText("", 10, true).consumed, 0u);
  EXPECT_FALSE(CutText("", 10, true).complete());
}

TEST(Utf8Cut, NeverEndsInsideACharacterSplitByTheLimit) {
  const std::string s = "ab" + kGrin + "c";
  for (std::size_t limit = 3; limit <= 5; ++limit) {
    const Cut cut = CutText(s, limit, true);
    EXPECT_EQ(cut.consumed, 2u) << limit;
    EXPECT_EQ(cut.text, "ab");
  }
  EXPECT_EQ(CutText(s, 6, true).text, "ab" + kGrin);
}

TEST(Utf8Cut, ALimitSmallerThanTheFirstCharacterReturnsItWhole) {
  for (const std::string& c : {kEAcute, kEuro, kGrin}) {
    for (std::size_t limit : {0, 1, 2, 3}) {
      const std::string raw = (c + c).substr(0, CutFetchBytes(limit));
      const Cut cut = CutText(raw, limit, false);
      EXPECT_EQ(cut.text, limit < c.size() ? c : raw.substr(0, limit / c.size() * c.size()))
          << c.size() << " " << limit;
      EXPECT_TRUE(cut.complete());
    }
  }
  EXPECT_EQ(CutText("ab", 0, false).text, "a") << "limit 0 still makes progress";
}

TEST(Utf8Cut, APartialCharacterAtTheEndWaitsUnlessFinal) {
  for (const std::string& c : {kEAcute, kEuro, kGrin}) {
    for (std::size_t cut_at = 1; cut_at < c.size(); ++cut_at) {
      const std::string raw = "x" + c.substr(0, cut_at);
      const Cut live = CutText(raw, 100, false);
      EXPECT_EQ(live.text, "x");
      EXPECT_EQ(live.consumed, 1u);
      const Cut only = CutText(c.substr(0, cut_at), 100, false);
      EXPECT_FALSE(only.complete()) << "nothing to return yet: wait=output keeps waiting";
      const Cut ended = CutText(raw, 100, true);
      EXPECT_EQ(ended.text, "x" + kFffd) << "one U+FFFD for the cut sequence";
      EXPECT_EQ(ended.consumed, raw.size());
    }
  }
}

TEST(Utf8Cut, AnOffsetInsideACharacterGivesOneReplacementPerOrphanByte) {
  EXPECT_EQ(CutText(kEuro.substr(1) + "x", 100, false).text, kFffd + kFffd + "x");
  EXPECT_EQ(CutText(kGrin.substr(1) + "x", 100, false).text, kFffd + kFffd + kFffd + "x");
  EXPECT_EQ(CutText(kGrin.substr(3) + "x", 100, false).consumed, 2u);
  const Cut one = CutText(kGrin.substr(2), 1, false);
  EXPECT_EQ(one.text, kFffd);
  EXPECT_EQ(one.consumed, 1u);
}

TEST(Utf8Cut, InvalidRunsAreUnitsThatAreNeverSplit) {
  // E2 82 then 'A': one maximal subpart of two bytes, one U+FFFD, even with a limit of 1.
  const Cut cut = CutText(
      "\xE2\x82"
      "A",
      1, false);
  EXPECT_EQ(cut.text, kFffd);
  EXPECT_EQ(cut.consumed, 2u);
  EXPECT_EQ(CutText("\xFF\xFE", 1, false).consumed, 1u);
  EXPECT_EQ(CutText("a\xC0\x80", 100, false).text, "a" + kFffd + kFffd);
  // An invalid byte is definite: it counts as a complete unit at once.
  EXPECT_TRUE(CutText("\xFF", 100, false).complete());
  EXPECT_TRUE(CutText("\xE2(", 100, false).complete());
}

TEST(Utf8Cut, ChainedCutsOfEveryLimitRebuildTheWholeText) {
  const std::string s = "a" + kEAcute + kEuro + kGrin + "b" + kGrin + kEuro + "\n" + kEAcute;
  for (std::size_t limit = 0; limit <= s.size() + 1; ++limit) {
    EXPECT_EQ(ChainedText(s, limit), s) << "limit " << limit;
  }
}

TEST(Utf8Cut, ChainedCutsOfRandomBytesEqualTheWholeSanitized) {
  std::mt19937 rng(42);
  const std::string pieces[] = {"a",        kEAcute,    kEuro,          kGrin,  "\xFF", "\x80",
                                "\xE2\x82", "\xF0\x9F", "\xED\xA0\x80", "\xC0", "\n"};
  for (int round = 0; round < 300; ++round) {
    std::string s;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) s += pieces[rng() % std::size(pieces)];
    const std::size_t limit = rng() % 9;
    const std::string text = ChainedText(s, limit);
    EXPECT_EQ(text, Sanitized(s)) << testing::PrintToString(s) << " limit " << limit;
    EXPECT_TRUE(IsValid(text));
  }
}

// The output arrives a byte at a time while a reader follows it: whatever the arrival
// pattern, once the output ends the reader has read exactly the whole text.
TEST(Utf8Cut, AReaderFollowingLiveOutputReadsTheWholeText) {
  const std::string s = kGrin + "x" + kEuro + "\xE2\x82" + "y" + kEAcute + kGrin.substr(0, 2);
  std::string text;
  std::size_t offset = 0;
  for (std::size_t arrived = 0; arrived <= s.size(); ++arrived) {
    const bool final = arrived == s.size();
    while (offset < arrived) {
      const Cut cut = CutText(std::string_view(s).substr(offset, arrived - offset), 2, final);
      if (!cut.complete()) break;
      text += cut.text;
      offset += cut.consumed;
    }
  }
  EXPECT_EQ(offset, s.size());
  EXPECT_EQ(text, Sanitized(s));
}

}  // namespace
}  // namespace corral::proc::utf8
