#include "api/wire.h"

#include <gtest/gtest.h>

#include "api/chat_id.h"

namespace corral::api {
namespace {

proc::StartSpec Ok(std::string_view body) {
  auto r = DecodeStart(body);
  if (auto* e = std::get_if<ApiError>(&r)) ADD_FAILURE() << body << ": " << e->message;
  return std::holds_alternative<proc::StartSpec>(r) ? std::get<proc::StartSpec>(r)
                                                    : proc::StartSpec{};
}

ApiError Err(std::string_view body) {
  auto r = DecodeStart(body);
  if (!std::holds_alternative<ApiError>(r)) ADD_FAILURE() << body << " was accepted";
  return std::holds_alternative<ApiError>(r) ? std::get<ApiError>(r) : ApiError{};
}

TEST(DecodeStart, ReadsEveryField) {
  auto spec =
      Ok(R"({"command":"ls -l","workdir":"/tmp","env":{"A":"1","B":""},"background":true})");
  EXPECT_EQ(spec.command, "ls -l");
  EXPECT_EQ(spec.workdir, "/tmp");
  ASSERT_EQ(spec.env.size(), 2u);
  EXPECT_EQ(spec.env[0], (std::pair<std::string, std::string>{"A", "1"}));
  EXPECT_TRUE(spec.background);
}

TEST(DecodeStart, TimeoutMsIsAWholeNumberOfMillisecondsUpToAWeek) {
  using std::chrono::milliseconds;
  EXPECT_EQ(Ok(R"({"command":"ls","timeout_ms":1500})").timeout, milliseconds(1500));
  EXPECT_EQ(Ok(R"({"command":"ls","timeout_ms":604800000})").timeout, proc::kMaxRunTimeout);
  EXPECT_EQ(Ok(R"({"command":"ls","timeout_ms":0})").timeout, milliseconds(0)) << "no deadline";
  EXPECT_EQ(Ok(R"({"command":"ls","timeout_ms":null})").timeout, milliseconds(0));
  EXPECT_EQ(Ok(R"({"command":"ls"})").timeout, milliseconds(0));
  for (const char* bad : {"-1", "2.5", "604800001", "1e300", "18446744073709551615"}) {
    const ApiError e = Err(std::string(R"({"command":"ls","timeout_ms":)") + bad + "}");
    EXPECT_EQ(e.status, 400) << bad;
    EXPECT_EQ(e.message, "Invalid timeout_ms.") << bad;
  }
  EXPECT_EQ(Err(R"({"command":"ls","timeout_ms":"5"})").message,
            "Request body must be valid JSON.");
}

TEST(DecodeStart, EmptyWorkdirMeansTheDefault) {
  EXPECT_FALSE(Ok(R"({"command":"ls","workdir":""})").workdir);
}

TEST(DecodeStart, RejectsBadEnvironmentNamesAndNulBytes) {
  EXPECT_EQ(Err(R"({"command":"ls","env":{"A=B":"1"}})").status, 400);
  EXPECT_EQ(Err(R"({"command":"ls","env":{"":"1"}})").status, 400);
  EXPECT_EQ(Err(R"({"command":"ls","env":{"A":"x\u0000y"}})").status, 400);
  EXPECT_EQ(Err(R"({"command":"ls\u0000rm"})").message, "Command must not contain NUL bytes.");
}

TEST(DecodeStart, ACommandOverTheKernelsArgumentLimitIs400NotASpawnFailure) {
  // MAX_ARG_STRLEN is 131072 bytes including the terminating NUL.
  const std::string fits(131071, 'x');
  EXPECT_EQ(Ok(R"({"command":")" + fits + R"("})").command.size(), fits.size());
  const ApiError e = Err(R"({"command":")" + fits + R"(x"})");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.message, "Command is too long.");
  EXPECT_NE(e.detail.find("131071"), std::string::npos) << e.detail;
}

TEST(DecodeStart, AnEnvironmentEntryOverTheKernelsArgumentLimitIs400) {
  // "K=" + value + NUL: a value of 131069 bytes fits exactly.
  const std::string fits(131069, 'v');
  EXPECT_EQ(Ok(R"({"command":"true","env":{"K":")" + fits + R"("}})").env.size(), 1u);
  const ApiError e = Err(R"({"command":"true","env":{"K":")" + fits + R"(v"}})");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.message, "Environment variable is too long.");
  EXPECT_NE(e.detail.find("\"K\""), std::string::npos) << e.detail;
}

TEST(DecodeStart, RejectsInvalidUtf8InTheBody) {
  EXPECT_EQ(Err("{\"command\":\"\xFF\"}").message, "Request body must be valid JSON.");
}

TEST(DecodeStart, RejectsDeepNesting) {
  std::string deep =
      R"({"command":"ls","x":)" + std::string(1000, '[') + std::string(1000, ']') + "}";
  EXPECT_EQ(Err(deep).status, 400);
}

TEST(DecodeSignal, AbsentAndNullAreEmpty) {
  EXPECT_EQ(std::get<std::string>(DecodeSignal("{}")), "");
  EXPECT_EQ(std::get<std::string>(DecodeSignal(R"({"signal":null})")), "");
  EXPECT_EQ(std::get<std::string>(DecodeSignal(R"({"signal":"kill","x":1})")), "kill");
  EXPECT_TRUE(std::holds_alternative<ApiError>(DecodeSignal(R"({"signal":true})")));
}

TEST(EncodeError, LeavesOutAnEmptyDetail) {
  EXPECT_EQ(EncodeError("Nope.", ""), R"({"message":"Nope."})");
  EXPECT_EQ(EncodeError("Nope.", "why"), R"({"message":"Nope.","detail":"why"})");
}

TEST(ChatId, CanonicalisesOrRejects) {
  EXPECT_EQ(ParseChatId("11111111-1111-4111-8111-111111111111"),
            "11111111-1111-4111-8111-111111111111");
  EXPECT_EQ(ParseChatId("AAAAAAAA-1111-4111-8111-111111111111"),
            "aaaaaaaa-1111-4111-8111-111111111111");
  EXPECT_EQ(ParseChatId("{aaaaaaaa-1111-4111-8111-111111111111}"),
            "aaaaaaaa-1111-4111-8111-111111111111");
  EXPECT_EQ(ParseChatId("aaaaaaaa111141118111111111111111"),
            "aaaaaaaa-1111-4111-8111-111111111111");
  EXPECT_EQ(ParseChatId(""), "");
  EXPECT_EQ(ParseChatId("00000000-0000-0000-0000-000000000000"), "");
  EXPECT_EQ(ParseChatId("not-a-uuid"), "");
  EXPECT_EQ(ParseChatId("aaaaaaaa-1111-4111-8111-11111111111g"), "");
  EXPECT_EQ(ParseChatId("aaaaaaaa-11114-111-8111-111111111111"), "");
}

}  // namespace
}  // namespace corral::api
