#pragma once

#include <termios.h>

#include <atomic>
#include <optional>
#include <stop_token>
#include <thread>
#include <utility>

namespace corral::cli {

// The size {rows, cols} of terminal `fd`, or nullopt when it is not a terminal.
std::optional<std::pair<int, int>> TerminalSize(int fd);

// Puts terminal `fd` in raw mode (no echo, no line editing, no signals from keys: Ctrl-C is a
// byte like any other) for its lifetime; the destructor restores the settings it found. Does
// nothing when `fd` is not a terminal.
class RawMode {
 public:
  explicit RawMode(int fd);
  ~RawMode();
  RawMode(const RawMode&) = delete;
  RawMode& operator=(const RawMode&) = delete;

  bool active() const { return saved_.has_value(); }

 private:
  int fd_;
  std::optional<termios> saved_;
};

// The signals of a terminal session (`corral run --tty`, `corral attach`): SIGINT, SIGTERM and
// SIGHUP stop `stop_token()` (the session ends, the terminal is restored by its RawMode, the
// remote command keeps running); SIGWINCH is noted for TakeResized(). As Interrupts does, it
// blocks these signals so that only its watcher takes them.
// REQUIRES: constructed before any other thread is started.
class TerminalSignals {
 public:
  TerminalSignals();
  ~TerminalSignals();  // unblocks the signals again, dropping any not taken yet
  TerminalSignals(const TerminalSignals&) = delete;
  TerminalSignals& operator=(const TerminalSignals&) = delete;

  std::stop_token stop_token() const { return stop_.get_token(); }
  // The signal that stopped the session, or 0.
  int signal() const { return signal_.load(); }
  // True once after each SIGWINCH (several since the last call count as one).
  bool TakeResized() { return resized_.exchange(false); }

 private:
  std::atomic<bool> resized_{false};
  std::stop_source stop_;
  std::atomic<int> signal_{0};
  std::jthread watcher_;
};

}  // namespace corral::cli
