#include "proc/clean_view.h"

#include <gtest/gtest.h>

#include <random>

#include "proc/utf8.h"

namespace corral::proc {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";
const std::string kEuro = "\xE2\x82\xAC";

std::string Cut(std::size_t n) { return " ... [" + std::to_string(n) + " bytes cut] ... "; }

// Reads `all` from 0 to the end in clean reads of `limit`, fetching what a caller would.
std::string ChainedClean(std::string_view all, std::size_t limit) {
  std::string text;
  std::size_t offset = 0;
  while (offset < all.size()) {
    const std::string_view raw = all.substr(offset, CleanFetchBytes(limit));
    const CleanCut cut = CleanRead(raw, limit, offset + raw.size() == all.size());
    EXPECT_GT(cut.consumed, 0u) << "no progress at " << offset;
    if (cut.consumed == 0) break;
    EXPECT_LE(cut.consumed, std::max<std::size_t>(limit, 1) + kMaxEscapeBytes);
    text += cut.text;
    offset += cut.consumed;
  }
  return text;
}

TEST(CleanView, RemovesColourCodes) {
  EXPECT_EQ(CleanText("\x1b[31mred\x1b[0m plain \x1b[1;38;5;208mbold\x1b[m\n"), "red plain bold\n");
  EXPECT_EQ(CleanText("\x1b[?25l\x1b[2Khidden cursor\x1b[?25h"), "hidden cursor");
}

TEST(CleanView, RemovesTitlesAndOtherStringSequences) {
  EXPECT_EQ(CleanText("\x1b]0;my title\x07text"), "text");
  EXPECT_EQ(CleanText("\x1b]8;;http://x.test/\x1b\\link\x1b]8;;\x1b\\!"), "link!");
  EXPECT_EQ(CleanText("a\x1bPq#0;2;0;0;0\x1b\\b"), "ab") << "DCS";
  EXPECT_EQ(CleanText("\x1b_app\x07z"), "z") << "APC";
}

TEST(CleanView, RemovesShortEscapesAndControlBytes) {
  EXPECT_EQ(CleanText("\x1b(Bx\x1b)0y"), "xy") << "character set selection";
  EXPECT_EQ(CleanText("\x1b"
                      "7saved\x1b"
                      "8\x1b=\x1b>"),
            "saved");
  const std::string controls(
      "a\x07"
      "b\x08"
      "c\x7f"
      "d\x00"
      "e\tf",
      11);
  EXPECT_EQ(CleanText(controls), "abcde\tf");
  EXPECT_EQ(CleanText("a\x1b\nb"), "a\nb") << "a lone ESC goes alone";
  EXPECT_EQ(CleanText("a\x1b"), "a");
}

TEST(CleanView, ABrokenSequenceEndsAtTheByteThatBrokeIt) {
  EXPECT_EQ(CleanText("\x1b[12\nnext"), "\nnext");
  EXPECT_EQ(CleanText("\x1b]0;title\nnext"), "\nnext") << "an OSC never swallows a line end";
  EXPECT_EQ(CleanText("\x1b]0;t\x1b[31mx"), "x");
  EXPECT_EQ(CleanText("\x1b[1" + kEuro + "z"), kEuro + "z");
  const std::string endless = "\x1b]" + std::string(kMaxEscapeBytes + 10, 'a') + "\n";
  EXPECT_EQ(CleanText(endless), std::string(12, 'a') + "\n") << "bounded";
}

TEST(CleanView, CrLfIsLf) {
  EXPECT_EQ(CleanText("a\r\nb\r\n\r\nc"), "a\nb\n\nc");
  EXPECT_EQ(CleanText("a\r\r\n"), "a\n");
}

TEST(CleanView, ALineKeepsItsLastFrame) {
  EXPECT_EQ(CleanText("10%\r20%\r100%\n"), "100%\n");
  EXPECT_EQ(CleanText("50%\r100%\r\n"), "100%\n") << "frames ended by CR: the last stays";
  EXPECT_EQ(CleanText("downloading\rdone\nnext\r"), "done\nnext");
  EXPECT_EQ(CleanText("\x1b[2K\r[=====>    ] 50%\x1b[0K\r\x1b[2K[==========] 100%\n"),
            "[==========] 100%\n");
  EXPECT_EQ(CleanText("long first frame\rshort"), "short") << "the text after the last CR";
}

TEST(CleanView, InvalidBytesBecomeReplacementCharacters) {
  EXPECT_EQ(CleanText("a\xFF"
                      "b\xE2\x82\n\x80"),
            "a" + kFffd + "b" + kFffd + "\n" + kFffd);
  EXPECT_EQ(CleanText("x\xE2\x82"), "x" + kFffd) << "a character cut by the end of everything";
  EXPECT_EQ(CleanText("\xE2\x1b[0m\x82\xAC"), kFffd + kFffd + kFffd)
      << "an escape between the bytes of a character does not join them";
}

TEST(CleanView, LongLinesKeepTheirStartAndEndWithAnExactCount) {
  EXPECT_EQ(CleanText(std::string(2048, 'x')), std::string(2048, 'x'));
  EXPECT_EQ(CleanText(std::string(2049, 'x') + "\nok"),
            std::string(1000, 'x') + Cut(49) + std::string(1000, 'x') + "\nok");
  std::string numbered;
  for (int i = 0; i < 1000; ++i) numbered += std::to_string(i % 10) + "....";
  EXPECT_EQ(CleanText(numbered), numbered.substr(0, 1000) + Cut(3000) + numbered.substr(4000));

  // Lengths are of the clean text: escapes do not count; a cut never splits a character.
  std::string euros;
  for (int i = 0; i < 3000; ++i) euros += "\x1b[1m" + kEuro;
  const std::string clean_euros = CleanText(euros);
  EXPECT_EQ(clean_euros, [&] {
    std::string e;
    for (int i = 0; i < 333; ++i) e += kEuro;
    return e + Cut(9000 - 999 - 999) + e;
  }());
  EXPECT_TRUE(utf8::IsValid(clean_euros));

  const std::string frames = std::string(5000, 'a') + "\r" + std::string(10, 'b') + "\n";
  EXPECT_EQ(CleanText(frames), std::string(10, 'b') + "\n") << "the line is its last frame";
}

TEST(CleanRead, StopsBeforeAnEscapeSplitByTheEndOfWhatArrived) {
  for (std::string_view raw : {"ab\x1b", "ab\x1b[", "ab\x1b[3", "ab\x1b]0;ti", "ab\x1b]0;t\x1b"}) {
    const CleanCut cut = CleanRead(raw, 100, false);
    EXPECT_EQ(cut.consumed, 2u) << testing::PrintToString(raw);
    EXPECT_EQ(cut.text, "ab");
    EXPECT_EQ(CleanRead(raw, 100, true).text, "ab") << "final: the fragment is removed";
  }
  const CleanCut rest = CleanRead("\x1b[31mc\n", 100, false);
  EXPECT_EQ(rest.text, "c\n");
  EXPECT_EQ(rest.consumed, 7u);
}

TEST(CleanRead, StopsBeforeAnEscapeSplitByTheLimitAndStillMakesProgress) {
  const std::string raw = "ab\x1b[31mcd\n";
  CleanCut cut = CleanRead(raw, 4, false);
  EXPECT_EQ(cut.consumed, 2u);
  cut = CleanRead(std::string_view(raw).substr(2), 1, false);
  EXPECT_EQ(cut.consumed, 5u) << "a limit smaller than the sequence takes it whole";
  EXPECT_EQ(cut.text, "");
  cut = CleanRead(std::string_view(raw).substr(2), 0, false);
  EXPECT_EQ(cut.consumed, 5u);
  EXPECT_EQ(CleanRead("\xF0\x9F\x98\x80", 1, false).consumed, 4u);
}

TEST(CleanRead, EndsAfterTheLastWholeLineWhenThereIsOne) {
  CleanCut cut = CleanRead("l1\n\x1b[1ml2\r\npart", 100, false);
  EXPECT_EQ(cut.text, "l1\nl2\n");
  EXPECT_EQ(cut.consumed, 11u);
  cut = CleanRead("10%\r20%\r30%\nnext 1%\rnext 2%", 100, false);
  EXPECT_EQ(cut.text, "30%\n") << "the next line's frames wait for its end";
  cut = CleanRead("part of a line", 100, false);
  EXPECT_EQ(cut.text, "part of a line") << "a line not ended shows at once";
  EXPECT_EQ(CleanRead("l1\nl2", 100, true).text, "l1\nl2");
}

TEST(CleanRead, ACrAtTheEndWaitsForTheNextByte) {
  CleanCut cut = CleanRead("abc\r", 100, false);
  EXPECT_EQ(cut.consumed, 3u);
  EXPECT_EQ(cut.text, "abc");
  EXPECT_EQ(CleanRead("\r", 100, false).consumed, 0u);
  EXPECT_EQ(CleanRead("\r\r", 100, false).consumed, 0u);
  cut = CleanRead("\r\n", 100, false);
  EXPECT_EQ(cut.text, "\n");
  EXPECT_EQ(CleanRead("\r", 100, true).consumed, 1u);
  EXPECT_EQ(CleanRead("\r\r\rx", 1, false).text, "x") << "progress past leading CRs";
}

TEST(CleanRead, ChainedReadsOfShortLinesEqualTheWholeView) {
  std::mt19937 rng(3);
  const std::string pieces[] = {
      "a",  "bc",   kEuro, "\xFF", "\xE2\x82", "\x1b[31m", "\x1b[0m", "\x1b]0;t\x07",
      "\r", "\r\n", "\n",  "\t",   "\x1b(B",   "\x1b",     "\x07",    "\x1b]8;;u\x1b\\"};
  for (int round = 0; round < 400; ++round) {
    std::string s;
    std::size_t line = 0;
    const int n = static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) {
      const std::string& p = pieces[rng() % std::size(pieces)];
      s += p;
      line = p.find('\n') != std::string::npos ? 0 : line + p.size();
      if (line > 24) {
        s += "\n";
        line = 0;
      }
    }
    // Each read's window holds a whole line, so the view does not depend on where reads end.
    const std::size_t limit = 40 + rng() % 30;
    const std::string text = ChainedClean(s, limit);
    EXPECT_EQ(text, CleanText(s)) << testing::PrintToString(s) << " limit " << limit;
    EXPECT_TRUE(utf8::IsValid(text));
  }
}

