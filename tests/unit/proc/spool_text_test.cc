#include "proc/spool_text.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "../../helpers/pattern.h"
#include "proc/utf8.h"
#include "sys/fault.h"

namespace corral::proc {
namespace {

// Outputs that put something awkward at every cut point: characters of 2, 3 and 4 bytes split
// by the end of the head or the start of the tail, invalid bytes, lines over 2048 bytes.
std::string Content(const std::string& kind, std::size_t n) {
  std::string unit;
  if (kind == "ascii") return corral::testing::Pattern(n);
  if (kind == "euro") unit = "\xE2\x82\xAC";
  if (kind == "grin") unit = "\xF0\x9F\x98\x80 ";
  if (kind == "mixed") unit = "ab\xC3\xA9\xFF\xE2\x82\n\xF0\x9F\x98\x80\x80";
  if (kind == "longlines") unit = std::string(3000, 'x') + "\xE2\x82\xAC\n";
  std::string s;
  while (s.size() < n) s += unit;
  s.resize(n);
  return s;
}

void ExpectSameRendering(const RenderedOutput& got, const RenderedOutput& want) {
  EXPECT_TRUE(got.text == want.text);
  ASSERT_EQ(got.truncation.has_value(), want.truncation.has_value());
  if (!want.truncation) return;
  EXPECT_EQ(got.truncation->original_bytes, want.truncation->original_bytes);
  EXPECT_EQ(got.truncation->retained_bytes, want.truncation->retained_bytes);
  EXPECT_EQ(got.truncation->omitted_bytes, want.truncation->omitted_bytes);
  EXPECT_EQ(got.truncation->lines_truncated, want.truncation->lines_truncated);
}

// Clears the spool header's "closed cleanly" flag, as if the server had died.
void MarkUncleanlyClosed(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const std::uint64_t flags = 0;
  EXPECT_EQ(::pwrite(fd, &flags, sizeof flags, 24), 8);
  ::close(fd);
}

class SpoolTextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/corral-spool-text-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    sys::ClearFaults();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  int next_id_ = 0;
};

TEST_F(SpoolTextTest, OutputRenderedFromTheSpoolIsTheLiveAnswerByteForByte) {
  const std::size_t sizes[] = {0,
                               1,
                               kHeadBytes - 1,
                               kHeadBytes,
                               kHeadBytes + 1,
                               kHeadBytes + kTailBytes - 1,
                               kHeadBytes + kTailBytes,
                               kHeadBytes + kTailBytes + 1,
                               kHeadBytes + kTailBytes + 2,
                               100000,
                               300000};
  for (const std::string kind : {"ascii", "euro", "grin", "mixed", "longlines"}) {
    for (std::size_t n : sizes) {
      for (std::uint64_t max : {store::kDefaultSpoolMaxBytes, kMinSpoolMaxForRender}) {
        SCOPED_TRACE(kind + " n=" + std::to_string(n) + " max=" + std::to_string(max));
        const std::string data = Content(kind, n);
        OutputBuffer live;
        const std::string id = std::to_string(next_id_++);
        auto spool = store::Spool::Create(dir_, id, max);
        ASSERT_TRUE(spool.ok());
        for (std::size_t at = 0; at < n; at += 4093) {
          const std::string_view piece = std::string_view(data).substr(at, 4093);
          live.Append(piece);
          ASSERT_TRUE(spool.value()->Append(piece).ok());
        }
        const RenderedOutput want = Render(live);

        auto loaded = LoadOutputBuffer(*spool.value());
        ASSERT_TRUE(loaded.ok()) << loaded.status().message();
        ExpectSameRendering(Render(*loaded), want);
        EXPECT_EQ(loaded->total(), n);

        // The same after the server restarted, even one that died without closing the spool.
        spool.value().reset();
        MarkUncleanlyClosed(dir_ + "/" + id);
        auto reopened = store::Spool::Open(dir_, id);
        auto reloaded = LoadOutputBuffer(*reopened);
        ASSERT_TRUE(reloaded.ok()) << reloaded.status().message();
        ExpectSameRendering(Render(*reloaded), want);
      }
    }
  }
}

TEST_F(SpoolTextTest, FromPartsRebuildsTheLiveBuffer) {
  for (std::size_t n : {std::size_t{0}, kHeadBytes + 5, kHeadBytes + kTailBytes + 7}) {
    const std::string data = Content("mixed", n);
    OutputBuffer live;
    live.Append(data);
    const std::size_t head = std::min(n, kHeadBytes);
    const std::size_t tail = std::min(n - head, kTailBytes);
    const OutputBuffer rebuilt =
        OutputBuffer::FromParts(data.substr(0, head), data.substr(n - tail), n);
    EXPECT_EQ(rebuilt.total(), n);
    EXPECT_EQ(rebuilt.head(), live.head());
    EXPECT_EQ(rebuilt.tail(), live.tail());
    ExpectSameRendering(Render(rebuilt), Render(live));
  }
}

TEST_F(SpoolTextTest, ASpoolThatLostTheBytesSaysSoInsteadOfRenderingWrong) {
  auto small = store::Spool::Create(dir_, "small", 8 * 1024);
  ASSERT_TRUE(small.ok());
  ASSERT_TRUE(small.value()->Append(Content("ascii", 100000)).ok());
  auto loaded = LoadOutputBuffer(*small.value());
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), base::Code::kFailedPrecondition);

  auto failed = store::Spool::Create(dir_, "failed", store::kDefaultSpoolMaxBytes);
  ASSERT_TRUE(failed.ok());
  ASSERT_TRUE(failed.value()->Append("start\n").ok());
  sys::InjectFault(sys::Call::kSpoolWrite, EIO);
  EXPECT_FALSE(failed.value()->Append("lost\n").ok());
  auto from_failed = LoadOutputBuffer(*failed.value());
  ASSERT_FALSE(from_failed.ok());
  EXPECT_EQ(from_failed.status().code(), base::Code::kFailedPrecondition);
}

