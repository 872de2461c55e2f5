// The done state machine of a process: its shell's exit, its output until end of file, the
// drain grace, what lingers after it is done, and forgetting it.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>

#include "base/log.h"

#include "proc/process_table.h"

namespace corral::proc {
namespace asio = boost::asio;

namespace {

// Pipes are read at most this much per wakeup, so one loud command cannot starve the rest.
constexpr std::size_t kReadBudget = 1024 * 1024;
// Freed memory goes back to the system at most this often (malloc_trim walks the heap).
constexpr std::chrono::seconds kTrimInterval{1};

}  // namespace

void ProcessTable::WatchExit(ProcessPtr p) {
  p->pidfd_.async_wait(asio::posix::descriptor_base::wait_read,
                       [this, p](boost::system::error_code ec) {
                         if (ec || p->done_) return;
                         OnExit(p);
                       });
}

void ProcessTable::OnExit(const ProcessPtr& p) {
  auto status = sys::PeekExit(p->pidfd_.native_handle());
  if (!status) {  // readable without an exit: not expected, but never spin on it
    WatchExit(p);
    return;
  }
  p->exit_ = *status;
  p->exited_at_unix_ = base::UnixNow();
  if (!p->pipe_.is_open()) {
    Finish(p);
    return;
  }
  // Something (a background job) may hold the pipe open for long: give it the drain grace,
  // then call the process done anyway. The pipe stays open and drained after that.
  p->grace_.expires_after(options_.drain_grace);
  p->grace_.async_wait([this, p](boost::system::error_code ec) {
    if (ec || p->done_) return;
    DrainPipe(*p);
    Finish(p);
  });
}

void ProcessTable::WatchOutput(ProcessPtr p) {
  p->pipe_.async_wait(asio::posix::descriptor_base::wait_read,
                      [this, p](boost::system::error_code ec) {
                        if (ec) return;
                        if (DrainPipe(*p)) {
                          WatchOutput(p);
                          return;
                        }
                        OutputEnded(p);
                      });
}

void ProcessTable::OutputEnded(const ProcessPtr& p) {
  boost::system::error_code ignored;
  p->pipe_.close(ignored);
  SettleOutput(*p);
  if (p->done_) {
    JournalOutput(*p);
    CheckLingering(p);
  } else if (p->exit_) {
    p->grace_.cancel();
    Finish(p);
  }
}

bool ProcessTable::DrainPipe(Process& p) {
  if (!p.pipe_.is_open()) return false;
  const int fd = p.pipe_.native_handle();
  bool appended = false;
  bool open = true;
  for (std::size_t budget = kReadBudget; budget > 0;) {
    ssize_t n = ::read(fd, scratch_.get(), kReadChunk);
    if (n > 0) {
      // A forgotten process's leftovers still write: read to keep them from blocking or
      // dying of SIGPIPE, and drop.
      if (!p.forgotten_) Append(p, {scratch_.get(), static_cast<std::size_t>(n)});
      output_bytes_ += static_cast<std::uint64_t>(n);
      appended = true;
      budget -= std::min(budget, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    open = false;  // end of file, or an error that ends the stream all the same
    break;
  }
  if (appended) {
    p.output_event_.cancel();
    if (spool_disk_ > options_.spool_total) EnforceSpoolTotal();
  }
  return open;
}

void ProcessTable::Append(Process& p, std::string_view bytes) {
  p.output_.Append(bytes);
  p.total_bytes_ += bytes.size();
  if (!p.spool_) return;
  const std::uint64_t before = p.spool_->disk_bytes();
  if (base::Status s = p.spool_->Append(bytes); !s.ok()) {
    base::LogWarning("process " + p.id_ +
                     ": spool failed, output kept in memory only: " + s.message());
  }
  spool_disk_ += p.spool_->disk_bytes() - before;
}

void ProcessTable::SettleOutput(Process& p) {
  p.output_event_.cancel();
  if (p.output_complete()) p.stream_event_ = {};  // no stream reads the cache of it any more
  if (!p.output_complete() || !p.spool_) return;
  // A file deleted under us: its descriptor still serves it, and the buffer stays.
  if (::access(p.spool_->path().c_str(), F_OK) != 0 && !p.forgotten_) return;
  if (!p.forgotten_ && p.spool_->error().empty() &&
      p.spool_->max_bytes() >= kMinSpoolMaxForRender && LoadOutputBuffer(*p.spool_).ok()) {
    p.output_ = OutputBuffer();  // the spool holds what it held
    p.buffer_in_spool_ = true;
    ReleaseMemorySoon();
  }
  // Nothing more will be appended: close the file (a read reopens it), so that remembered
  // processes hold no descriptors.
  p.spool_error_ = p.spool_->error();
  p.spool_disk_bytes_ = p.spool_->disk_bytes();
  p.spool_.reset();
}

void ProcessTable::Finish(const ProcessPtr& p) {
  p->done_ = true;
  ++generation_;
  p->done_at_ = base::SteadyClock::now();
  JournalDone(*p);  // committed before anyone can see the done state
  sys::ReapExited(p->pidfd_.native_handle());
  leaders_.erase(p->pid_);
  boost::system::error_code ignored;
  p->pidfd_.close(ignored);
  p->grace_.cancel();
  if (!p->deadline_passed_) p->deadline_.cancel();  // past it, it still times the SIGKILL
  p->done_event_.cancel();
  ReleaseInput(*p);
  SettleOutput(*p);
  p->lingering_ = true;
  CheckLingering(p);
  retention_.Add(p->id_, p->done_at_);
  // The cap on remembered processes holds at every moment, not only when a timer fires.
  if (retention_.size() > options_.max_done) ForgetDue();
  if (spool_disk_ > options_.spool_total) EnforceSpoolTotal();
  ScheduleForget();
  if (options_.on_done) options_.on_done(*p);
  // The shell's children, handed to us now, are reaped on the SIGCHLD of their own exit (one
  // that is a zombie already is announced by a SIGCHLD when it is reparented).
}

void ProcessTable::CheckLingering(const ProcessPtr& p) {
  if (!p->lingering_) return;
  // Unknown counts as alive: the slot stays taken until /proc says otherwise.
  const bool alive =
      p->pipe_.is_open() ||
      (p->has_cgroup_ ? cgroups_->Populated(p->id_) : GroupHasLeftovers(p->pid_).value_or(true));
  if (alive) {
    lingering_.insert(p);
    return;
  }
  p->lingering_ = false;
  lingering_.erase(p);
  p->deadline_.cancel();  // nothing is left for it to kill
  --live_;
  if (p->has_cgroup_) cgroups_->Remove(p->id_);
  if (pids_limit_) pids_limit_->Remove(p->id_);  // fails (and stays) while leftovers live
}

void ProcessTable::ScheduleForget() {
  const auto next = retention_.NextDue();
  if (!next) return;
  forget_timer_.expires_at(*next);
  forget_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) ForgetDue();
  });
}

