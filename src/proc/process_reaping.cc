// Reaping the orphans that the subreaper setting hands us, and noticing when what lingered of a
// done command is gone.
#include "proc/process_table.h"

namespace corral::proc {

namespace {

// SIGCHLD can be missed while /proc is read; a late sweep after it catches those children.
constexpr std::chrono::seconds kOrphanSweepBackup{1};

}  // namespace

void ProcessTable::WatchSigchld() {
  sigchld_.async_wait([this](boost::system::error_code ec, int) {
    if (ec) return;
    // Most SIGCHLDs are a shell's exit, which its pidfd handles: skip reading /proc when no
    // child at all is waiting to be reaped.
    if (sys::AnyChildExited()) ReapOrphans();
    WatchSigchld();
  });
}

void ProcessTable::ReapOrphans() {
  // Leaders are reaped through their pidfds in Finish; everything else that exits here is an
  // orphan the subreaper setting made ours. Repeat until a pass finds nothing to reap.
  bool others_alive = false;
  for (bool reaped = true; reaped;) {
    reaped = false;
    others_alive = false;
    std::vector<pid_t> children;
    if (auto ec = sys::ListChildren(children)) {
      // Unknown children may be alive: the backup sweep below tries again.
      WarnProcUnreadable("our children", ec);
      others_alive = true;
    }
    for (pid_t child : children) {
      if (leaders_.contains(child)) continue;
      if (sys::ReapIfExited(child)) {
        reaped = true;
      } else {
        others_alive = true;
      }
    }
  }
  // The last process of a command's leftovers exits to us (every orphan of a command is ours),
  // so this is when lingering may have ended.
  for (const auto& p : std::vector<ProcessPtr>(lingering_.begin(), lingering_.end())) {
    CheckLingering(p);
  }
  if ((others_alive || !lingering_.empty()) && orphan_timer_.expiry() <= base::SteadyClock::now()) {
    orphan_timer_.expires_after(kOrphanSweepBackup);
    orphan_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) ReapOrphans();
    });
  }
}

}  // namespace corral::proc
