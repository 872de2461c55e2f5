#pragma once

// Real processes for the sys/ tests: forked and exec'd by hand, so that a test controls exactly
// what the child's stdin, stdout and terminal are.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"

extern "C" char** environ;

namespace corral::sys::testing {

using namespace std::chrono_literals;

// Polls `condition` every 5 ms until it holds or `limit` has passed; returns its last value.
inline bool Eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// A pipe whose both ends are close-on-exec: a child gets only the end dup2'd onto its 0/1/2,
// so that closing our write end is the end of its input.
struct Pipe {
  base::UniqueFd read;
  base::UniqueFd write;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) == 0) {
      read.reset(fds[0]);
      write.reset(fds[1]);
    }
  }
};

// A command leading a new session (and process group), killed with its group and reaped at
// the end of the test.
class TestProcess {
 public:
  struct Options {
    int stdin_fd = -1;   // -1: /dev/null
    int stdout_fd = -1;  // stdout and stderr; -1: /dev/null
    int terminal = -1;   // a pty slave: the controlling terminal and 0, 1 and 2 (as sys/pty.h
                         // tells the spawn to do); the two above are then ignored
    std::vector<std::string> env;  // "KEY=VALUE", before ours (so they win)
  };

  TestProcess(std::vector<std::string> argv, Options options) {
    std::vector<char*> args;
    for (auto& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    std::vector<std::string> env_text = options.env;
    for (char** entry = environ; *entry != nullptr; ++entry) env_text.emplace_back(*entry);
    std::vector<char*> env;
    for (auto& entry : env_text) env.push_back(entry.data());
    env.push_back(nullptr);
    const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setsid();
      if (options.terminal >= 0) {
        if (::ioctl(options.terminal, TIOCSCTTY, 0) != 0) ::_exit(126);
        for (int fd = 0; fd < 3; ++fd) ::dup2(options.terminal, fd);
      } else {
        ::dup2(options.stdin_fd >= 0 ? options.stdin_fd : null_fd, 0);
        ::dup2(options.stdout_fd >= 0 ? options.stdout_fd : null_fd, 1);
        ::dup2(options.stdout_fd >= 0 ? options.stdout_fd : null_fd, 2);
      }
      ::execvpe(args[0], args.data(), env.data());
      ::_exit(127);
    }
    ::close(null_fd);
  }
  ~TestProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  TestProcess(const TestProcess&) = delete;
  TestProcess& operator=(const TestProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Waits for the exit and returns the waitpid status; -1 if it did not exit within `limit`.
  int Wait(std::chrono::milliseconds limit = 20s) {
    int status = -1;
    reaped_ = Eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, limit);
    return reaped_ ? status : -1;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// Reads from non-blocking or blocking `fd` until `done(text)` holds, EOF, EIO (a pty master
// whose slave is closed everywhere) or `limit`; returns all that was read.
inline std::string ReadUntil(int fd, const std::function<bool(const std::string&)>& done,
                             std::chrono::milliseconds limit = 20s) {
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done(text)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  return text;
}

// Reads until `fd` has given `needle`.
inline std::string ReadUntilContains(int fd, const std::string& needle,
                                     std::chrono::milliseconds limit = 20s) {
  return ReadUntil(
      fd, [&](const std::string& text) { return text.find(needle) != std::string::npos; }, limit);
}

// Reads to end of output (EOF, or EIO for a pty master).
inline std::string ReadToEnd(int fd, std::chrono::milliseconds limit = 20s) {
  return ReadUntil(
      fd, [](const std::string&) { return false; }, limit);
}

}  // namespace corral::sys::testing
