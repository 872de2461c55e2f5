// Signals to commands, what escaped their group, and shutdown.
#include <signal.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/log.h"
#include "proc/process_table.h"

namespace corral::proc {
namespace asio = boost::asio;
using base::Code;
using base::Status;

namespace {

// While shutting down, how often to check whether everything is gone.
constexpr std::chrono::milliseconds kShutdownPoll{20};
// After SIGKILL, how long shutdown waits for the rest before giving up on stragglers.
constexpr std::chrono::seconds kShutdownKillWait{5};

}  // namespace

Status ProcessTable::Signal(const Process& process, int sig) {
  auto it = processes_.find(process.id());
  if (it == processes_.end()) return Status(Code::kFailedPrecondition, "not running");
  Process& p = *it->second;
  Status s = SignalCommand(p, sig);
  if (s.ok() && !p.done_) p.requested_end_ = EndedBy::kClient;
  return s;
}

Status ProcessTable::SignalCommand(const Process& p, int sig) {
  // Restored from the journal: what was left of it was ended at recovery.
  if (p.pid_ <= 0) return Status(Code::kFailedPrecondition, "not running");
  if (p.has_cgroup_) {
    // The cgroup holds every process of the command, whatever it did to its group or its
    // environment; the shell's zombie (not done yet) is no longer in it but counts as alive.
    // Once done, only leftovers are: they are listed, since `populated` can still say so for a
    // moment after the last of them died (the kernel unlinks a task at its last switch-out)
    // while the list leaves out the dying.
    bool populated = cgroups_->Populated(p.id_);
    if (populated && p.done_) {
      std::vector<pid_t> members;
      populated = !cgroups_->Procs(p.id_, members) && !members.empty();
    }
    if (populated) {
      if (sig == SIGKILL) {
        if (auto ec = cgroups_->Kill(p.id_)) return Status(Code::kInternal, ec.message());
      } else if (int signalled = 0; auto ec = cgroups_->Signal(p.id_, sig, signalled)) {
        if (ec != std::errc::no_such_file_or_directory) {
          return Status(Code::kInternal, "cannot list the command's cgroup: " + ec.message());
        }
      }
    }
    if (!populated && p.done_) return Status(Code::kFailedPrecondition, "not running");
    return Status::Ok();
  }
  // Until Finish the shell is unreaped (alive, or a zombie we hold on to), which pins its pgid.
  // Unknown leftovers are not signalled: only children we hold pin the group id.
  const bool group_alive = !p.done_ || GroupHasLeftovers(p.pid_).value_or(false);
  if (group_alive) {
    if (auto ec = sys::SignalGroup(p.pid_, sig)) return Status(Code::kInternal, ec.message());
  }
  int escapees = SignalEscapees(p.id_, p.pid_, sig);
  // What stripped its environment but is still in its v1 pids cgroup (gone: nothing is left).
  if (pids_limit_) {
    int signalled = 0;
    if (auto ec = pids_limit_->Signal(p.id_, sig, p.pid_, signalled);
        ec && ec != std::errc::no_such_file_or_directory) {
      WarnProcUnreadable("the pids cgroup of " + p.id_, ec);
    }
    escapees += signalled;
  }
  if (!group_alive && escapees == 0) return Status(Code::kFailedPrecondition, "not running");
  return Status::Ok();
}

int ProcessTable::SignalEscapees(const std::string& id, pid_t pgid, int sig) {
  int signalled = 0;
  // Every process of a command descends from us: its ancestors up to the shell, or us, the
  // subreaper its orphans are handed to. So only our descendants are read, never the machine.
  std::vector<pid_t> descendants;
  if (auto ec = sys::ListDescendants(descendants)) WarnProcUnreadable("our descendants", ec);
  sys::ForEachWithEnvironment(descendants, kProcessIdVariable,
                              [&](pid_t pid, int pidfd, std::string_view value) {
                                // Members of the group got the group's signal already.
                                if (value != id || sys::ProcessGroupOf(pid) == pgid) return;
                                if (!sys::SignalPidfd(pidfd, sig)) ++signalled;
                              });
  return signalled;
}

std::optional<bool> ProcessTable::GroupHasLeftovers(pid_t pgid) {
  // Only our own unreaped children count: nobody else can reap them between this check and
  // the kill, so the pgid they pin cannot be reused by a stranger.
  std::vector<pid_t> children;
  const std::error_code ec = sys::ListChildren(children);
  for (pid_t child : children) {
    if (!leaders_.contains(child) && sys::ProcessGroupOf(child) == pgid) return true;
  }
  if (ec) {
    WarnProcUnreadable("our children", ec);
    return std::nullopt;
  }
  return false;
}

void ProcessTable::WarnProcUnreadable(std::string_view what, const std::error_code& ec) const {
  if (proc_warned_) return;
  proc_warned_ = true;
  base::LogWarning("cannot list " + std::string(what) + " in /proc (" + ec.message() +
                   "): processes may be missed; nothing is taken as ended for it "
                   "(logged once)");
}

void ProcessTable::SignalEverything(int sig) {
  auto signal = [&](const ProcessPtr& p) {
    if (!p->done_ || p->lingering_) (void)SignalCommand(*p, sig);
  };
  for (const auto& [id, p] : processes_) signal(p);
  for (const auto& p : lingering_) {
    if (p->forgotten_) signal(p);
  }
  // Orphans and leftovers (including setsid daemons) that were handed to us: each is our
  // unreaped child, so signalling it by pid is safe.
  std::vector<pid_t> pids;
  if (auto ec = sys::ListChildren(pids)) WarnProcUnreadable("our children", ec);
  for (pid_t child : pids) {
    if (!leaders_.contains(child)) sys::SignalChild(child, sig);
  }
  if (cgroups_) return;
  // Without cgroups: what descends from this run's commands but is neither (a setsid daemon
  // whose parent still lives) carries our instance id.
  if (auto ec = sys::ListDescendants(pids)) WarnProcUnreadable("our descendants", ec);
  sys::ForEachWithEnvironment(pids, kInstanceVariable,
                              [&](pid_t, int pidfd, std::string_view value) {
                                if (value == instance_) sys::SignalPidfd(pidfd, sig);
                              });
}

bool ProcessTable::Settled() {
  ReapOrphans();
  if (live_ != 0) return false;
  // Unknown is not settled: the shutdown's deadlines bound the wait.
  std::vector<pid_t> pids;
  if (auto ec = sys::ListChildren(pids)) {
    WarnProcUnreadable("our children", ec);
    return false;
  }
  if (!pids.empty()) return false;
  if (cgroups_) return true;  // live_ counts every command whose cgroup is populated
  bool tagged = false;        // a daemon of ours that is not our child (its parent still lives)
  if (auto ec = sys::ListDescendants(pids)) {
    WarnProcUnreadable("our descendants", ec);
    return false;
  }
  sys::ForEachWithEnvironment(pids, kInstanceVariable, [&](pid_t, int, std::string_view value) {
    tagged |= value == instance_;
  });
  return !tagged;
}

asio::awaitable<void> ProcessTable::Shutdown() {
  closing_ = true;
  if (!ending_.empty() || !ending_groups_.empty()) FinishEnding();  // recovery's, without grace
  for (const auto& [id, p] : processes_) {
    if (!p->done_) p->requested_end_ = EndedBy::kShutdown;
  }
  asio::steady_timer timer(ex_);
  auto wait_until = [&](base::SteadyClock::time_point deadline,
                        int resend) -> asio::awaitable<bool> {
    while (!Settled()) {
      if (base::SteadyClock::now() >= deadline) co_return false;
      // New orphans keep appearing as their parents die: signal them too.
      if (resend != 0) SignalEverything(resend);
      timer.expires_after(kShutdownPoll);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return true;
  };

  SignalEverything(SIGTERM);
  if (co_await wait_until(base::SteadyClock::now() + options_.shutdown_grace, 0)) {
    StopWatching();
    co_return;
  }
  base::LogInfo("shutdown: killing the processes still running after the grace");
  SignalEverything(SIGKILL);
  if (!co_await wait_until(base::SteadyClock::now() + kShutdownKillWait, SIGKILL)) {
    base::LogWarning("shutdown: some processes did not end after SIGKILL");
  }
  StopWatching();
}

void ProcessTable::StopWatching() {
  sigchld_.cancel();
  orphan_timer_.cancel();
  forget_timer_.cancel();
  trim_timer_.cancel();
  sync_timer_.cancel();
  ending_timer_.cancel();
  for (const auto& [id, p] : processes_) p->deadline_.cancel();
  for (const auto& p : lingering_) p->deadline_.cancel();
  input_poll_timer_.cancel();
}

}  // namespace corral::proc
