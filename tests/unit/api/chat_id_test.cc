#include "api/chat_id.h"

#include <gtest/gtest.h>

namespace corral::api {
namespace {

constexpr const char* kCanonical = "aaaaaaaa-1111-4111-8111-bbbbbbbbbbbb";

TEST(ChatId, AcceptsEveryFormGoParsesAsTheSameChat) {
  for (const char* form : {
           "aaaaaaaa-1111-4111-8111-bbbbbbbbbbbb",
           "AAAAAAAA-1111-4111-8111-BBBBBBBBBBBB",
           "urn:uuid:aaaaaaaa-1111-4111-8111-bbbbbbbbbbbb",
           "URN:UUID:AAAAAAAA-1111-4111-8111-bbbbbbbbbbbb",
           "Urn:Uuid:aaaaaaaa-1111-4111-8111-bbbbbbbbbbbb",
           "{aaaaaaaa-1111-4111-8111-bbbbbbbbbbbb}",
           "{AAAAAAAA-1111-4111-8111-BBBBBBBBBBBB}",
           "aaaaaaaa111141118111bbbbbbbbbbbb",
           "AAAAAAAA111141118111BBBBBBBBBBBB",
       }) {
    EXPECT_EQ(ParseChatId(form), kCanonical) << form;
    EXPECT_EQ(CanonicalUuid(form), kCanonical) << form;
  }
}

TEST(ChatId, RefusesWhatGoRefuses) {
  for (const char* form : {
           "",
           "not-a-uuid",
           "urn:uuid:",
           "urn:uuid:aaaaaaaa111141118111bbbbbbbbbbbb",  // urn only with dashes
           "urn:uuid:{aaaaaaaa-1111-4111-8111-bbbbbbbbbbbb}",
           "urn:uid:aaaaaaaa-1111-4111-8111-bbbbbbbbbbbb",
           "uri:uuid:aaaaaaaa-1111-4111-8111-bbbbbbbbbbbb",
           "{aaaaaaaa111141118111bbbbbbbbbbbb}",  // braces only with dashes
           "(aaaaaaaa-1111-4111-8111-bbbbbbbbbbbb)",
           "{aaaaaaaa-1111-4111-8111-bbbbbbbbbbbb",
           "aaaaaaaa-1111-4111-8111-bbbbbbbbbbbg",
           "aaaaaaaa-11114-111-8111-bbbbbbbbbbbb",
           "aaaaaaaa-1111-4111-8111-bbbbbbbbbbbb ",
           " aaaaaaaa-1111-4111-8111-bbbbbbbbbbbb",
           "aaaaaaaa111141118111bbbbbbbbbbb",
       }) {
    EXPECT_EQ(CanonicalUuid(form), "") << form;
    EXPECT_EQ(ParseChatId(form), "") << form;
  }
}

TEST(ChatId, TheNilUuidInAnyFormIsNoChat) {
  EXPECT_EQ(CanonicalUuid("urn:uuid:00000000-0000-0000-0000-000000000000"),
            "00000000-0000-0000-0000-000000000000");
  EXPECT_EQ(ParseChatId("urn:uuid:00000000-0000-0000-0000-000000000000"), "");
  EXPECT_EQ(ParseChatId("00000000000000000000000000000000"), "");
}

}  // namespace
}  // namespace corral::api