std::string Sanitized(std::string_view s) {
  std::string out;
  utf8::AppendSanitized(s, out);
  return out;
}

// Reads everything from 0 in chained reads; returns the text and the gaps met.
std::string ChainedReads(const store::Spool& spool, std::size_t limit, bool ended, View view,
                         std::vector<store::Gap>* gaps = nullptr) {
  std::string text;
  std::uint64_t offset = 0;
  for (;;) {
    auto read = ReadOutput(spool, offset, limit, ended, view);
    EXPECT_TRUE(read.ok());
    if (!read.ok()) break;
    if (read->gap && gaps) gaps->push_back(*read->gap);
    EXPECT_EQ(read->offset, read->gap ? read->gap->to : offset);
    EXPECT_TRUE(utf8::IsValid(read->data));
    text += read->data;
    if (read->eof || (read->next_offset == offset && !read->gap)) break;
    offset = read->next_offset;
  }
  return text;
}

TEST_F(SpoolTextTest, TenMegabytesReadBackInChainedReadsThroughABoundedSpool) {
  const std::uint64_t max = 1 << 20, head = max / 2, ring = max - head;
  const std::string data = Content("mixed", 10'000'000);
  auto spool = store::Spool::Create(dir_, "big", max);
  ASSERT_TRUE(spool.ok());
  for (std::size_t at = 0; at < data.size(); at += 65536) {
    ASSERT_TRUE(spool.value()->Append(std::string_view(data).substr(at, 65536)).ok());
  }
  std::vector<store::Gap> gaps;
  const std::string text = ChainedReads(*spool.value(), 65536, true, View::kRaw, &gaps);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0], (store::Gap{head, data.size() - ring}));
  // Each kept stretch reads as itself: a character cut by the end of the head, or by the gap,
  // is U+FFFD, one per maximal invalid subpart.
  EXPECT_TRUE(text == Sanitized(data.substr(0, head)) + Sanitized(data.substr(data.size() - ring)));

  // Unbounded: the whole output, byte for byte.
  auto whole = store::Spool::Create(dir_, "whole", store::kDefaultSpoolMaxBytes);
  ASSERT_TRUE(whole.ok());
  ASSERT_TRUE(whole.value()->Append(data).ok());
  EXPECT_TRUE(ChainedReads(*whole.value(), 65536, true, View::kRaw) == Sanitized(data));
}

