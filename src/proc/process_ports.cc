// Which processes make up a running command, and the ports they listen on (DESIGN §7.3).
#include "proc/process_ports.h"

#include <algorithm>

#include "sys/child.h"
#include "sys/proc_stat.h"

namespace corral::proc {

std::vector<pid_t> ProcessTable::Members(const Process& p) const {
  if (p.done_ || p.pid_ <= 0) return {};
  if (p.has_cgroup_) return cgroups_->Procs(p.id_);
  // Without a cgroup: the shell and what descends from it, and the members of its group that
  // were handed to us when their parent died (the subreaper), with what descends from them.
  std::vector<pid_t> members = sys::ProcessTree(p.pid_);
  for (pid_t child : sys::ListChildren()) {
    if (leaders_.contains(child) || sys::ProcessGroupOf(child) != p.pid_) continue;
    const std::vector<pid_t> tree = sys::ProcessTree(child);
    members.insert(members.end(), tree.begin(), tree.end());
  }
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  return members;
}

std::optional<Ports> PortScan::ListeningPorts(const Process& process) {
  if (!process.running()) return std::nullopt;
  const std::vector<pid_t> members = table_.Members(process);
  return listeners_.PortsOf(members);
}

}  // namespace corral::proc
