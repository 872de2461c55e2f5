#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/unique_fd.h"
#include "sys/pty.h"

namespace corral::proc {

// The most input bytes that may wait for one command to read them (DESIGN §7.3): past it a
// request is refused whole, so a command that does not read costs the server at most this.
inline constexpr std::size_t kMaxQueuedInputBytes = 1024 * 1024;

// What the server writes to a command: the write end of its stdin pipe, or the master of its
// terminal. Writes never block the loop: what the descriptor does not take at once waits in a
// queue (at most kMaxQueuedInputBytes) and goes out as the command reads. Owned by its Process
// (through a shared_ptr: pending waits hold it); loop thread only.
//
// REQUIRES: SIGPIPE is ignored in the server (a command that closed its stdin is an EPIPE here,
// not our death); `serve` ignores it.
class ProcessInput : public std::enable_shared_from_this<ProcessInput> {
 public:
  // `fd`: non-blocking. `terminal`: it is a terminal's master, which `close` does not close
  // (the terminal stays, for its size and the output) but types the terminal's EOF character at.
  ProcessInput(boost::asio::any_io_executor ex, base::UniqueFd fd, bool terminal);
  ~ProcessInput();
  ProcessInput(const ProcessInput&) = delete;
  ProcessInput& operator=(const ProcessInput&) = delete;

  // Writes `data`, queueing what the descriptor does not take now, and with `close` ends the
  // input once it is all written: a pipe is closed (the command reads end of file), a terminal
  // gets its EOF character (^D; twice when the last byte written ended no line, since the first
  // then only hands the partial line over). All of `data` is taken, or none of it. Errors:
  // kFailedPrecondition when the input is closed (by `close`, or the command closed its end:
  // EPIPE), kResourceExhausted when the queue would pass kMaxQueuedInputBytes.
  base::Status Write(std::string_view data, bool close);

  // Whether input is still taken (not closed, and the command's end not gone).
  bool open() const { return !closing_ && !broken_; }
  // Bytes taken but not yet written to the descriptor.
  std::size_t queued() const { return queue_.size() - sent_; }
  // The descriptor (for a terminal: its master, for ioctls); -1 once released.
  int fd() const { return fd_; }
  // The command is done: drops what is queued and closes the descriptor.
  void Release();

 private:
  // Writes what is queued until the descriptor would block, then waits for it to take more.
  void Flush();
  void Finish();  // everything written after `close`: the pipe is closed, the terminal kept

  boost::asio::posix::stream_descriptor descriptor_;
  int fd_ = -1;  // descriptor_'s, while open
  const bool terminal_;
  std::string queue_;  // bytes taken; those before sent_ are written already
  std::size_t sent_ = 0;
  bool waiting_ = false;  // a wait for the descriptor to take more is pending
  bool closing_ = false;  // `close` was asked: no more input is taken
  bool broken_ = false;   // the command's end is gone (EPIPE, or EIO on a terminal)
  char last_ = '\n';      // the last byte taken ('\n' before any)
};

// A terminal made for a command before its spawn.
struct TerminalEnds {
  sys::Pty pty;           // the slave goes to the spawn; the master becomes the output source
  base::UniqueFd writer;  // another descriptor of the master: input, and the terminal's ioctls
};

// Opens a terminal of `size` (sys::OpenPty) and its writer. On failure nothing is left open.
std::error_code OpenTerminal(sys::WindowSize size, TerminalEnds& out);

}  // namespace corral::proc
