#include "base/paths.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace corral::base {
namespace {

Status Untrusted(const std::string& dir, const std::string& why, const std::string& fix) {
  return Status(Code::kFailedPrecondition,
                "refusing " + dir + ": " + why + "; " + fix +
                    ", or set XDG_RUNTIME_DIR to a directory private to you");
}

}  // namespace

Result<std::string> DefaultRuntimeDir(bool create) {
  if (const char* dir = std::getenv("XDG_RUNTIME_DIR"); dir && *dir) return std::string(dir);
  const std::string dir = "/tmp/corral-" + std::to_string(::getuid());
  if (create && ::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status(Code::kInternal, "cannot create " + dir + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT && !create) return dir;
    return Status(Code::kInternal, "cannot inspect " + dir + ": " + std::strerror(errno));
  }
  const std::string remove = "remove it (rm -r " + dir + ")";
  if (S_ISLNK(st.st_mode)) {
    return Untrusted(dir, "it is a symbolic link, and whoever made it chooses where it points",
                     remove);
  }
  if (!S_ISDIR(st.st_mode)) return Untrusted(dir, "it is not a directory", remove);
  if (st.st_uid != ::geteuid()) {
    return Untrusted(dir,
                     "it is owned by uid " + std::to_string(st.st_uid) + ", not by us (uid " +
                         std::to_string(::geteuid()) + ")",
                     remove);
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Untrusted(dir, std::string("its mode is ") + mode + ", which lets other users in",
                     "make it private (chmod 700 " + dir + ")");
  }
  return dir;
}

Result<std::string> DefaultSocketPath() {
  auto dir = DefaultRuntimeDir();
  if (!dir.ok()) return dir.status();
  return *dir + "/corral.sock";
}

Result<std::string> DefaultTokenPath() {
  auto dir = DefaultRuntimeDir();
  if (dir.ok()) return *dir + "/corral.token";
  const std::string path = "/tmp/corral-" + std::to_string(::getuid()) + "/corral.token";
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 && errno == ENOENT) return path;  // nothing to read
  return dir.status();
}

}  // namespace corral::base
