#include "server/socket_file.h"

#include <sys/stat.h>
#include <unistd.h>

namespace corral::server {

std::optional<SocketFile> SocketFile::Record(std::string path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
  return SocketFile(std::move(path), st.st_dev, st.st_ino);
}

bool SocketFile::RemoveIfOurs() const {
  struct stat st;
  if (::lstat(path_.c_str(), &st) != 0 || st.st_dev != dev_ || st.st_ino != ino_) return false;
  return ::unlink(path_.c_str()) == 0;
}

}  // namespace corral::server