TEST_F(SpoolTextTest, AReadOfLiveOutputWaitsForAPartialCharacterToComplete) {
  auto created = store::Spool::Create(dir_, "live", store::kDefaultSpoolMaxBytes);
  ASSERT_TRUE(created.ok());
  store::Spool& spool = *created.value();
  ASSERT_TRUE(spool.Append("ab\xE2\x82").ok());
  auto read = ReadOutput(spool, 0, 100, false, View::kRaw);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->data, "ab");
  EXPECT_EQ(read->next_offset, 2u);
  EXPECT_FALSE(read->eof);
  read = ReadOutput(spool, 2, 100, false, View::kRaw);
  EXPECT_EQ(read->next_offset, 2u) << "nothing complete yet: wait=output keeps waiting";
  EXPECT_EQ(read->data, "");
  ASSERT_TRUE(spool.Append("\xAC!").ok());
  read = ReadOutput(spool, 2, 1, false, View::kRaw);
  EXPECT_EQ(read->data, "\xE2\x82\xAC") << "a limit smaller than the character returns it whole";
  EXPECT_EQ(read->next_offset, 5u);

  // The process ended with a partial character: it becomes U+FFFD and the read is at eof.
  ASSERT_TRUE(spool.Append("\xF0\x9F").ok());
  read = ReadOutput(spool, 6, 100, true, View::kRaw);
  EXPECT_EQ(read->data, "\xEF\xBF\xBD");
  EXPECT_EQ(read->next_offset, 8u);
  EXPECT_TRUE(read->eof);
  read = ReadOutput(spool, 8, 100, true, View::kRaw);
  EXPECT_TRUE(read->eof);
  EXPECT_EQ(read->data, "");

  auto past = ReadOutput(spool, 9, 100, true, View::kRaw);
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.status().message(), "Invalid offset.");
}

TEST_F(SpoolTextTest, ACleanReadNeverShowsAnEscapeSplitBetweenWrites) {
  auto created = store::Spool::Create(dir_, "clean", store::kDefaultSpoolMaxBytes);
  ASSERT_TRUE(created.ok());
  store::Spool& spool = *created.value();
  ASSERT_TRUE(spool.Append("\x1b[32mok\x1b[0").ok());
  auto read = ReadOutput(spool, 0, 100, false, View::kClean);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->data, "ok");
  EXPECT_EQ(read->next_offset, 7u);
  ASSERT_TRUE(spool.Append("m 10%\r100%\r\n").ok());
  read = ReadOutput(spool, 7, 100, true, View::kClean);
  EXPECT_EQ(read->data, "100%\n") << "the line's last frame";
  EXPECT_TRUE(read->eof);
}

TEST_F(SpoolTextTest, AFailedSpoolAnswersTheLostRangeAsAGap) {
  auto created = store::Spool::Create(dir_, "failed", store::kDefaultSpoolMaxBytes);
  ASSERT_TRUE(created.ok());
  store::Spool& spool = *created.value();
  ASSERT_TRUE(spool.Append("kept\xE2\x82").ok());
  sys::InjectFault(sys::Call::kSpoolWrite, ENOSPC);
  EXPECT_FALSE(spool.Append("\xAC lost").ok());
  auto read = ReadOutput(spool, 0, 100, false, View::kRaw);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->data, "kept\xEF\xBF\xBD") << "nothing can complete it: the rest is lost";
  EXPECT_EQ(read->next_offset, 6u);
  read = ReadOutput(spool, 6, 100, false, View::kRaw);
  EXPECT_EQ(read->data, "");
  EXPECT_EQ(read->offset, 12u);
  EXPECT_EQ(read->next_offset, 12u);
  EXPECT_EQ(read->gap, (store::Gap{6, 12}));
  EXPECT_FALSE(spool.error().empty());
}

TEST_F(SpoolTextTest, ALimitAboveOneMebibyteIsClamped) {
  auto created = store::Spool::Create(dir_, "clamp", store::kDefaultSpoolMaxBytes);
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(created.value()->Append(std::string(3 << 20, 'x')).ok());
  auto read = ReadOutput(*created.value(), 0, 10 << 20, true, View::kRaw);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->next_offset, kMaxReadLimit);
}

}  // namespace
}  // namespace corral::proc
