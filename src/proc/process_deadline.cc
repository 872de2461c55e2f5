// Run deadlines (DESIGN §7.3): `timeout_ms` on start ends the whole command when it passes,
// whatever waits on it, and reports it `ended_by: "deadline"`.
#include <signal.h>

#include "base/log.h"
#include "proc/process_table.h"

namespace corral::proc {

void ProcessTable::ArmDeadline(const ProcessPtr& p) {
  if (p->timeout_.count() <= 0) return;
  p->deadline_.expires_after(p->timeout_);
  p->deadline_.async_wait([this, p](boost::system::error_code ec) {
    if (!ec) OnDeadline(p);
  });
}

void ProcessTable::OnDeadline(const ProcessPtr& p) {
  if (!p->deadline_passed_) {
    // Finish cancels the timer, but its handler may already be queued.
    if (p->done_) return;
    p->deadline_passed_ = true;
    // The path of a `terminate` request: the group, and the cgroup or the cookie for what left
    // it. A shell already gone with its leftovers still running is ended all the same.
    (void)SignalCommand(*p, SIGTERM);
    p->requested_end_ = EndedBy::kDeadline;
    base::LogInfo("process " + p->id_ + ": deadline of " + std::to_string(p->timeout_.count()) +
                  " ms passed, sent SIGTERM");
    p->deadline_.expires_after(kDeadlineKillAfter);
    p->deadline_.async_wait([this, p](boost::system::error_code ec) {
      if (!ec) OnDeadline(p);
    });
    return;
  }
  // Anything left of it (the shell, or leftovers of a done command) gets SIGKILL.
  if (p->done_ && !p->lingering_) return;
  if (SignalCommand(*p, SIGKILL).ok()) {
    base::LogInfo("process " + p->id_ + ": still running " +
                  std::to_string(kDeadlineKillAfter.count()) +
                  " ms after its deadline, sent SIGKILL");
  }
}

}  // namespace corral::proc