void ProcessTable::ForgetDue() {
  const auto due = retention_.TakeDue(base::SteadyClock::now());
  if (due.empty()) return;
  for (const std::string& id : due) Forget(id);
  ++generation_;
  FlushJournal();
  ReleaseMemorySoon();
  ScheduleForget();
}

void ProcessTable::Forget(const std::string& id) {
  auto it = processes_.find(id);
  if (it == processes_.end()) return;
  Process& p = *it->second;
  p.forgotten_ = true;
  JournalForget(p);
  p.output_ = OutputBuffer();
  // A spool lives as long as its process is remembered, and its file until the forget is
  // committed. A reader holding the process still reads through the spool's descriptor; the
  // disk is freed when the last one lets go.
  if (p.spool_) {
    spool_disk_ -= p.spool_->disk_bytes();
    RemoveSpoolOnceCommitted(p.spool_->path());
  } else if (!p.spool_dir_.empty()) {
    spool_disk_ -= p.spool_disk_bytes_;
    RemoveSpoolOnceCommitted(p.spool_dir_ + "/" + p.id_);
    p.spool_dir_.clear();
  }
  p.output_event_.cancel();  // a waiter for more output gets its end now
  if (!p.lingering_ && pids_limit_) pids_limit_->Remove(id);
  processes_.erase(it);
}

void ProcessTable::EnforceSpoolTotal() {
  bool forgot = false;
  while (spool_disk_ > options_.spool_total) {
    auto oldest = retention_.TakeOldest();
    if (!oldest) break;  // only running commands' spools are left: they stay
    Forget(*oldest);
    forgot = true;
  }
  if (!forgot) return;
  ++generation_;
  FlushJournal();
  ReleaseMemorySoon();
  ScheduleForget();
}

void ProcessTable::ReleaseMemorySoon() {
  if (trim_timer_.expiry() > base::SteadyClock::now()) return;  // one is pending
  trim_timer_.expires_after(kTrimInterval);
  trim_timer_.async_wait([](boost::system::error_code ec) {
    if (!ec) ::malloc_trim(0);
  });
}

}  // namespace corral::proc
