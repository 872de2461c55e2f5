// The head+tail output rendering (DESIGN.md §3), byte-exact through the API.
#include <gtest/gtest.h>

#include "../helpers/pattern.h"
#include "harness.h"

namespace corral::testing {
namespace {

constexpr std::size_t kHead = 16384;
constexpr std::size_t kTail = 16384;

class Output : public ::testing::Test {
 protected:
  boost::json::object Run(const std::string& command) {
    return server_.WaitOutput(server_.Start(command));
  }
  Server server_;
};

std::string Text(const boost::json::object& out) {
  return std::string(out.at("output").as_string());
}

TEST_F(Output, UpToTwiceTheHeadComesBackWholeWithNoTruncation) {
  for (std::size_t n : {std::size_t{0}, kHead - 1, kHead, kHead + 1, kHead + kTail}) {
    auto out = Run(kHelper + " print " + std::to_string(n) + " 1000");
    EXPECT_EQ(Text(out), Pattern(n)) << n << " bytes";
    EXPECT_FALSE(out.contains("truncated")) << n << " bytes";
  }
}

TEST_F(Output, PastHeadPlusTailTheMiddleIsOmitted) {
  for (std::size_t n : {kHead + kTail + 1, std::size_t{1000000}}) {
    auto out = Run(kHelper + " print " + std::to_string(n));
    const std::size_t omitted = n - kHead - kTail;
    EXPECT_EQ(Text(out), Pattern(kHead) + "\n\n... [omitted " + std::to_string(omitted) +
                             " bytes] ...\n\n" + Pattern(kTail, n - kTail))
        << n;
    const auto& t = out.at("truncated").as_object();
    EXPECT_EQ(t.at("original_bytes").as_int64(), static_cast<std::int64_t>(n));
    EXPECT_EQ(t.at("omitted_bytes").as_int64(), static_cast<std::int64_t>(omitted));
    EXPECT_EQ(t.at("retained_bytes").as_int64(), static_cast<std::int64_t>(kHead + kTail));
    EXPECT_EQ(t.at("strategy").as_string(), "head_tail");
  }
}

TEST_F(Output, ManyTinyWritesEqualOneLargeWrite) {
  auto tiny = Run(kHelper + " print 50000 7");
  auto large = Run(kHelper + " print 50000 50000");
  EXPECT_EQ(Text(tiny), Text(large));
  EXPECT_EQ(tiny.at("truncated"), large.at("truncated"));
}

TEST_F(Output, LinesLongerThan2048BytesAreCut) {
  auto exact = Run("head -c 2048 /dev/zero | tr '\\0' x");
  EXPECT_EQ(Text(exact), std::string(2048, 'x'));
  EXPECT_FALSE(exact.contains("truncated"));

  auto over = Run("head -c 2049 /dev/zero | tr '\\0' x; echo; echo next");
  EXPECT_EQ(Text(over), std::string(2032, 'x') + " ... [truncated]\nnext\n");
  const auto& t = over.at("truncated").as_object();
  EXPECT_EQ(t.at("omitted_bytes").as_int64(), 0);
  EXPECT_EQ(t.at("lines_truncated").as_int64(), 1);
  EXPECT_EQ(t.at("original_bytes").as_int64(), 2049 + 1 + 5);
  EXPECT_EQ(t.at("retained_bytes").as_int64(), 2032 + 1 + 5);
}

TEST_F(Output, AMultiByteCharacterIsNeverSplitByTheHeadCut) {
  // 16383 bytes, then "€" (3 bytes) across the head boundary, then enough to omit the middle.
  auto out = Run(kHelper + " print 16383; " + kHelper + " hex e282ac; " + kHelper + " print 40000");
  EXPECT_EQ(Text(out), Pattern(16383) + "\n\n... [omitted 23619 bytes] ...\n\n" +
                           Pattern(kTail, 40000 - kTail))
      << "the euro sign's first byte goes with the omitted middle";
  EXPECT_EQ(out.at("truncated").at("omitted_bytes").as_int64(), 16383 + 3 + 40000 - 16383 - 16384);
  EXPECT_EQ(out.at("truncated").at("retained_bytes").as_int64(), 16383 + 16384);
}

TEST_F(Output, AMultiByteCharacterIsNeverSplitByTheTailCut) {
  // The tail's first byte is the last byte of "€": it goes with the omitted middle.
  auto out = Run(kHelper + " print 40000; " + kHelper + " hex e282ac; " + kHelper + " print 16383");
  const std::string text = Text(out);
  EXPECT_TRUE(text.starts_with(Pattern(kHead) + "\n\n... [omitted "));
  EXPECT_TRUE(text.ends_with("] ...\n\n" + Pattern(16383))) << text.substr(text.size() - 200);
  EXPECT_EQ(out.at("truncated").at("retained_bytes").as_int64(), 16384 + 16383);
}

TEST_F(Output, ContiguousHeadAndTailRejoinASplitCharacter) {
  auto out = Run(kHelper + " print 16383; " + kHelper + " hex e282ac; echo");
  EXPECT_EQ(Text(out), Pattern(16383) + "\xE2\x82\xAC\n");
  EXPECT_FALSE(out.contains("truncated"));
}

TEST_F(Output, InvalidUtf8BecomesReplacementCharacters) {
  auto out = Run(kHelper + " hex 41ff42c3284380e282");
  EXPECT_EQ(Text(out),
            "A\xEF\xBF\xBD"
            "B\xEF\xBF\xBD(C\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_FALSE(out.contains("truncated")) << "sanitising alone is not truncation";
}

TEST_F(Output, NulBytesSurviveAsJsonEscapes) {
  auto out = Run(kHelper + " hex 610062000a");
  EXPECT_EQ(Text(out), std::string("a\0b\0\n", 5));
}

}  // namespace
}  // namespace corral::testing
