#include "proc/spool_text.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "../../helpers/pattern.h"
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

}  // namespace
}  // namespace corral::proc
