// `corral run --tty` and `corral attach` through the real binary, run on a pseudo-terminal of
// the test's own (the test is the user at the keyboard): the remote terminal, keystrokes and
// Ctrl-C forwarded, the local terminal's size, and the local terminal restored on every exit.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>

#include "harness.h"

namespace corral::testing {
namespace {

namespace json = boost::json;
using std::chrono::steady_clock;

// A program running on a new pseudo-terminal as its controlling terminal; the test holds the
// other end.
class LocalTerminal {
 public:
  LocalTerminal(const std::vector<std::string>& argv, unsigned short rows = 24,
                unsigned short cols = 80) {
    winsize ws{};
    ws.ws_row = rows;
    ws.ws_col = cols;
    if (::openpty(&master_, &slave_, nullptr, nullptr, &ws) != 0) {
      ADD_FAILURE() << "openpty: " << std::strerror(errno);
      return;
    }
    ::tcgetattr(slave_, &before_);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const std::string err = TempDir() + "/stderr";
    err_path_ = err;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setsid();
      ::ioctl(slave_, TIOCSCTTY, 0);
      ::dup2(slave_, 0);
      ::dup2(slave_, 1);
      const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(e, 2);
      ::close(master_);
      ::signal(SIGINT, SIG_DFL);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  ~LocalTerminal() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(master_);
    ::close(slave_);
  }

