#include "cli/terminal.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <ctime>

namespace corral::cli {
namespace {

sigset_t SessionSet() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGWINCH}) sigaddset(&set, s);
  return set;
}

}  // namespace

std::optional<std::pair<int, int>> TerminalSize(int fd) {
  winsize ws{};
  if (!::isatty(fd) || ::ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0) {
    return std::nullopt;
  }
  return std::pair<int, int>(ws.ws_row, ws.ws_col);
}

RawMode::RawMode(int fd) : fd_(fd) {
  termios t{};
  if (!::isatty(fd) || ::tcgetattr(fd, &t) != 0) return;
  saved_ = t;
  ::cfmakeraw(&t);
  if (::tcsetattr(fd, TCSANOW, &t) != 0) saved_.reset();
}

RawMode::~RawMode() {
  if (saved_) ::tcsetattr(fd_, TCSANOW, &*saved_);
}

TerminalSignals::TerminalSignals() {
  const sigset_t set = SessionSet();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  watcher_ = std::jthread([this](std::stop_token stop) {
    const sigset_t set = SessionSet();
    // A short poll rather than a wake-up signal, as in Interrupts.
    const timespec poll{0, 100'000'000};
    while (!stop.stop_requested()) {
      const int s = ::sigtimedwait(&set, nullptr, &poll);
      if (s == SIGWINCH) {
        resized_ = true;
      } else if (s > 0) {
        int none = 0;
        signal_.compare_exchange_strong(none, s);
        stop_.request_stop();
      }
    }
  });
}

TerminalSignals::~TerminalSignals() {
  watcher_.request_stop();
  watcher_.join();
  const sigset_t set = SessionSet();
  const timespec now{0, 0};
  while (::sigtimedwait(&set, nullptr, &now) > 0) {
  }
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace corral::cli
