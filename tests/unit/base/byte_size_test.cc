#include "base/byte_size.h"

#include <gtest/gtest.h>

namespace corral::base {
namespace {

TEST(ParseByteSize, ReadsPlainBytes) {
  EXPECT_EQ(ParseByteSize("0"), 0u);
  EXPECT_EQ(ParseByteSize("65536"), 65536u);
  EXPECT_EQ(ParseByteSize("007"), 7u);
}

TEST(ParseByteSize, SuffixesAreBinaryMultiplesInEitherCase) {
  EXPECT_EQ(ParseByteSize("1K"), 1024u);
  EXPECT_EQ(ParseByteSize("64M"), 64u << 20);
  EXPECT_EQ(ParseByteSize("64m"), 64u << 20);
  EXPECT_EQ(ParseByteSize("1G"), 1u << 30);
  EXPECT_EQ(ParseByteSize("3k"), 3072u);
}

TEST(ParseByteSize, RejectsWhatIsNotASize) {
  for (std::string_view s :
       {"", "K", "-1", "+1", " 1", "1 ", "1.5M", "1KB", "1KiB", "1T", "0x10", "1MM", "M1"}) {
    EXPECT_FALSE(ParseByteSize(s)) << s;
  }
}

TEST(ParseByteSize, RejectsWhatOverflows) {
  EXPECT_EQ(ParseByteSize("18446744073709551615"), 18446744073709551615u);
  EXPECT_FALSE(ParseByteSize("18446744073709551616"));
  EXPECT_FALSE(ParseByteSize("99999999999999999999"));
  EXPECT_EQ(ParseByteSize("17179869183G"), 17179869183ull << 30);
  EXPECT_FALSE(ParseByteSize("17179869184G"));
}

}  // namespace
}  // namespace corral::base
