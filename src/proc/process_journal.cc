// The journal of every process (DESIGN §7.4): what is written at start, at done and at forget,
// the commits and syncs that keep its durability promise, the idempotency keys, and the
// recovery of a restarted server.
//
// Commits: a start is committed before Start returns (so before it is answered), a done state
// before Finish returns (so before any waiter or reader can see it), forgets once per batch.
// A forgotten process's spool file is unlinked only once its forget is committed: a crash in
// between leaves a spool no row names (recovery removes it), never a row whose spool is gone.
// Each commit is one SQLite transaction in WAL mode without fsync; a sync follows
// kSyncDelay after a commit that left the journal unsynced. So a SIGKILL of the server never
// loses an answered start or a reported done state, and a power loss loses at most about the
// last second of them, never the journal.
//
// Recovery never signals a stranger. A process is signalled only when it is proven to be the
// dead server's: (1) it is in a cgroup under `corral-<dead instance>`, a directory only that
// server made (its name is the dead instance's random uuid); (2) it is the leader journaled
// for a command that was running, checked by pidfd first and then by its start time (the
// pidfd was opened before the check, so it names the process checked, and a pid with the
// same start time is the same process); its group is signalled only while that leader is
// alive and still in it, which keeps the group id from being reused; (3) its environment
// carries CORRAL_INSTANCE=<dead instance>, read after its pidfd was opened, which only
// something started by that server can carry. Signals go through the pidfds, so a process that
// exits meanwhile is never confused with a later one reusing its pid.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "base/log.h"
#include "proc/process_table.h"
#include "sys/proc_stat.h"

namespace corral::proc {
namespace {

// A commit left unsynced is synced this long after (JournalOptions::sync_interval's default).
constexpr std::chrono::seconds kSyncDelay{1};
// After the shutdown grace, how often and how many times recovery retries removing the dead
// instances' cgroup directories (they empty as the killed processes exit).
constexpr std::chrono::milliseconds kCgroupRemoveRetry{100};
constexpr int kCgroupRemoveTries = 50;

std::int64_t UnixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<EndedBy> ParseEndedBy(std::string_view name) {
  for (EndedBy e : {EndedBy::kExit, EndedBy::kSignal, EndedBy::kClient, EndedBy::kDeadline,
                    EndedBy::kShutdown, EndedBy::kLost}) {
    if (EndedByName(e) == name) return e;
  }
  return std::nullopt;
}

std::optional<sys::StdinMode> ParseStdinMode(std::string_view name) {
  for (sys::StdinMode m : {sys::StdinMode::kNull, sys::StdinMode::kPipe, sys::StdinMode::kTty}) {
    if (StdinName(m) == name) return m;
  }
  return std::nullopt;
}

// Removes the cgroup `dir` and every cgroup below it; false while some are not empty yet.
bool RemoveCgroupTree(const std::filesystem::path& dir) {
  std::error_code ec;
  bool all = true;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec)) all &= RemoveCgroupTree(entry.path());
  }
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return all;
  return false;
}

}  // namespace

void ProcessTable::JournalStart(const Process& p) {
  if (!p.idempotency_key_.empty()) keys_[{p.chat_id_, p.idempotency_key_}] = p.id_;
  store::Journal* journal = options_.journal;
  if (!journal) return;
  store::ProcessRecord r;
  r.id = p.id_;
  r.chat_id = p.chat_id_;
  r.command = p.command_;
  r.workdir = p.workdir_;
  r.background = p.background_;
  const sys::StdinMode mode = p.stdin_mode_.value_or(sys::StdinMode::kNull);
  r.stdin_mode = StdinName(mode);
  if (mode == sys::StdinMode::kTty) {
    r.tty_rows = p.tty_size_.rows;
    r.tty_cols = p.tty_size_.cols;
  }
  r.timeout_ms = p.timeout_.count();
  r.started_at_ms = p.started_at_unix_ * 1000;
  r.pid = p.pid_;
  r.pgid = p.pid_;
  r.leader_start_time = p.leader_start_time_;
  r.instance = instance_;
  if (p.has_cgroup_) r.cgroup = cgroups_->PathOf(p.id_);
  r.idempotency_key = p.idempotency_key_;
  r.request_digest = p.request_digest_;
  journal->RecordStart(r);
  FlushJournal();
}

