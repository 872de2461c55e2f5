#include "proc/process_input.h"

#include <fcntl.h>
#include <unistd.h>

#include "sys/pty.h"

namespace corral::proc {
namespace asio = boost::asio;
using base::Code;
using base::Status;

namespace {

// Written bytes are dropped from the front of the queue once this many are sent, so that a
// queue refilled as it drains does not grow without bound nor move its bytes on every write.
constexpr std::size_t kCompactAfter = 64 * 1024;

}  // namespace

ProcessInput::ProcessInput(asio::any_io_executor ex, base::UniqueFd fd, bool terminal)
    : descriptor_(ex), terminal_(terminal) {
  boost::system::error_code ec;
  descriptor_.assign(fd.get(), ec);
  if (ec) {
    broken_ = true;  // the reactor refused it: no input (fd closes with its owner)
    return;
  }
  fd_ = fd.release();
}

ProcessInput::~ProcessInput() = default;

Status ProcessInput::Write(std::string_view data, bool close) {
  if (!open()) return Status(Code::kFailedPrecondition, "stdin is closed");
  if (queued() + data.size() > kMaxQueuedInputBytes) {
    return Status(Code::kResourceExhausted, std::to_string(queued()) +
                                                " bytes wait for the command to read them; at "
                                                "most " +
                                                std::to_string(kMaxQueuedInputBytes) + " may");
  }
  const bool was_empty = queued() == 0;
  queue_.append(data);
  if (!data.empty()) last_ = data.back();
  if (close) {
    closing_ = true;
    if (terminal_) {
      char eof = 0x04;
      (void)sys::EofChar(fd(), eof);  // ^D, the login default, if the modes cannot be read
      // At the start of a line one EOF ends the input; after a partial line it only hands the
      // line over, and a second one is needed.
      queue_.append(last_ == '\n' ? 1 : 2, eof);
    }
  }
  if (was_empty && !waiting_) Flush();
  if (broken_ && was_empty) {
    // The very first write found the command's end gone: nothing of this request was taken.
    return Status(Code::kFailedPrecondition, "the command closed its stdin");
  }
  return Status::Ok();
}

void ProcessInput::Flush() {
  while (sent_ < queue_.size() && descriptor_.is_open()) {
    const ssize_t n = ::write(fd_, queue_.data() + sent_, queue_.size() - sent_);
    if (n > 0) {
      sent_ += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      waiting_ = true;
      descriptor_.async_wait(asio::posix::descriptor_base::wait_write,
                             [self = shared_from_this()](boost::system::error_code ec) {
                               self->waiting_ = false;
                               if (!ec) self->Flush();
                             });
      break;
    }
    // EPIPE (no reader left), EIO (a terminal nobody holds), or worse: nobody will read this.
    broken_ = true;
    queue_.clear();
    sent_ = 0;
    if (!terminal_) Release();
    return;
  }
  if (sent_ == queue_.size()) {
    queue_.clear();
    sent_ = 0;
    if (closing_) Finish();
  } else if (sent_ >= kCompactAfter) {
    queue_.erase(0, sent_);
    sent_ = 0;
  }
}

void ProcessInput::Finish() {
  // A terminal stays open: it is the command's output too, and its size can still change.
  if (!terminal_) Release();
}

std::error_code OpenTerminal(sys::WindowSize size, TerminalEnds& out) {
  TerminalEnds t;
  if (auto ec = sys::OpenPty(size, t.pty)) return ec;
  t.writer.reset(::fcntl(t.pty.master.get(), F_DUPFD_CLOEXEC, 3));
  if (!t.writer) return {errno, std::system_category()};
  out = std::move(t);
  return {};
}

void ProcessInput::Release() {
  queue_.clear();
  sent_ = 0;
  boost::system::error_code ignored;
  descriptor_.close(ignored);  // a pending wait completes with operation_aborted
  fd_ = -1;
}

}  // namespace corral::proc
