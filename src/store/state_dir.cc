#include "store/state_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace corral::store {
namespace {

base::Status Failure(const std::string& what, const std::string& path, int error) {
  return {base::Code::kInternal, what + " " + path + ": " + std::strerror(error)};
}

// mkdir -p with mode 0700 for every directory it creates.
base::Status MakeDirectories(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return base::Status::Ok();
    return Failure("cannot use state dir", path, ENOTDIR);
  }
  if (errno != ENOENT) return Failure("cannot use state dir", path, errno);
  if (const auto slash = path.find_last_of('/'); slash != std::string::npos && slash > 0) {
    if (auto status = MakeDirectories(path.substr(0, slash)); !status.ok()) return status;
  }
  // EEXIST: made by someone else since the stat, which is as good.
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Failure("cannot create state dir", path, errno);
  }
  return base::Status::Ok();
}

// The pid the holder wrote into the lock file, or an empty string.
std::string ReadHolderPid(int fd) {
  char buf[32];
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "";
  std::string pid(buf, static_cast<std::size_t>(n));
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) return "";
  return pid;
}

}  // namespace

base::Result<std::string> DefaultStateDir() {
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && xdg[0] == '/') {
    return std::string(xdg) + "/corral";
  }
  if (const char* home = std::getenv("HOME"); home && home[0] == '/') {
    return std::string(home) + "/.local/state/corral";
  }
  return base::Status(base::Code::kFailedPrecondition,
                      "no state dir: neither XDG_STATE_HOME nor HOME is an absolute path; "
                      "pass --state-dir");
}

base::Result<StateDir> StateDir::Open(const std::string& path) {
  std::string dir = path;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (auto status = MakeDirectories(dir); !status.ok()) return status;
  const std::string spool = dir + "/spool";
  if (::mkdir(spool.c_str(), 0700) != 0 && errno != EEXIST) {
    return Failure("cannot create spool dir", spool, errno);
  }

  const std::string lock_path = dir + "/lock";
  base::UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock) return Failure("cannot open lock file", lock_path, errno);
  // flock, not fcntl locks: an fcntl lock is dropped when *any* descriptor of the file is closed
  // in the process, and is not held by the open file description the way flock's is.
  int rc;
  do {
    rc = ::flock(lock.get(), LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno != EWOULDBLOCK) return Failure("cannot lock", lock_path, errno);
    std::string message = "state dir " + dir + " is in use by another corral server";
    if (std::string pid = ReadHolderPid(lock.get()); !pid.empty()) message += " (pid " + pid + ")";
    return base::Status(base::Code::kFailedPrecondition, message);
  }
  // The pid is only a hint for the message above: the flock, not the file's content, decides.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock.get(), 0) != 0 ||
      ::pwrite(lock.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return Failure("cannot write lock file", lock_path, errno);
  }
  return StateDir(std::move(dir), std::move(lock));
}

}  // namespace corral::store
