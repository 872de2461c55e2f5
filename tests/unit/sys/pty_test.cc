#include "sys/pty.h"

#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>
#include <set>
#include <sstream>

#include "sys/proc_stat.h"
#include "test_process.h"

namespace corral::sys {
namespace {

using namespace std::chrono_literals;

using testing::Eventually;
using testing::ReadToEnd;
using testing::ReadUntilContains;
using testing::TestProcess;

// A command on a fresh terminal of `size`; the test's copy of the slave is closed at once, as
// the server does after its spawn, so that the master reports the end of output.
struct OnTerminal {
  Pty pty;
  std::unique_ptr<TestProcess> process;

  explicit OnTerminal(std::vector<std::string> argv, WindowSize size = {}) {
    EXPECT_FALSE(OpenPty(size, pty));
    process = std::make_unique<TestProcess>(std::move(argv),
                                            TestProcess::Options{.terminal = pty.slave.get()});
    pty.slave.reset();
  }
  bool Type(std::string_view keys) {
    return ::write(pty.master.get(), keys.data(), keys.size()) == static_cast<ssize_t>(keys.size());
  }
};

TEST(Pty, OpensAPairWithANonBlockingMasterAndTheRequestedSize) {
  Pty pty;
  ASSERT_FALSE(OpenPty({30, 100}, pty));
  EXPECT_TRUE(pty.master && pty.slave);
  EXPECT_TRUE(pty.slave_path.starts_with("/dev/pts/"));
  EXPECT_TRUE(::fcntl(pty.master.get(), F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(::fcntl(pty.master.get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_TRUE(::fcntl(pty.slave.get(), F_GETFD) & FD_CLOEXEC);
  WindowSize size;
  ASSERT_FALSE(GetWindowSize(pty.master.get(), size));
  EXPECT_EQ(size.rows, 30);
  EXPECT_EQ(size.cols, 100);
  // Nothing there yet: a non-blocking read says so instead of hanging.
  char c;
  EXPECT_EQ(::read(pty.master.get(), &c, 1), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST(Pty, DefaultSizeIs24By80) {
  Pty pty;
  ASSERT_FALSE(OpenPty({}, pty));
  WindowSize size;
  ASSERT_FALSE(GetWindowSize(pty.master.get(), size));
  EXPECT_EQ(size.rows, 24);
  EXPECT_EQ(size.cols, 80);
}

TEST(Pty, TheSlaveIsTheCommandsTerminal) {
  OnTerminal run({"tty"});
  const std::string out = ReadToEnd(run.pty.master.get());
  EXPECT_EQ(out, run.pty.slave_path + "\r\n");
  EXPECT_EQ(run.process->Wait(), 0);
}

TEST(Pty, ModesAreThoseOfALoginTerminal) {
  OnTerminal run({"stty", "-a"});
  const std::string out = ReadToEnd(run.pty.master.get());
  std::set<std::string> words;
  std::istringstream split(out);
  for (std::string word; split >> word;) words.insert(word);
  for (const char* mode : {"icanon", "echo", "isig", "icrnl", "onlcr", "iutf8", "-ixon", "cs8"}) {
    EXPECT_TRUE(words.contains(mode)) << mode << " in " << out;
  }
  EXPECT_NE(out.find("intr = ^C"), std::string::npos) << out;
  EXPECT_NE(out.find("eof = ^D"), std::string::npos) << out;
}

TEST(Pty, SttySizeShowsTheSizeAndFollowsAResize) {
  OnTerminal run({"sh", "-c", "stty size; read x; stty size"}, {30, 100});
  EXPECT_NE(ReadUntilContains(run.pty.master.get(), "30 100\r\n").find("30 100\r\n"),
            std::string::npos);
  ASSERT_FALSE(ResizePty(run.pty.master.get(), {40, 120}));
  WindowSize size;
  ASSERT_FALSE(GetWindowSize(run.pty.master.get(), size));
  EXPECT_EQ(size.rows, 40);
  ASSERT_TRUE(run.Type("\r"));
  EXPECT_NE(ReadToEnd(run.pty.master.get()).find("40 120\r\n"), std::string::npos);
  EXPECT_EQ(run.process->Wait(), 0);
}

TEST(Pty, ResizeSignalsTheForegroundGroup) {
  OnTerminal run({"python3", "-c",
                  "import os, signal\n"
                  "signal.signal(signal.SIGWINCH, lambda *_: print('winch', "
                  "*os.get_terminal_size(), flush=True))\n"
                  "print('ready', flush=True)\n"
                  "signal.pause()\n"});
  ASSERT_NE(ReadUntilContains(run.pty.master.get(), "ready").find("ready"), std::string::npos);
  ASSERT_FALSE(ResizePty(run.pty.master.get(), {50, 132}));
  EXPECT_NE(ReadToEnd(run.pty.master.get()).find("winch 132 50"), std::string::npos);
}

TEST(Pty, CtrlCInterruptsTheForegroundJob) {
  OnTerminal run({"sleep", "100"});
  ASSERT_TRUE(Eventually([&] {
    pid_t group = 0;
    return !ForegroundGroup(run.pty.master.get(), group) && group == run.process->pid() &&
           ReadProcStat(run.process->pid())->state == 'S';
  }));
  ASSERT_TRUE(run.Type("\x03"));
  const int status = run.process->Wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGINT);
}

TEST(Pty, EofCharEndsCat) {
  OnTerminal run({"cat"});
  char eof = 0;
  ASSERT_FALSE(EofChar(run.pty.master.get(), eof));
  EXPECT_EQ(eof, '\x04');
  ASSERT_TRUE(run.Type(std::string("hello\n") + eof));
  const std::string out = ReadToEnd(run.pty.master.get());
  EXPECT_EQ(run.process->Wait(), 0);
  // The echo of what was typed (^D is not echoed), then cat's copy; NL written as CRLF.
  EXPECT_EQ(out, "hello\r\nhello\r\n");
}

TEST(Pty, EofAfterAPartialLineTakesTwo) {
  OnTerminal run({"cat"});
  char eof = 0;
  ASSERT_FALSE(EofChar(run.pty.master.get(), eof));
  ASSERT_TRUE(run.Type(std::string("abc") + eof));
  ASSERT_NE(ReadUntilContains(run.pty.master.get(), "abcabc").find("abcabc"), std::string::npos);
  // The first only handed "abc" over: cat still runs.
  EXPECT_EQ(run.process->Wait(200ms), -1);
  ASSERT_TRUE(run.Type(std::string(1, eof)));
  EXPECT_EQ(run.process->Wait(), 0);
}

TEST(Pty, MasterGivesAllOutputThenEio) {
  // More than the terminal buffers, so the writer blocks and the end comes while we read.
  OnTerminal run({"head", "-c", "300000", "/dev/zero"});
  std::string out;
  int error = 0;
  for (;;) {
    pollfd p{run.pty.master.get(), POLLIN, 0};
    ::poll(&p, 1, 20000);
    char buf[8192];
    ssize_t n = ::read(run.pty.master.get(), buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EAGAIN) continue;
    error = n < 0 ? errno : 0;
    break;
  }
  EXPECT_EQ(error, EIO);
  EXPECT_EQ(out.size(), 300000u);
  EXPECT_EQ(run.process->Wait(), 0);
}

TEST(Pty, ForegroundGroupFollowsTheJobs) {
  Pty pty;
  ASSERT_FALSE(OpenPty({}, pty));
  pid_t group = -1;
  ASSERT_FALSE(ForegroundGroup(pty.master.get(), group));
  EXPECT_EQ(group, 0);  // no session has it as its terminal yet
  // A shell with job control runs its foreground job in a group of its own.
  TestProcess shell({"bash", "-c", "set -m; sleep 100; true"}, {.terminal = pty.slave.get()});
  pty.slave.reset();
  pid_t sleeper = 0;
  ASSERT_TRUE(Eventually([&] {
    auto tree = ProcessTree(shell.pid());
    if (tree.size() < 2) return false;
    sleeper = tree[1];
    return !ForegroundGroup(pty.master.get(), group) && group == sleeper;
  })) << group;
  auto tree = ProcessTree(shell.pid());
  EXPECT_EQ(GroupMembers(tree, group), std::vector<pid_t>{sleeper});
}

}  // namespace
}  // namespace corral::sys
