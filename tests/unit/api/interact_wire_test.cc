// The bodies of DESIGN §7.3: a start's stdin and tty, input, resize.
#include <gtest/gtest.h>

#include "api/wire.h"

namespace corral::api {
namespace {

proc::StartSpec Start(std::string_view body) {
  auto decoded = DecodeStart(body);
  EXPECT_TRUE(std::holds_alternative<proc::StartSpec>(decoded)) << body;
  return std::holds_alternative<proc::StartSpec>(decoded) ? std::get<proc::StartSpec>(decoded)
                                                          : proc::StartSpec{};
}

ApiError Refused(std::string_view body) {
  auto decoded = DecodeStart(body);
  EXPECT_TRUE(std::holds_alternative<ApiError>(decoded)) << body;
  return std::holds_alternative<ApiError>(decoded) ? std::get<ApiError>(decoded) : ApiError{};
}

TEST(InteractWire, StdinDefaultsToNullAndTakesPipe) {
  EXPECT_EQ(Start(R"({"command":"x"})").stdin_mode, sys::StdinMode::kNull);
  EXPECT_EQ(Start(R"({"command":"x","stdin":null})").stdin_mode, sys::StdinMode::kNull);
  EXPECT_EQ(Start(R"({"command":"x","stdin":"null"})").stdin_mode, sys::StdinMode::kNull);
  EXPECT_EQ(Start(R"({"command":"x","stdin":"pipe"})").stdin_mode, sys::StdinMode::kPipe);
  EXPECT_EQ(Refused(R"({"command":"x","stdin":"PIPE"})").message, "Invalid stdin.");
  EXPECT_EQ(Refused(R"({"command":"x","stdin":true})").message, "Request body must be valid JSON.");
}

TEST(InteractWire, TtyIsTrueOrASizeAndDefaultsTo24By80) {
  auto plain = Start(R"({"command":"x","tty":true})");
  EXPECT_EQ(plain.stdin_mode, sys::StdinMode::kTty);
  EXPECT_EQ(plain.tty_size.rows, 24);
  EXPECT_EQ(plain.tty_size.cols, 80);
  auto sized = Start(R"({"command":"x","tty":{"rows":50,"cols":1000}})");
  EXPECT_EQ(sized.stdin_mode, sys::StdinMode::kTty);
  EXPECT_EQ(sized.tty_size.rows, 50);
  EXPECT_EQ(sized.tty_size.cols, 1000);
  EXPECT_EQ(Start(R"({"command":"x","tty":false})").stdin_mode, sys::StdinMode::kNull);
  EXPECT_EQ(Start(R"({"command":"x","tty":null,"stdin":"pipe"})").stdin_mode,
            sys::StdinMode::kPipe);
  for (const char* bad : {R"({"command":"x","tty":1})", R"({"command":"x","tty":{}})",
                          R"({"command":"x","tty":{"rows":24,"cols":1001}})",
                          R"({"command":"x","tty":{"rows":-1,"cols":80}})",
                          R"({"command":"x","tty":{"rows":24.5,"cols":80}})",
                          R"({"command":"x","tty":{"rows":"24","cols":80}})"}) {
    EXPECT_EQ(Refused(bad).message, "Invalid tty.") << bad;
  }
  EXPECT_EQ(Refused(R"({"command":"x","tty":true,"stdin":"pipe"})").message, "Invalid stdin.");
}

TEST(InteractWire, InputTakesDataAndClose) {
  auto input = std::get<InputRequest>(DecodeInput(R"({"data":"a\u0003b","close":true})"));
  EXPECT_EQ(input.data,
            "a\x03"
            "b");
  EXPECT_TRUE(input.close);
  auto empty = std::get<InputRequest>(DecodeInput("{}"));
  EXPECT_EQ(empty.data, "");
  EXPECT_FALSE(empty.close);
  EXPECT_EQ(std::get<ApiError>(DecodeInput(R"({"data":1})")).status, 400);
  EXPECT_EQ(std::get<ApiError>(DecodeInput(R"({"close":1})")).status, 400);
  EXPECT_EQ(std::get<ApiError>(DecodeInput("[")).status, 400);
}

TEST(InteractWire, ResizeNeedsBothDimensionsInRange) {
  auto size = std::get<sys::WindowSize>(DecodeResize(R"({"rows":1,"cols":1000})"));
  EXPECT_EQ(size.rows, 1);
  EXPECT_EQ(size.cols, 1000);
  EXPECT_EQ(std::get<ApiError>(DecodeResize(R"({"rows":0,"cols":80})")).message, "Invalid size.");
  EXPECT_EQ(std::get<ApiError>(DecodeResize(R"({"cols":80})")).message, "Invalid size.");
  EXPECT_EQ(std::get<ApiError>(DecodeResize("5")).status, 400);
  EXPECT_EQ(EncodeSize({30, 100}), R"({"rows":30,"cols":100})");
  EXPECT_EQ(EncodeWritten(6), R"({"written":6})");
}

}  // namespace
}  // namespace corral::api