TEST(CleanRead, AnyLimitMakesProgressAndKeepsTheTextValid) {
  std::mt19937 rng(5);
  const std::string s = "\x1b[1mbold\x1b[0m " + kEuro + "\r\n50%\r100%\x1b]0;t\x07\n\xFF" +
                        std::string(3000, 'x') + "\n";
  for (std::size_t limit : {0, 1, 2, 3, 5, 8, 13, 100, 2047, 5000}) {
    const std::string text = ChainedClean(s, limit);
    EXPECT_TRUE(utf8::IsValid(text)) << limit;
    EXPECT_EQ(text.find('\x1b'), std::string::npos) << limit;
  }
  EXPECT_EQ(ChainedClean(s, 5000), CleanText(s));
}

// Output arrives a byte at a time while a reader follows it: escapes split anywhere and CR LF
// pairs split between reads still come out whole.
TEST(CleanRead, AReaderFollowingLiveOutputSeesNoEscapeFragments) {
  const std::string s = "\x1b[32mok\x1b[0m build\r\n\x1b]0;done\x07" + kEuro + "\x1b(B end\n";
  std::string text;
  std::size_t offset = 0;
  for (std::size_t arrived = 0; arrived <= s.size(); ++arrived) {
    const bool final = arrived == s.size();
    while (offset < arrived) {
      const CleanCut cut =
          CleanRead(std::string_view(s).substr(offset, arrived - offset), 64, final);
      if (cut.consumed == 0) break;
      text += cut.text;
      offset += cut.consumed;
    }
  }
  EXPECT_EQ(offset, s.size());
  EXPECT_EQ(text, CleanText(s));
  EXPECT_EQ(text, "ok build\n" + kEuro + " end\n");
}

