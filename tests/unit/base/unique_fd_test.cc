#include "base/unique_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>

namespace corral::base {
namespace {

bool IsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(UniqueFd, ClosesOnDestructionAndOnReset) {
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  {
    UniqueFd owner(fd);
    EXPECT_TRUE(IsOpen(fd));
  }
  EXPECT_FALSE(IsOpen(fd));

  int a = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  UniqueFd owner(a);
  int b = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  owner.reset(b);
  EXPECT_FALSE(IsOpen(a));
  EXPECT_TRUE(IsOpen(b));
}

TEST(UniqueFd, MoveTransfersOwnershipAndReleaseGivesItUp) {
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  UniqueFd first(fd);
  UniqueFd second(std::move(first));
  EXPECT_FALSE(first);
  EXPECT_EQ(second.get(), fd);
  EXPECT_EQ(second.release(), fd);
  EXPECT_FALSE(second);
  EXPECT_TRUE(IsOpen(fd));
  ::close(fd);
}

}  // namespace
}  // namespace corral::base
