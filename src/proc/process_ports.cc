// Which processes make up a running command, and the ports they listen on (DESIGN §7.3).
#include "proc/process_ports.h"

#include <algorithm>

#include "sys/child.h"
#include "sys/proc_stat.h"

namespace corral::proc {

std::vector<pid_t> ProcessTable::Members(const Process& p) const {
  if (p.done_ || p.pid_ <= 0) return {};
  std::vector<pid_t> members;
  if (p.has_cgroup_) {
    if (auto ec = cgroups_->Procs(p.id_, members)) WarnProcUnreadable("the cgroup of " + p.id_, ec);
    return members;
  }
  // Without a cgroup: the shell and what descends from it, and the members of its group that
  // were handed to us when their parent died (the subreaper), with what descends from them.
  members = sys::ProcessTree(p.pid_);
  std::vector<pid_t> children;
  if (auto ec = sys::ListChildren(children)) WarnProcUnreadable("our children", ec);
  for (pid_t child : children) {
    if (leaders_.contains(child) || sys::ProcessGroupOf(child) != p.pid_) continue;
    const std::vector<pid_t> tree = sys::ProcessTree(child);
    members.insert(members.end(), tree.begin(), tree.end());
  }
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  return members;
}

namespace {

// Answers about many commands (RefreshForAnswer) reuse a measure younger than this...
constexpr std::chrono::milliseconds kAnswerReuse{100};
// ...and never one older than this: past it a command is measured again whatever it costs.
constexpr std::chrono::milliseconds kAnswerStaleness{500};
// What one answer spends at most measuring again commands whose measures are between
// kAnswerReuse and kAnswerStaleness old, oldest first. A measure costs ~0.1-0.3 ms per command
// of three processes on a loaded 2-core machine (reads of /proc: ~4 us a system call there), so
// measuring 100 commands on every `list` cost 20-60 ms.
constexpr std::chrono::milliseconds kAnswerBudget{1};

}  // namespace

std::optional<Ports> PortScan::ListeningPorts(const Process& process) {
  return table_.RefreshPorts(process, listeners_);
}

std::optional<Ports> ProcessTable::RefreshPorts(const Process& process,
                                                sys::TcpListeners& listeners) {
  auto it = processes_.find(process.id());
  if (it == processes_.end() || it->second.get() != &process || process.done_) {
    return std::nullopt;
  }
  Process& p = *it->second;
  p.ports_ = listeners.PortsOf(Members(p));
  p.ports_at_ = base::SteadyClock::now();
  return p.ports_;
}

void ProcessTable::MeasureForAnswer(const ProcessPtr& p, sys::TcpListeners& listeners) {
  const std::vector<pid_t> members = Members(*p);
  if (p->input_identity_) UpdateWaiting(p, &members);
  if (p->done_) return;  // the update took in its output's end
  p->ports_ = listeners.PortsOf(members);
  p->ports_at_ = base::SteadyClock::now();
}

std::vector<std::optional<Ports>> ProcessTable::RefreshForAnswer(
    std::span<const std::shared_ptr<const Process>> processes) {
  const auto start = base::SteadyClock::now();
  sys::TcpListeners listeners;  // read at most once, for all the commands measured here
  std::vector<std::pair<base::SteadyClock::time_point, ProcessPtr>> due;
  for (const auto& process : processes) {
    auto it = processes_.find(process->id());
    if (it == processes_.end() || it->second != process || process->done_) continue;
    const ProcessPtr& p = it->second;
    auto measured = p->ports_at_;
    if (p->input_identity_) measured = std::min(measured, p->waiting_at_);
    if (start - measured >= kAnswerStaleness) {
      MeasureForAnswer(p, listeners);
    } else if (start - measured >= kAnswerReuse) {
      due.emplace_back(measured, p);
    }
  }
  std::sort(due.begin(), due.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [measured, p] : due) {
    if (base::SteadyClock::now() - start >= kAnswerBudget) break;
    if (!p->done_) MeasureForAnswer(p, listeners);
  }
  std::vector<std::optional<Ports>> ports;
  ports.reserve(processes.size());
  for (const auto& p : processes) {
    ports.push_back(p->running() ? std::optional<Ports>(p->ports_) : std::nullopt);
  }
  return ports;
}

}  // namespace corral::proc