TEST(RenderClean, SmallOutputIsTheCleanTextWithNoTruncation) {
  OutputBuffer b;
  b.Append("\x1b[31mred\x1b[0m\r\n50%\r");
  b.Append("100%\n");
  const RenderedOutput r = RenderClean(b);
  EXPECT_EQ(r.text, "red\n100%\n");
  EXPECT_FALSE(r.truncation);
}

TEST(RenderClean, LargeOutputKeepsHeadAndTailCleanedAndCountsExact) {
  std::string line = "\x1b[32mok\x1b[0m step " + kEuro + "\r\n";  // 22 bytes, 12 clean
  std::string data;
  while (data.size() < 100000) data += line;
  OutputBuffer b;
  b.Append(data);
  const RenderedOutput clean = RenderClean(b);
  const RenderedOutput raw = Render(b);
  ASSERT_TRUE(clean.truncation);
  ASSERT_TRUE(raw.truncation);
  EXPECT_EQ(clean.truncation->omitted_bytes, raw.truncation->omitted_bytes);
  EXPECT_EQ(clean.truncation->original_bytes, data.size());
  EXPECT_EQ(clean.truncation->retained_bytes, data.size() - raw.truncation->omitted_bytes);
  EXPECT_EQ(clean.text.find('\x1b'), std::string::npos);
  EXPECT_EQ(clean.text.find('\r'), std::string::npos);
  const std::string marker =
      "\n\n... [omitted " + std::to_string(raw.truncation->omitted_bytes) + " bytes] ...\n\n";
  EXPECT_NE(clean.text.find(marker), std::string::npos);
  EXPECT_TRUE(utf8::IsValid(clean.text));
  EXPECT_EQ(clean.text.substr(0, 24), "ok step " + kEuro + "\nok step " + kEuro + "\n");
}

TEST(RenderClean, CutsLongLinesByTheCleanRule) {
  OutputBuffer b;
  b.Append(std::string(5000, 'x') + "\n");
  const RenderedOutput r = RenderClean(b);
  EXPECT_EQ(r.text, std::string(1000, 'x') + Cut(3000) + std::string(1000, 'x') + "\n");
  ASSERT_TRUE(r.truncation);
  EXPECT_EQ(r.truncation->lines_truncated, 1u);
  EXPECT_EQ(r.truncation->omitted_bytes, 0u);
  EXPECT_EQ(r.truncation->retained_bytes, 5001u - 3000u);
}

}  // namespace
}  // namespace corral::proc