void ProcessTable::JournalDone(const Process& p) {
  store::Journal* journal = options_.journal;
  if (!journal) return;
  const sys::ExitStatus exit = p.exit_.value_or(sys::ExitStatus{});
  store::DoneRecord d;
  d.id = p.id_;
  d.exit_code = exit.signaled ? -1 : exit.code;
  d.exit_signal = exit.signaled ? exit.signal : 0;
  d.ended_by = std::string(EndedByName(p.ended_by().value_or(EndedBy::kExit)));
  d.exited_at_ms = p.exited_at_unix_ * 1000;
  d.done_at_ms = UnixNowMs();
  d.total_bytes = p.total_bytes_;
  d.spool_error = p.spool_error();
  journal->RecordDone(d);
  FlushJournal();
}

void ProcessTable::JournalForget(const Process& p) {
  if (!p.idempotency_key_.empty()) {
    auto it = keys_.find({p.chat_id_, p.idempotency_key_});
    if (it != keys_.end() && it->second == p.id_) keys_.erase(it);
  }
  if (options_.journal) options_.journal->RecordForget(p.id_);
}

void ProcessTable::JournalOutput(const Process& p) {
  if (options_.journal) options_.journal->RecordOutput(p.id_, p.total_bytes_, p.spool_error());
}

void ProcessTable::RemoveSpoolOnceCommitted(std::string path) {
  if (!options_.journal) {
    ::unlink(path.c_str());  // ENOENT: already gone, which is what was asked
    return;
  }
  spools_to_remove_.push_back(std::move(path));
}

void ProcessTable::FlushJournal() {
  store::Journal* journal = options_.journal;
  if (!journal) return;
  if (base::Status s = journal->Flush(); !s.ok()) {
    base::LogWarning("journal: cannot commit (" + s.message() + "); kept for the next commit");
  } else {
    // The forgets are committed: no row names these spools any more.
    for (const std::string& path : spools_to_remove_) ::unlink(path.c_str());
    spools_to_remove_.clear();
  }
  if (!journal->unsynced() || sync_timer_.expiry() > base::SteadyClock::now()) return;
  sync_timer_.expires_after(kSyncDelay);
  sync_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || !options_.journal) return;
    if (base::Status s = options_.journal->Sync(); !s.ok()) {
      base::LogWarning("journal: cannot sync (" + s.message() + ")");
    }
  });
}

std::shared_ptr<const Process> ProcessTable::FindByKey(std::string_view chat_id,
                                                       std::string_view key) const {
  auto it = keys_.find({std::string(chat_id), std::string(key)});
  return it == keys_.end() ? nullptr : Find(it->second);
}

base::Status ProcessTable::Recover() {
  store::Journal* journal = options_.journal;
  if (!journal) return base::Status::Ok();
  auto rows = journal->LoadAll();
  if (!rows.ok()) return rows.status();
  EndDeadInstances(*rows);
  const std::int64_t now_ms = UnixNowMs();
  for (store::ProcessRecord& row : *rows) {
    // Each spool is opened once, read-only: what it holds says how much output there is (a
    // command lost mid-run wrote more than its row knows), and what it takes on disk.
    std::unique_ptr<store::Spool> spool;
    if (!options_.spool_dir.empty()) {
      spool = store::Spool::Open(options_.spool_dir, row.id);
      row.total_bytes = std::max(row.total_bytes, spool->total());
    }
    const bool lost_now = row.running();
    if (lost_now) {
      journal->RecordLost(row.id, now_ms, row.total_bytes);
      row.exit_code = -1;
      row.exit_signal = 0;
      row.ended_by = EndedByName(EndedBy::kLost);
      row.exited_at_ms = now_ms;
      row.done_at_ms = now_ms;
      ++lost_;
    }
    Restore(row, spool.get(), now_ms);
    // Done now, as far as anyone watching the table can tell (metrics count `lost` here).
    if (lost_now && options_.on_done) {
      options_.on_done(*processes_.at(row.id));
    }
  }
  RemoveUnknownSpools();
  FlushJournal();
  if (lost_ > 0) {
    base::LogInfo("recovery: " + std::to_string(lost_) +
                  " processes were running under a server that died: reported lost");
  }
  if (retention_.size() > options_.max_done) ForgetDue();
  if (spool_disk_ > options_.spool_total) EnforceSpoolTotal();
  ScheduleForget();
  return base::Status::Ok();
}

