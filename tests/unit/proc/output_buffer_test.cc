#include "proc/output_buffer.h"

#include <gtest/gtest.h>

#include <random>

#include "../../helpers/pattern.h"
#include "proc/utf8.h"

namespace corral::proc {
namespace {

using corral::testing::Pattern;

std::string Marker(std::uint64_t omitted) {
  return "\n\n... [omitted " + std::to_string(omitted) + " bytes] ...\n\n";
}

RenderedOutput RenderOf(std::string_view bytes, std::size_t write_size = 0) {
  OutputBuffer b;
  if (write_size == 0) write_size = bytes.size() ? bytes.size() : 1;
  for (std::size_t i = 0; i < bytes.size(); i += write_size) b.Append(bytes.substr(i, write_size));
  return Render(b);
}

TEST(OutputBuffer, EmptyRendersEmpty) {
  OutputBuffer b;
  auto r = Render(b);
  EXPECT_EQ(r.text, "");
  EXPECT_FALSE(r.truncation);
  EXPECT_EQ(b.total(), 0u);
}

TEST(OutputBuffer, KeepsEverythingUpToHeadPlusTail) {
  for (std::size_t n : {std::size_t{1}, kHeadBytes - 1, kHeadBytes, kHeadBytes + 1,
                        kHeadBytes + kTailBytes - 1, kHeadBytes + kTailBytes}) {
    const std::string data = Pattern(n);
    auto r = RenderOf(data);
    EXPECT_EQ(r.text, data) << n;
    EXPECT_FALSE(r.truncation) << n;
  }
}

TEST(OutputBuffer, OmitsTheMiddleJustPastHeadPlusTail) {
  for (std::size_t n : {kHeadBytes + kTailBytes + 1, std::size_t{100000}, std::size_t{5000000}}) {
    const std::string data = Pattern(n);
    auto r = RenderOf(data);
    const std::uint64_t omitted = n - kHeadBytes - kTailBytes;
    EXPECT_EQ(r.text, Pattern(kHeadBytes) + Marker(omitted) + Pattern(kTailBytes, n - kTailBytes))
        << n;
    ASSERT_TRUE(r.truncation);
    EXPECT_EQ(r.truncation->original_bytes, n);
    EXPECT_EQ(r.truncation->omitted_bytes, omitted);
    EXPECT_EQ(r.truncation->retained_bytes, kHeadBytes + kTailBytes);
    EXPECT_EQ(r.truncation->lines_truncated, 0u);
  }
}

TEST(OutputBuffer, KeepsLastBytesAfterWrap) {
  OutputBuffer b;
  b.Append(Pattern(kHeadBytes));
  // Wrap the ring several times with odd-sized writes.
  const std::string rest = Pattern(3 * kTailBytes + 123, kHeadBytes);
  for (std::size_t i = 0; i < rest.size(); i += 1000)
    b.Append(std::string_view(rest).substr(i, 1000));
  EXPECT_EQ(b.tail(), rest.substr(rest.size() - kTailBytes));
  EXPECT_EQ(b.head(), Pattern(kHeadBytes));
  EXPECT_EQ(b.total(), kHeadBytes + rest.size());
}

TEST(OutputBuffer, ManyTinyWritesEqualOneLargeWrite) {
  std::mt19937 rng(42);
  std::string data(70000, '\0');
  for (char& c : data) c = static_cast<char>(rng());  // arbitrary bytes, invalid UTF-8 included
  const auto whole = RenderOf(data);
  for (std::size_t size : {1, 2, 3, 7, 4096, 16383, 16384, 16385, 65536}) {
    const auto pieces = RenderOf(data, size);
    EXPECT_EQ(pieces.text, whole.text) << size;
    EXPECT_EQ(pieces.truncation->omitted_bytes, whole.truncation->omitted_bytes) << size;
    EXPECT_EQ(pieces.truncation->retained_bytes, whole.truncation->retained_bytes) << size;
  }
}

TEST(OutputBuffer, LineOfExactlyTheLimitIsKept) {
  const std::string line(kMaxLineBytes, 'x');
  auto r = RenderOf(line + "\n");
  EXPECT_EQ(r.text, line + "\n");
  EXPECT_FALSE(r.truncation);
}

TEST(OutputBuffer, LineOverTheLimitIsCutToTheLimit) {
  auto r = RenderOf(std::string(kMaxLineBytes + 1, 'x') + "\nshort\n" + std::string(10000, 'y'));
  const std::string cut_x = std::string(kCutLineBytes, 'x') + " ... [truncated]";
  const std::string cut_y = std::string(kCutLineBytes, 'y') + " ... [truncated]";
  EXPECT_EQ(cut_x.size(), kMaxLineBytes);
  EXPECT_EQ(r.text, cut_x + "\nshort\n" + cut_y);
  ASSERT_TRUE(r.truncation);
  EXPECT_EQ(r.truncation->lines_truncated, 2u);
  EXPECT_EQ(r.truncation->omitted_bytes, 0u);
  EXPECT_EQ(r.truncation->retained_bytes, 2 * kCutLineBytes + 7);
}

TEST(OutputBuffer, LineCutNeverSplitsACharacter) {
  // A euro sign straddling byte kCutLineBytes of a long line, at each of its three offsets.
  for (std::size_t shift = 0; shift < 3; ++shift) {
    std::string line(kCutLineBytes - 1 - shift, 'a');
    while (line.size() < kMaxLineBytes + 10) line += "\xE2\x82\xAC";
    auto r = RenderOf(line);
    EXPECT_TRUE(utf8::IsValid(r.text)) << shift;
    EXPECT_TRUE(r.text.ends_with(" ... [truncated]"));
    EXPECT_LE(r.text.size(), kMaxLineBytes) << shift;
    EXPECT_GE(r.text.size(), kMaxLineBytes - 2) << shift;
  }
}

TEST(OutputBuffer, HeadCutNeverSplitsACharacterAtAnyOffset) {
  for (std::size_t before = 1; before <= 3; ++before) {
    // A 3- or 4-byte character starting `before` bytes ahead of the head's end.
    for (std::string_view ch :
         {std::string_view("\xE2\x82\xAC"), std::string_view("\xF0\x9F\x98\x80")}) {
      if (before >= ch.size()) continue;
      std::string data = Pattern(kHeadBytes - before);
      data += ch;
      data += Pattern(50000);
      auto r = RenderOf(data);
      EXPECT_TRUE(utf8::IsValid(r.text));
      EXPECT_TRUE(r.text.starts_with(Pattern(kHeadBytes - before) + "\n\n... [omitted "));
      EXPECT_EQ(r.truncation->omitted_bytes + r.truncation->retained_bytes, data.size());
    }
  }
}

TEST(OutputBuffer, TailCutNeverSplitsACharacterAtAnyOffset) {
  for (std::string_view ch : {std::string_view("\xC3\xA9"), std::string_view("\xE2\x82\xAC"),
                              std::string_view("\xF0\x9F\x98\x80")}) {
    for (std::size_t inside = 1; inside < ch.size(); ++inside) {
      // The tail starts `inside` bytes into the character.
      std::string data = Pattern(60000);
      data += ch;
      data += Pattern(kTailBytes - (ch.size() - inside));
      auto r = RenderOf(data, 4096);
      EXPECT_TRUE(utf8::IsValid(r.text));
      EXPECT_TRUE(r.text.ends_with("] ...\n\n" + Pattern(kTailBytes - (ch.size() - inside))));
      EXPECT_EQ(r.truncation->omitted_bytes + r.truncation->retained_bytes, data.size());
    }
  }
}

TEST(OutputBuffer, ContiguousJoinKeepsACharacterSplitAcrossHeadAndRing) {
  std::string data = Pattern(kHeadBytes - 1) + "\xE2\x82\xAC" + "end";
  auto r = RenderOf(data, 1);
  EXPECT_EQ(r.text, data);
  EXPECT_FALSE(r.truncation);
}

TEST(OutputBuffer, InvalidBytesBecomeReplacementWithoutCountingAsTruncation) {
  auto r = RenderOf("ok\xFF\xFE\n");
  EXPECT_EQ(r.text, "ok\xEF\xBF\xBD\xEF\xBF\xBD\n");
  EXPECT_FALSE(r.truncation);
}

TEST(OutputBuffer, NulBytesAreKept) {
  const std::string data("a\0b\0", 4);
  EXPECT_EQ(RenderOf(data).text, data);
}

TEST(OutputBuffer, RandomInputAlwaysRendersValidBoundedUtf8WithCountsThatAddUp) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::string data(rng() % 80000, '\0');
    const int mode = round % 3;
    for (char& c : data) {
      const unsigned v = rng();
      c = mode == 0 ? static_cast<char>(v)  // anything
          : mode == 1
              ? (v % 40 == 0 ? '\n' : static_cast<char>(0x80 | (v & 0x3F)))  // continuation soup
              : (v % 100 == 0 ? '\n' : "a\xC3\xA9\xE2\x82\xAC"[v % 6]);      // mostly text
    }
    OutputBuffer b;
    for (std::size_t i = 0; i < data.size();) {
      const std::size_t n = 1 + rng() % 9000;
      b.Append(std::string_view(data).substr(i, n));
      i += n;
    }
    auto r = Render(b);
    ASSERT_TRUE(utf8::IsValid(r.text)) << round;
    // Each raw byte becomes at most 3 (U+FFFD); each cut line gains its marker; plus the marker.
    ASSERT_LE(r.text.size(), 3 * (kHeadBytes + kTailBytes) + 64 * kMaxLineBytes) << round;
    if (r.truncation) {
      const auto& t = *r.truncation;
      ASSERT_EQ(t.original_bytes, data.size());
      ASSERT_LE(t.retained_bytes + t.omitted_bytes, t.original_bytes);
      ASSERT_EQ(t.original_bytes - t.retained_bytes - t.omitted_bytes == 0, t.lines_truncated == 0);
    } else {
      std::string expected;
      utf8::AppendSanitized(data, expected);
      ASSERT_EQ(r.text, expected) << round;
    }
  }
}

}  // namespace
}  // namespace corral::proc
