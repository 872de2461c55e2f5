#include "server/socket_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace corral::server {
namespace {

std::string Fresh(const char* name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("corral-socket-file-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = (dir / name).string();
  std::filesystem::remove(path);
  std::ofstream(path) << "x";
  return path;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

TEST(SocketFile, RemovesTheFileItRecorded) {
  const std::string path = Fresh("same");
  auto file = SocketFile::Record(path);
  ASSERT_TRUE(file);
  EXPECT_TRUE(file->RemoveIfOurs());
  EXPECT_FALSE(Exists(path));
}

TEST(SocketFile, LeavesAReplacementAtTheSamePathAlone) {
  const std::string path = Fresh("replaced");
  auto file = SocketFile::Record(path);
  ASSERT_TRUE(file);
  // Someone removes ours and another file takes the path (keep the old inode alive so the new
  // file cannot reuse its number).
  const std::string moved = path + ".old";
  ASSERT_EQ(::rename(path.c_str(), moved.c_str()), 0);
  std::ofstream(path) << "theirs";
  EXPECT_FALSE(file->RemoveIfOurs());
  EXPECT_TRUE(Exists(path));
  ::unlink(moved.c_str());
  ::unlink(path.c_str());
}

TEST(SocketFile, NothingThereIsNothingToRemove) {
  const std::string path = Fresh("gone");
  auto file = SocketFile::Record(path);
  ASSERT_TRUE(file);
  ::unlink(path.c_str());
  EXPECT_FALSE(file->RemoveIfOurs());
  EXPECT_FALSE(SocketFile::Record(path));
}

}  // namespace
}  // namespace corral::server