void ProcessTable::Restore(const store::ProcessRecord& row, const store::Spool* spool,
                           std::int64_t now_ms) {
  auto p = std::make_shared<Process>(ex_, row.id, next_sequence_++);
  p->chat_id_ = row.chat_id;
  p->command_ = row.command;
  p->workdir_ = row.workdir;
  p->background_ = row.background;
  p->stdin_mode_ = ParseStdinMode(row.stdin_mode);
  if (row.tty_rows > 0 && row.tty_cols > 0) {
    p->tty_size_ = {static_cast<unsigned short>(row.tty_rows),
                    static_cast<unsigned short>(row.tty_cols)};
  }
  p->timeout_ = std::chrono::milliseconds(row.timeout_ms);
  p->started_at_unix_ = row.started_at_ms / 1000;
  p->exited_at_unix_ = row.exited_at_ms.value_or(now_ms) / 1000;
  p->exit_ = sys::ExitStatus{row.exit_signal != 0 ? 0 : row.exit_code.value_or(-1), row.exit_signal,
                             row.exit_signal != 0};
  p->requested_end_ = ParseEndedBy(row.ended_by);
  p->done_ = true;
  p->idempotency_key_ = row.idempotency_key;
  p->request_digest_ = row.request_digest;
  p->total_bytes_ = row.total_bytes;
  if (spool) {
    // Output renders from the file, as it did for a done process before the restart; a file
    // missing or damaged since renders what is left of it (spool_error says why).
    p->spool_dir_ = options_.spool_dir;
    p->buffer_in_spool_ = true;
    p->spool_error_ = spool->error().empty() ? row.spool_error : spool->error();
    p->spool_disk_bytes_ = spool->disk_bytes();
    spool_disk_ += p->spool_disk_bytes_;
  } else {
    p->spool_error_ = row.spool_error;
  }
  // Retention runs to the same wall-clock time as before the restart.
  const std::int64_t age_ms = std::max<std::int64_t>(0, now_ms - row.done_at_ms.value_or(now_ms));
  p->done_at_ = base::SteadyClock::now() - std::chrono::milliseconds(age_ms);
  if (!p->idempotency_key_.empty()) keys_[{p->chat_id_, p->idempotency_key_}] = p->id_;
  retention_.Add(p->id_, p->done_at_);
  processes_.emplace(p->id_, std::move(p));
  ++generation_;
}

void ProcessTable::RemoveUnknownSpools() {
  if (options_.spool_dir.empty()) return;
  std::error_code ec;
  std::size_t removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(options_.spool_dir, ec)) {
    // Spools are plain files named by process id; anything else there is not ours to remove.
    if (!entry.is_regular_file(ec) || processes_.contains(entry.path().filename().string())) {
      continue;
    }
    if (::unlink(entry.path().c_str()) == 0) ++removed;
  }
  if (ec) base::LogWarning("recovery: cannot list " + options_.spool_dir + ": " + ec.message());
  if (removed > 0) {
    base::LogInfo("recovery: removed " + std::to_string(removed) +
                  " spools that no remembered process owns");
  }
}

