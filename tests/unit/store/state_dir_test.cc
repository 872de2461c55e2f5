#include "store/state_dir.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

#include "temp_dir.h"

namespace corral::store {
namespace {

namespace fs = std::filesystem;

int Mode(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

// What StateDir::Open(path) answers in a separate process: "ok" or the error message.
std::string OpenInAnotherProcess(const std::string& path) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(fds[0]);
    auto dir = StateDir::Open(path);
    const std::string answer = dir.ok() ? "ok" : dir.status().message();
    ::_exit(::write(fds[1], answer.data(), answer.size()) < 0);
  }
  ::close(fds[1]);
  std::string answer;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) answer.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  ::waitpid(child, nullptr, 0);
  return answer;
}

// Sets an environment variable for one scope, restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~ScopedEnv() { old_ ? ::setenv(name_, old_->c_str(), 1) : ::unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(StateDir, CreatesTheDirAndItsParentsPrivateWithASpoolInside) {
  TempDir tmp;
  const std::string path = tmp.path() + "/a/b/corral";
  auto dir = StateDir::Open(path + "/");
  ASSERT_TRUE(dir.ok()) << dir.status().message();
  EXPECT_EQ(dir->path(), path);
  EXPECT_EQ(dir->journal_path(), path + "/journal.db");
  EXPECT_EQ(Mode(tmp.path() + "/a"), 0700);
  EXPECT_EQ(Mode(path), 0700);
  EXPECT_EQ(Mode(dir->spool_dir()), 0700);
  EXPECT_EQ(Mode(dir->lock_path()), 0600);
  std::ifstream lock(dir->lock_path());
  pid_t pid = 0;
  lock >> pid;
  EXPECT_EQ(pid, ::getpid());
}

TEST(StateDir, AnExistingDirKeepsItsModeAndIsReusable) {
  TempDir tmp;
  ::chmod(tmp.path().c_str(), 0750);
  { ASSERT_TRUE(StateDir::Open(tmp.path()).ok()); }
  auto again = StateDir::Open(tmp.path());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(Mode(tmp.path()), 0750);
}

TEST(StateDir, ASecondServerIsRefusedNamingTheDirAndTheHoldersPid) {
  TempDir tmp;
  auto dir = StateDir::Open(tmp.path());
  ASSERT_TRUE(dir.ok());
  const std::string answer = OpenInAnotherProcess(tmp.path());
  EXPECT_NE(answer.find("in use"), std::string::npos) << answer;
  EXPECT_NE(answer.find(tmp.path()), std::string::npos) << answer;
  EXPECT_NE(answer.find("(pid " + std::to_string(::getpid()) + ")"), std::string::npos) << answer;

  // In this same process too: the lock belongs to the open descriptor, not to the process.
  auto second = StateDir::Open(tmp.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), base::Code::kFailedPrecondition);
}

TEST(StateDir, TheLockIsFreeAgainOnceItsHolderIsKilled) {
  TempDir tmp;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    auto dir = StateDir::Open(tmp.path());
    char ok = dir.ok() ? 'y' : 'n';
    [[maybe_unused]] auto n = ::write(fds[1], &ok, 1);
    ::pause();
    ::_exit(0);
  }
  ::close(fds[1]);
  char ok = 0;
  ASSERT_EQ(::read(fds[0], &ok, 1), 1);
  ::close(fds[0]);
  ASSERT_EQ(ok, 'y');
  EXPECT_FALSE(StateDir::Open(tmp.path()).ok());  // held by the child
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  auto dir = StateDir::Open(tmp.path());
  EXPECT_TRUE(dir.ok()) << dir.status().message();
}

TEST(StateDir, ACommandThatOutlivesTheServerDoesNotHoldTheLock) {
  TempDir tmp;
  pid_t sleeper;
  {
    auto dir = StateDir::Open(tmp.path());
    ASSERT_TRUE(dir.ok());
    // A child that execs without closing anything: only close-on-exec keeps the lock from it.
    sleeper = ::fork();
    if (sleeper == 0) {
      ::execl("/bin/sleep", "sleep", "30", nullptr);
      ::_exit(127);
    }
  }
  // Give the exec a moment to happen before the lock is tested: poll until it has.
  for (int i = 0; i < 500; ++i) {
    std::error_code ec;
    if (fs::read_symlink("/proc/" + std::to_string(sleeper) + "/exe", ec).filename() == "sleep") {
      break;
    }
    ::usleep(10000);
  }
  const std::string answer = OpenInAnotherProcess(tmp.path());
  ::kill(sleeper, SIGKILL);
  ::waitpid(sleeper, nullptr, 0);
  EXPECT_EQ(answer, "ok");
}

TEST(StateDir, AFileWhereTheDirShouldBeIsAnError) {
  TempDir tmp;
  const std::string path = tmp.path() + "/file";
  std::ofstream(path) << "x";
  auto dir = StateDir::Open(path);
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().code(), base::Code::kInternal);
  EXPECT_NE(dir.status().message().find(path), std::string::npos) << dir.status().message();
}

TEST(StateDir, DefaultFollowsXdgStateHomeThenHome) {
  {
    ScopedEnv xdg("XDG_STATE_HOME", "/x/state");
    ScopedEnv home("HOME", "/home/someone");
    EXPECT_EQ(*DefaultStateDir(), "/x/state/corral");
  }
  {
    ScopedEnv xdg("XDG_STATE_HOME", "relative/ignored");  // the XDG spec wants absolute paths
    ScopedEnv home("HOME", "/home/someone");
    EXPECT_EQ(*DefaultStateDir(), "/home/someone/.local/state/corral");
  }
  {
    ScopedEnv xdg("XDG_STATE_HOME", nullptr);
    ScopedEnv home("HOME", nullptr);
    auto dir = DefaultStateDir();
    ASSERT_FALSE(dir.ok());
    EXPECT_NE(dir.status().message().find("--state-dir"), std::string::npos);
  }
}

}  // namespace
}  // namespace corral::store