  void Type(const std::string& keys) {
    ASSERT_EQ(::write(master_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
  }
  // True once `text` was shown on the terminal (within 20 s).
  bool WaitFor(const std::string& text) {
    const auto end = steady_clock::now() + std::chrono::seconds(20);
    while (shown_.find(text) == std::string::npos) {
      if (steady_clock::now() > end) return false;
      Drain(100);
    }
    return true;
  }
  // Its exit status (128+n for signal n), reading what it shows meanwhile; -1 after 30 s.
  int Finish() {
    const auto end = steady_clock::now() + std::chrono::seconds(30);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (steady_clock::now() > end) return -1;
      Drain(50);
    }
    exited_ = true;
    Drain(0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  void Signal(int s) { ::kill(pid_, s); }
  // True when the terminal's settings are those it had before the program ran.
  bool Restored() const {
    termios now{};
    ::tcgetattr(slave_, &now);
    return now.c_iflag == before_.c_iflag && now.c_oflag == before_.c_oflag &&
           now.c_lflag == before_.c_lflag && now.c_cflag == before_.c_cflag &&
           std::memcmp(now.c_cc, before_.c_cc, sizeof now.c_cc) == 0;
  }
  bool Raw() const {
    termios now{};
    ::tcgetattr(slave_, &now);
    return (now.c_lflag & (ICANON | ECHO | ISIG)) == 0;
  }
  void Resize(unsigned short rows, unsigned short cols) {
    winsize ws{};
    ws.ws_row = rows;
    ws.ws_col = cols;
    ::ioctl(master_, TIOCSWINSZ, &ws);  // the kernel sends SIGWINCH to its foreground group
  }
  const std::string& shown() const { return shown_; }
  std::string Err() const {
    std::string out;
    if (FILE* f = std::fopen(err_path_.c_str(), "r")) {
      char buf[4096];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
      std::fclose(f);
    }
    return out;
  }

 private:
  void Drain(int timeout_ms) {
    pollfd p{master_, POLLIN, 0};
    while (::poll(&p, 1, timeout_ms) > 0) {
      char buf[4096];
      const ssize_t n = ::read(master_, buf, sizeof buf);
      if (n <= 0) return;
      shown_.append(buf, static_cast<std::size_t>(n));
      timeout_ms = 0;
    }
  }
  int master_ = -1, slave_ = -1;
  termios before_{};
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string shown_;
  std::string err_path_;
};

class CliTty : public CliTest {};

TEST_F(CliTty, RunTtyRunsTheCommandOnATerminalAndRestoresTheLocalOne) {
  LocalTerminal term(Argv({"run", "--tty", "--", "tty"}));
  EXPECT_EQ(term.Finish(), 0) << term.Err();
  EXPECT_NE(term.shown().find("/dev/pts/"), std::string::npos) << term.shown();
  EXPECT_TRUE(term.Restored());
}

TEST_F(CliTty, TheRemoteTerminalHasTheLocalSizeAndFollowsItsChanges) {
  LocalTerminal term(Argv({"run", "--tty", "--",
                           "stty size; trap 'stty size' WINCH; echo ready; "
                           "while :; do sleep 0.05; done"}),
                     33, 101);
  ASSERT_TRUE(term.WaitFor("33 101")) << term.shown() << term.Err();
  ASSERT_TRUE(term.WaitFor("ready")) << term.shown();
  EXPECT_TRUE(term.Raw()) << "the local terminal is in raw mode while the session lasts";
  term.Resize(40, 120);
  EXPECT_TRUE(term.WaitFor("40 120")) << term.shown() << term.Err();
  term.Type("\x03");  // Ctrl-C, to the remote: it ends the loop
  EXPECT_EQ(term.Finish(), 128 + SIGINT) << term.Err();
  EXPECT_TRUE(term.Restored());
}

TEST_F(CliTty, APythonReplSession) {
  LocalTerminal term(Argv({"run", "--tty", "--", "python3 -q -i"}));
  ASSERT_TRUE(term.WaitFor(">>> ")) << term.shown() << term.Err();
  term.Type("1+1\r");
  ASSERT_TRUE(term.WaitFor("\n2\r\n")) << term.shown();
  term.Type("exit()\r");
  EXPECT_EQ(term.Finish(), 0) << term.Err();
  EXPECT_TRUE(term.Restored());
}

TEST_F(CliTty, CtrlCGoesToTheRemoteCommandNotToCorral) {
  LocalTerminal term(Argv({"run", "--tty", "--",
                           "trap 'echo caught; exit 7' INT; echo ready; "
                           "while :; do sleep 0.05; done"}));
  ASSERT_TRUE(term.WaitFor("ready")) << term.shown() << term.Err();
  term.Type("\x03");
  EXPECT_EQ(term.Finish(), 7) << term.Err();
  EXPECT_NE(term.shown().find("caught"), std::string::npos) << term.shown();
  EXPECT_TRUE(term.Restored());
}

TEST_F(CliTty, SigtermOrSighupDetachRestoringTheTerminalAndAttachReturns) {
  for (int s : {SIGTERM, SIGHUP}) {
    LocalTerminal term(Argv(
        {"run", "--tty", "--", "echo ready; while read -r l; do echo \"got:$l\"; done; exit 5"}));
    ASSERT_TRUE(term.WaitFor("ready")) << term.shown() << term.Err();
    term.Signal(s);
    EXPECT_EQ(term.Finish(), 128 + s) << term.Err();
    EXPECT_TRUE(term.Restored());
    const std::string err = term.Err();
    const auto at = err.find("corral attach ");
    ASSERT_NE(at, std::string::npos) << err;
    const std::string id = err.substr(at + 14, 36);

    LocalTerminal attached(Argv({"attach", id}));
    ASSERT_TRUE(Eventually([&] { return attached.Raw(); })) << attached.Err();
    attached.Type("hello\r");
    ASSERT_TRUE(attached.WaitFor("got:hello")) << attached.shown() << attached.Err();
    attached.Type("\x04");  // Ctrl-D: the remote read sees the end of its input
    EXPECT_EQ(attached.Finish(), 5) << attached.Err();
    EXPECT_TRUE(attached.Restored());
  }
}

TEST_F(CliTty, AttachToAProcessWithoutATerminalFails) {
  const std::string id = server_.Start("sleep 60");
  auto r = RunProgram(Argv({"attach", id}));
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("has no terminal"), std::string::npos) << r.err;
  server_.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})");
}

TEST_F(CliTty, WithoutALocalTerminalTtyUsesTheDefaultSizeAndForwardsInput) {
  auto r = RunProgram({"/bin/sh", "-c",
                       "printf 'x\\n' | " + kCorral + " --server " + address_ +
                           " run --tty -- 'read a; echo \"got $a\"; stty size'"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("got x\r\n24 80\r\n"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace corral::testing
