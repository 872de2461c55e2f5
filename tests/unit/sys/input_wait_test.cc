#include "sys/input_wait.h"

#include <signal.h>
#include <sys/stat.h>

#include <gtest/gtest.h>
#include <cstdlib>
#include <fstream>

#include "sys/proc_stat.h"
#include "sys/pty.h"
#include "test_process.h"

namespace corral::sys {
namespace {

using namespace std::chrono_literals;

using testing::Eventually;
using testing::Pipe;
using testing::ReadUntilContains;
using testing::TestProcess;

// How many times a "never" is sampled once the process is known to be where it should.
constexpr int kSamples = 100;

std::string SyscallOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/syscall");
  std::string line;
  std::getline(in, line);
  return line;
}

bool NeverWaits(std::span<const pid_t> pids, const FileIdentity& input) {
  for (int i = 0; i < kSamples; ++i) {
    if (WaitingForInput(pids, input)) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// A command whose stdin is a pipe we hold the write end of.
struct OnPipe {
  Pipe in;
  Pipe out;
  FileIdentity input;
  std::unique_ptr<TestProcess> process;

  explicit OnPipe(std::vector<std::string> argv) {
    input = IdentityOf(in.write.get()).value();
    process = std::make_unique<TestProcess>(
        std::move(argv),
        TestProcess::Options{.stdin_fd = in.read.get(), .stdout_fd = out.write.get()});
    in.read.reset();
    out.write.reset();
  }
  pid_t pid() const { return process->pid(); }
  std::vector<pid_t> Tree() const { return ProcessTree(pid()); }
  bool Waiting() const { return WaitingForInput(Tree(), input); }
  void Send(std::string_view text) {
    ASSERT_EQ(::write(in.write.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
};

// Proves each reader is seen waiting, then no more once it has its line and ended.
void ExpectWaitsThenGoesOn(std::vector<std::string> argv) {
  OnPipe run(std::move(argv));
  ASSERT_TRUE(Eventually([&] { return run.Waiting(); })) << SyscallOf(run.pid());
  run.Send("hello\n");
  run.in.write.reset();
  EXPECT_EQ(run.process->Wait(), 0);
  EXPECT_FALSE(WaitingForInput(std::vector<pid_t>{run.pid()}, run.input));
}

TEST(WaitingForInput, CatReadingItsStdinPipe) { ExpectWaitsThenGoesOn({"cat"}); }

TEST(WaitingForInput, ShReadBuiltinOnAPipe) { ExpectWaitsThenGoesOn({"sh", "-c", "read x"}); }

TEST(WaitingForInput, BashReadBuiltinOnAPipe) { ExpectWaitsThenGoesOn({"bash", "-c", "read x"}); }

TEST(WaitingForInput, PythonInputOnAPipe) {
  ExpectWaitsThenGoesOn({"python3", "-c", "input('name? ')"});
}

TEST(WaitingForInput, NodeReadlineOnAPipe) {
  // libuv: epoll_pwait on an epoll instance watching fd 0.
  ExpectWaitsThenGoesOn({"node", "-e",
                         "require('readline').createInterface({input: process.stdin})"
                         ".on('line', () => process.exit(0))"});
}

TEST(WaitingForInput, PythonSelectPollAndEpollOnStdin) {
  for (const char* wait :
       {"select.select([0], [], [])", "p = select.poll(); p.register(0, select.POLLIN); p.poll()",
        "e = select.epoll(); e.register(0, select.EPOLLIN); e.poll()"}) {
    SCOPED_TRACE(wait);
    ExpectWaitsThenGoesOn({"python3", "-c", std::string("import select\n") + wait});
  }
}

TEST(WaitingForInput, AThreadReadingStdinWhileTheMainThreadSleeps) {
  ExpectWaitsThenGoesOn({"python3", "-c",
                         "import sys, threading, time, os\n"
                         "threading.Thread(target=lambda: (sys.stdin.readline(), os._exit(0)))"
                         ".start()\n"
                         "time.sleep(100)\n"});
}

TEST(WaitingForInput, AChildOfTheCommandReading) {
  OnPipe run({"sh", "-c", "cat; true"});
  ASSERT_TRUE(Eventually([&] { return run.Waiting(); }));
  // The shell itself waits for its child, not for input.
  EXPECT_FALSE(ProcessWaitsForInput(run.pid(), run.input));
}

TEST(WaitingForInput, NeverForABusyLoop) {
  OnPipe run({"sh", "-c", "while :; do :; done"});
  ASSERT_TRUE(Eventually([&] { return ReadProcStat(run.pid())->state == 'R'; }));
  EXPECT_TRUE(NeverWaits(run.Tree(), run.input));
}

TEST(WaitingForInput, NeverForSleep) {
  OnPipe run({"sleep", "100"});
  ASSERT_TRUE(Eventually([&] { return SyscallOf(run.pid()).starts_with("230 "); }))
      << SyscallOf(run.pid());  // clock_nanosleep
  EXPECT_TRUE(NeverWaits(run.Tree(), run.input));
}

TEST(WaitingForInput, NeverForAReadOfAFifoThatIsNotItsStdin) {
  char dir_template[] = "/tmp/corral-fifo-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string fifo = std::string(dir_template) + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Opened read-write, it has a writer: cat's open does not block, its read does.
  base::UniqueFd fifo_fd(::open(fifo.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(fifo_fd);
  {
    OnPipe run({"cat", fifo});
    const FileIdentity fifo_identity = IdentityOf(fifo_fd.get()).value();
    // It waits, but for the fifo: the probe tells the two apart.
    ASSERT_TRUE(Eventually([&] { return WaitingForInput(run.Tree(), fifo_identity); }));
    EXPECT_TRUE(NeverWaits(run.Tree(), run.input));
  }
  ::unlink(fifo.c_str());
  ::rmdir(dir_template);
}

TEST(WaitingForInput, NeverForASelectPollOrEpollOfAnotherPipe) {
  // Its stdin is the input, but what it waits on is a pipe of its own.
  for (const char* wait :
       {"select.select([r], [], [])", "p = select.poll(); p.register(r, select.POLLIN); p.poll()",
        "e = select.epoll(); e.register(r, select.EPOLLIN); e.poll()"}) {
    SCOPED_TRACE(wait);
    OnPipe run({"python3", "-c", std::string("import os, select\nr, w = os.pipe()\n") + wait});
    ASSERT_TRUE(Eventually([&] {
      const std::string call = SyscallOf(run.pid());
      // poll, select, pselect6, epoll_wait, epoll_pwait
      for (const char* nr : {"7 ", "23 ", "270 ", "232 ", "281 "}) {
        if (call.starts_with(nr)) return true;
      }
      return false;
    })) << SyscallOf(run.pid());
    EXPECT_TRUE(NeverWaits(run.Tree(), run.input));
  }
}

TEST(WaitingForInput, NotWhileStoppedAndAgainWhenContinued) {
  OnPipe run({"cat"});
  ASSERT_TRUE(Eventually([&] { return run.Waiting(); }));
  ASSERT_EQ(::kill(run.pid(), SIGSTOP), 0);
  ASSERT_TRUE(Eventually([&] { return ReadProcStat(run.pid())->state == 'T'; }));
  // Its /proc/PID/syscall still shows the read it was stopped in.
  EXPECT_TRUE(SyscallOf(run.pid()).starts_with("0 0x0 ")) << SyscallOf(run.pid());
  EXPECT_TRUE(NeverWaits(run.Tree(), run.input));
  ASSERT_EQ(::kill(run.pid(), SIGCONT), 0);
  EXPECT_TRUE(Eventually([&] { return run.Waiting(); }));
}

TEST(InputWaitProbe, AKeptProbeFollowsItsProcessUntilItIsGone) {
  OnPipe run({"cat"});
  InputWaitProbe probe(run.pid());
  ASSERT_TRUE(probe.valid());
  ASSERT_TRUE(Eventually([&] { return probe.WaitsForInput(run.input); }));
  // Given a line, cat copies it and reads again: the same probe sees each wait.
  for (int i = 0; i < 3; ++i) {
    run.Send("line\n");
    ASSERT_EQ(ReadUntilContains(run.out.read.get(), "line\n"), "line\n");
    ASSERT_TRUE(Eventually([&] { return probe.WaitsForInput(run.input); }));
  }
  run.in.write.reset();
  ASSERT_EQ(run.process->Wait(), 0);
  EXPECT_FALSE(probe.WaitsForInput(run.input));
  EXPECT_FALSE(InputWaitProbe(run.pid()).valid());
}

TEST(InputWaitProbe, AKeptProbeNeverSeesABusyProcessWaiting) {
  OnPipe run({"sh", "-c", "while :; do :; done"});
  InputWaitProbe probe(run.pid());
  ASSERT_TRUE(Eventually([&] { return ReadProcStat(run.pid())->state == 'R'; }));
  for (int i = 0; i < kSamples; ++i) EXPECT_FALSE(probe.WaitsForInput(run.input));
}

TEST(WaitingForInput, FalseForProcessesThatAreGone) {
  const pid_t gone[] = {0, -1, 999999999};
  EXPECT_FALSE(WaitingForInput(gone, FileIdentity{1, 1}));
}

// A command on a terminal: the candidates are the members of its foreground group.
struct OnTerminal {
  Pty pty;
  FileIdentity input;
  std::unique_ptr<TestProcess> process;

  explicit OnTerminal(std::vector<std::string> argv) {
    EXPECT_FALSE(OpenPty({}, pty));
    input = IdentityOf(pty.slave.get()).value();
    process = std::make_unique<TestProcess>(std::move(argv),
                                            TestProcess::Options{.terminal = pty.slave.get()});
    pty.slave.reset();
  }
  std::vector<pid_t> Candidates() const {
    pid_t group = 0;
    if (ForegroundGroup(pty.master.get(), group)) return {};
    return GroupMembers(ProcessTree(process->pid()), group);
  }
  bool Waiting() const { return WaitingForInput(Candidates(), input); }
  // Drains what the command wrote, so that it never blocks on a full terminal.
  void Drain() const {
    testing::ReadUntil(
        pty.master.get(), [](auto&) { return false; }, 10ms);
  }
};

void ExpectWaitsOnTerminal(std::vector<std::string> argv) {
  OnTerminal run(std::move(argv));
  ASSERT_TRUE(Eventually([&] {
    run.Drain();
    return run.Waiting();
  })) << SyscallOf(run.process->pid());
  EXPECT_TRUE(IdentityOf(run.pty.master.get()).has_value());
}

TEST(WaitingForInputOnTerminal, IdentityOfTheSlaveIsATerminal) {
  Pty pty;
  ASSERT_FALSE(OpenPty({}, pty));
  EXPECT_TRUE(IdentityOf(pty.slave.get())->terminal);
  Pipe pipe;
  EXPECT_FALSE(IdentityOf(pipe.write.get())->terminal);
}

TEST(WaitingForInputOnTerminal, PythonInput) {
  ExpectWaitsOnTerminal({"python3", "-c", "input('name? ')"});
}

TEST(WaitingForInputOnTerminal, PythonRepl) {
  // With line editing: pselect6 on the terminal.
  ExpectWaitsOnTerminal({"python3", "-i"});
}

TEST(WaitingForInputOnTerminal, NodeRepl) {
  // node reopens the terminal as another descriptor and watches that one with epoll.
  ExpectWaitsOnTerminal({"node"});
}

TEST(WaitingForInputOnTerminal, BashRead) { ExpectWaitsOnTerminal({"bash", "-c", "read x"}); }

TEST(WaitingForInputOnTerminal, APasswordPromptReadingDevTty) {
  ExpectWaitsOnTerminal({"sh", "-c", "read x < /dev/tty"});
}

TEST(WaitingForInputOnTerminal, NotForSleepNorAfterCtrlC) {
  OnTerminal run({"sh", "-c", "sleep 100; read x"});
  ASSERT_TRUE(Eventually([&] {
    auto tree = ProcessTree(run.process->pid());
    return tree.size() == 2 && SyscallOf(tree[1]).starts_with("230 ");
  }));
  EXPECT_TRUE(NeverWaits(run.Candidates(), run.input));
  // ^C ends the sleep and the shell (one group, no job control): nothing waits any more.
  ASSERT_EQ(::write(run.pty.master.get(), "\x03", 1), 1);
  EXPECT_TRUE(WIFSIGNALED(run.process->Wait()));
  EXPECT_FALSE(run.Waiting());
}

}  // namespace
}  // namespace corral::sys