void ProcessTable::EndDeadInstances(const std::vector<store::ProcessRecord>& rows) {
  namespace fs = std::filesystem;
  std::set<std::string, std::less<>> dead;
  for (const auto& row : rows) {
    if (!row.instance.empty() && row.instance != instance_) dead.insert(row.instance);
  }
  const std::string& previous = options_.previous_instance;
  if (!previous.empty() && previous != instance_) dead.insert(previous);
  if (dead.empty()) return;

  // (1) Their cgroups: everything in `corral-<instance>`, done commands' leftovers included.
  std::set<std::string> dirs;
  for (const auto& row : rows) {
    if (row.cgroup.empty() || !dead.contains(row.instance)) continue;
    const fs::path parent = fs::path(row.cgroup).parent_path();
    if (parent.is_absolute() && parent.filename() == "corral-" + row.instance) {
      dirs.insert(parent.string());
    }
  }
  // The last server's own cgroup root, from <state-dir>/instance: only a directory named for that
  // (random) instance id, which only that server made.
  const fs::path previous_root(options_.previous_cgroup_root);
  if (!previous.empty() && previous != instance_ && previous_root.is_absolute() &&
      previous_root.filename() == "corral-" + previous) {
    dirs.insert(previous_root.string());
  }
  for (const std::string& dir : dirs) {
    if (auto ec = sys::KillCgroupTree(dir)) {
      if (ec != std::errc::no_such_file_or_directory) {
        base::LogWarning("recovery: cannot kill cgroup " + dir + ": " + ec.message());
      }
      continue;
    }
    dead_cgroups_.push_back(dir);
  }

  // (2) The leaders of what was running, each proven by its start time, and their groups.
  for (const auto& row : rows) {
    if (!row.running() || row.pid <= 1 || row.leader_start_time == 0) continue;
    const pid_t pid = static_cast<pid_t>(row.pid);
    base::UniqueFd pidfd = sys::OpenPidfd(pid);
    if (!pidfd || sys::ProcessStartTime(pid) != row.leader_start_time) continue;
    sys::SignalPidfd(pidfd.get(), SIGTERM);
    const pid_t pgid = static_cast<pid_t>(row.pgid);
    if (pgid > 1 && sys::ProcessGroupOf(pid) == pgid) sys::SignalGroup(pgid, SIGTERM);
    ending_groups_.push_back({std::move(pidfd), pid, pgid});
  }

  // (3) Whatever carries a dead instance's CORRAL_INSTANCE, wherever it was reparented to.
  std::vector<pid_t> all;
  if (auto ec = sys::ListAllProcesses(all)) {
    base::LogWarning("recovery: cannot list the processes in /proc (" + ec.message() +
                     "): those of a dead server outside its cgroups and groups may live on");
  }
  std::erase(all, ::getpid());
  sys::ForEachWithEnvironment(all, kInstanceVariable,
                              [&](pid_t, int pidfd, std::string_view value) {
                                if (!dead.contains(value)) return;
                                sys::SignalPidfd(pidfd, SIGTERM);
                                ending_.emplace_back(::fcntl(pidfd, F_DUPFD_CLOEXEC, 0));
                              });

  if (ending_.empty() && ending_groups_.empty() && dead_cgroups_.empty()) return;
  ending_timer_.expires_after(options_.shutdown_grace);
  ending_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) FinishEnding();
  });
}

void ProcessTable::FinishEnding() {
  for (const base::UniqueFd& pidfd : ending_) {
    if (pidfd) sys::SignalPidfd(pidfd.get(), SIGKILL);
  }
  for (const EndingGroup& g : ending_groups_) {
    // Only while the proven leader lives and leads it does the group id stand for its group.
    if (!sys::SignalPidfd(g.pidfd.get(), 0) && g.pgid > 1 && sys::ProcessGroupOf(g.pid) == g.pgid) {
      sys::SignalGroup(g.pgid, SIGKILL);
    }
    sys::SignalPidfd(g.pidfd.get(), SIGKILL);
  }
  ending_.clear();
  ending_groups_.clear();
  std::erase_if(dead_cgroups_, [](const std::string& dir) { return RemoveCgroupTree(dir); });
  if (dead_cgroups_.empty() || ++cgroup_remove_tries_ >= kCgroupRemoveTries) {
    for (const std::string& dir : dead_cgroups_) {
      base::LogWarning("recovery: cgroup " + dir + " did not empty; left in place");
    }
    dead_cgroups_.clear();
    return;
  }
  ending_timer_.expires_after(kCgroupRemoveRetry);
  ending_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) FinishEnding();
  });
}

}  // namespace corral::proc
