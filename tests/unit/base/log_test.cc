#include "base/log.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace corral::base {
namespace {

TEST(LogLine, JsonCarriesTimestampLevelMessageAndTypedFields) {
  const std::optional<std::string_view> none;
  EXPECT_EQ(FormatLogLine(LogFormat::kJson, 1'700'000'000'123, LogLevel::kWarning, "a \"b\"\n",
                          {{"route", "/x/{id}"},
                           {"status", 404},
                           {"duration_ms", 1.5},
                           {"ok", false},
                           {"chat", none}}),
            R"({"ts":"2023-11-14T22:13:20.123Z","level":"warning","msg":"a \"b\"\n",)"
            R"("route":"/x/{id}","status":404,"duration_ms":1.500,"ok":false,"chat":null})");
}

TEST(LogLine, TextQuotesOnlyWhatCouldNotBeSplitOnSpaces) {
  EXPECT_EQ(FormatLogLine(LogFormat::kText, 0, LogLevel::kInfo, "request",
                          {{"route", "/a"}, {"detail", "two words"}, {"status", 200}}),
            R"(corral: info: request route=/a detail="two words" status=200)");
}

TEST(LogLine, LevelFilter) {
  SetLogLevel(LogLevel::kWarning);
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  SetLogLevel(LogLevel::kInfo);
  EXPECT_TRUE(LogEnabled(LogLevel::kInfo));
}

TEST(LogLine, AJsonStringLongerThanOneSerializerChunkIsWhole) {
  const std::string long_value(1000, 'x');
  EXPECT_EQ(FormatLogLine(LogFormat::kJson, 0, LogLevel::kInfo, "m", {{"v", long_value + "\t"}}),
            R"({"ts":"1970-01-01T00:00:00.000Z","level":"info","msg":"m","v":")" + long_value +
                R"(\t"})");
}

// The batcher: info lines wait for FlushLog; a warning writes what waited, then itself; removing
// the batcher writes what is left. Stderr is captured at its descriptor, as write(2) sees it.
TEST(LogBatch, LinesWaitForTheFlushAndAWarningOrTheEndWritesThemInOrder) {
  int scheduled = 0;
  testing::internal::CaptureStderr();
  SetLogBatcher([&] { ++scheduled; });
  Log(LogLevel::kInfo, "one");
  Log(LogLevel::kInfo, "two");
  EXPECT_EQ(scheduled, 1) << "one flush per batch";
  std::string written = testing::internal::GetCapturedStderr();
  EXPECT_EQ(written, "");

  testing::internal::CaptureStderr();
  FlushLog();
  Log(LogLevel::kInfo, "three");
  EXPECT_EQ(scheduled, 2);
  Log(LogLevel::kWarning, "four");
  Log(LogLevel::kInfo, "five");
  SetLogBatcher({});
  Log(LogLevel::kInfo, "six");
  written = testing::internal::GetCapturedStderr();
  EXPECT_EQ(written,
            "corral: info: one\ncorral: info: two\ncorral: info: three\n"
            "corral: warning: four\ncorral: info: five\ncorral: info: six\n");
}

}  // namespace
}  // namespace corral::base
