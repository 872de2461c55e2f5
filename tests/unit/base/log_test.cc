#include "base/log.h"

#include <gtest/gtest.h>

#include <optional>

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

}  // namespace
}  // namespace corral::base
