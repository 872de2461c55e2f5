// Talking to running commands (DESIGN §7.3): their input, their terminal, and whether they
// wait for input.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proc/process_table.h"
#include "sys/proc_stat.h"

namespace corral::proc {
namespace asio = boost::asio;
using base::Code;
using base::Status;

namespace {

// While someone waits on a command's waiting_for_input (read?wait=idle, a stream), it is
// measured this often: what a waiting client may lag behind a command that blocks on a read.
constexpr std::chrono::milliseconds kInputPoll{20};
// A measure this recent is reused by answers about one command (output, read, streams) instead
// of read again from /proc (~0.1-0.35 ms per command of three processes on a loaded 2-core
// machine); answers about many (list) follow RefreshForAnswer. Waits are not slowed by it: the
// poll for them measures anew every kInputPoll.
constexpr std::chrono::milliseconds kWaitingReuse{100};
// Input written to a terminal reaches its reader through the kernel's terminal work queue, a
// moment after our write returns; and a pipe's reader, woken by the write, may still show as
// asleep in its read for a moment (measured: 4 samples in 10 right after the write, on another
// CPU). Until then it still looks blocked in its read: for this long after input, a command is
// not said to wait.
constexpr std::chrono::milliseconds kInputSettle{10};

}  // namespace

void ProcessTable::AdoptInput(Process& p, sys::StdinMode mode, sys::SpawnedChild& child,
                              TerminalEnds& terminal) {
  p.stdin_mode_ = mode;
  if (mode == sys::StdinMode::kPipe) {
    p.input_identity_ = sys::IdentityOf(child.input.get());
    p.input_ = std::make_shared<ProcessInput>(ex_, std::move(child.input), false);
  } else if (mode == sys::StdinMode::kTty) {
    // The identity first: once our slave is closed, only the command's descriptors name it.
    p.input_identity_ = sys::IdentityOf(terminal.pty.slave.get());
    // Ours closed, the master reports the end of output once the command's are all closed.
    terminal.pty.slave.reset();
    p.input_ = std::make_shared<ProcessInput>(ex_, std::move(terminal.writer), true);
    child.output = std::move(terminal.pty.master);
  }
}

Status ProcessTable::WriteInput(const Process& process, std::string_view data, bool close) {
  auto it = processes_.find(process.id());
  if (it == processes_.end() || it->second->done_) {
    return Status(Code::kFailedPrecondition, "not running");
  }
  const ProcessPtr& p = it->second;
  if (!p->input_ || !p->input_->open()) return Status(Code::kFailedPrecondition, "no open stdin");
  Status s = p->input_->Write(data, close);
  if (!s.ok()) return s;
  p->input_at_ = base::SteadyClock::now();
  UpdateWaiting(p);  // given input, it is no longer waiting: say so at once
  return s;
}

Status ProcessTable::Resize(const Process& process, sys::WindowSize size) {
  auto it = processes_.find(process.id());
  if (it == processes_.end() || it->second->done_) {
    return Status(Code::kFailedPrecondition, "not running");
  }
  const Process& p = *it->second;
  if (p.stdin_mode_ != sys::StdinMode::kTty || !p.input_ || p.input_->fd() < 0) {
    return Status(Code::kFailedPrecondition, "no terminal");
  }
  if (auto ec = sys::ResizePty(p.input_->fd(), size)) return Status(Code::kInternal, ec.message());
  return Status::Ok();
}

bool ProcessTable::MeasureWaiting(const Process& p, const std::vector<pid_t>* members) {
  if (p.done_ || !p.input_identity_ || !p.input_) return false;
  // Input it has not been given yet: it is about to get it.
  if (p.input_->queued() > 0) return false;
  const bool terminal = p.stdin_mode_ == sys::StdinMode::kTty;
  // A closed pipe: its reads return end of file, they never wait.
  if (!terminal && p.input_->fd() < 0) return false;
  if (base::SteadyClock::now() - p.input_at_ < kInputSettle) return false;
  std::vector<pid_t> pids = members ? *members : Members(p);
  if (terminal) {
    // Only the terminal's foreground job can read it (a background one is stopped instead).
    pid_t foreground = 0;
    if (sys::ForegroundGroup(p.input_->fd(), foreground) || foreground <= 0) return false;
    pids = sys::GroupMembers(pids, foreground);
  }
  return sys::WaitingForInput(pids, *p.input_identity_);
}

void ProcessTable::UpdateWaiting(const ProcessPtr& p, const std::vector<pid_t>* members) {
  const bool waiting = MeasureWaiting(*p, members);
  p->waiting_at_ = base::SteadyClock::now();
  if (waiting == p->waiting_) return;
  // The prompt it wrote before blocking is in the pipe: take it in before anyone hears it waits.
  if (waiting && p->pipe_.is_open() && !DrainPipe(*p)) OutputEnded(p);
  p->waiting_ = waiting;
  ++generation_;
  p->state_event_.cancel();
}

std::optional<bool> ProcessTable::RefreshWaiting(const Process& process) {
  auto it = processes_.find(process.id());
  if (it == processes_.end() || it->second.get() != &process) return process.waiting_for_input();
  const ProcessPtr& p = it->second;
  if (!p->done_ && p->input_identity_ &&
      base::SteadyClock::now() - p->waiting_at_ >= kWaitingReuse) {
    UpdateWaiting(p);
  }
  return p->waiting_for_input();
}

asio::awaitable<void> ProcessTable::WaitInputState(std::shared_ptr<const Process> process) {
  auto it = processes_.find(process->id());
  if (it == processes_.end() || it->second != process || process->done_) co_return;
  ProcessPtr p = it->second;
  // Registered for the poll while this wait lasts, however it ends (a cancelled wait included).
  struct Watch {
    ProcessTable* table;
    ProcessPtr p;
    ~Watch() {
      if (p && --p->input_watchers_ == 0) table->input_watched_.erase(p);
    }
  } watch{this, nullptr};
  if (p->input_identity_) {
    watch.p = p;
    if (p->input_watchers_++ == 0) input_watched_.insert(p);
    if (!input_polling_) PollInputState();
  }
  co_await p->state_event_.async_wait(asio::as_tuple(asio::use_awaitable));
}

void ProcessTable::PollInputState() {
  input_polling_ = true;
  input_poll_timer_.expires_after(kInputPoll);
  input_poll_timer_.async_wait([this](boost::system::error_code ec) {
    input_polling_ = false;
    if (ec) return;
    // A copy: an update may finish a process, whose waiters then leave the set.
    const std::vector<ProcessPtr> watched(input_watched_.begin(), input_watched_.end());
    for (const ProcessPtr& p : watched) {
      if (!p->done_) UpdateWaiting(p);
    }
    if (!input_watched_.empty()) PollInputState();
  });
}

void ProcessTable::ReleaseInput(Process& p) {
  if (p.input_) p.input_->Release();
  p.input_.reset();
  p.state_event_.cancel();
}

}  // namespace corral::proc
