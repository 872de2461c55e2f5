#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"
#include "proc/defaults.h"
#include "proc/process.h"
#include "proc/retention.h"
#include "store/journal.h"
#include "sys/cgroup.h"
#include "sys/listening_ports.h"
#include "sys/pids_limit.h"
#include "sys/pty.h"
#include "sys/spawn.h"

namespace corral::proc {

using Environment = std::map<std::string, std::string>;

// The bound on the disk all spools take together by default (--spool-total).
inline constexpr std::uint64_t kDefaultSpoolTotalBytes = 1ull << 30;

struct TableOptions {
  std::string default_workdir;  // used if it exists; else $HOME; else our own cwd
  Environment base_env;         // the server's environment
  // Commands' environment, later layers winning (DESIGN §7.3): base_env, the agent defaults
  // (AgentEnvironment, when agent_env), hook_env (the env hook's variables), the request's env.
  bool agent_env = true;
  Environment hook_env;
  std::chrono::milliseconds drain_grace = kDrainGrace;
  std::size_t max_live = kMaxLive;  // running commands (leftovers included); past it: refused
  // Processes (tasks) one command may have at once, through a cgroup pids limit; 0: no limit.
  int max_tasks_per_command = 0;
  std::chrono::milliseconds retention = kDoneRetention;
  std::size_t max_done = kMaxRetainedDone;
  std::chrono::milliseconds shutdown_grace = kShutdownGrace;
  // Track each command in a cgroup v2 of its own where one can be made (DESIGN §7.8); false:
  // process groups and the environment cookie only, as where no v2 hierarchy is writable.
  bool use_cgroups = true;
  // The open-file limit commands get (the server raises its own); nullopt: inherit ours.
  std::optional<rlimit> child_nofile;
  // Called once a started process is in the table, and once a process is done (its exit status
  // and `ended_by` set), on the loop thread. Recover() calls on_done for each process it reports
  // `lost` (not for those that were done already).
  std::function<void(const Process&)> on_start;
  std::function<void(const Process&)> on_done;
  // The journal of every process (DESIGN §7.4), owned by the caller and outliving the table;
  // null: nothing is journaled (`serve --ephemeral`, unit tests). See process_journal.cc.
  store::Journal* journal = nullptr;
  // The server that last ran on this state dir and the root of its commands' cgroups (empty:
  // none known): recovery ends what it left even if none of its starts was journaled.
  std::string previous_instance;
  std::string previous_cgroup_root;
  // Where each command's output is spooled, as <spool_dir>/<id> (DESIGN §7.1); empty: no
  // spools (output lives in memory only, as in v0). The directory must exist.
  std::string spool_dir;
  std::uint64_t spool_max = store::kDefaultSpoolMaxBytes;  // per spool; see store::Spool
  // The disk all spools may take: past it the oldest done processes are forgotten (with their
  // spools) until it holds again; running ones are never forgotten for it.
  std::uint64_t spool_total = kDefaultSpoolTotalBytes;
};

struct StartSpec {
  std::string command;
  std::optional<std::string> workdir;  // relative paths resolve against the default workdir
  std::vector<std::pair<std::string, std::string>> env;  // applied over the base environment
  bool background = false;
  std::string chat_id;  // canonical chat UUID; empty for none
  // An idempotent start (DESIGN §7.4): the Idempotency-Key and store::RequestDigest of the
  // decoded request; empty without a key. The caller looks the key up first (FindByKey).
  std::string idempotency_key;
  std::string request_digest;
  // A run deadline (DESIGN §7.3): SIGTERM to the whole command when it passes, SIGKILL
  // kDeadlineKillAfter later to what is left; `ended_by` "deadline". Zero: none. REQUIRES: at
  // most kMaxRunTimeout.
  std::chrono::milliseconds timeout{0};
  // Talking to the command (DESIGN §7.3): where its stdin comes from; with kTty it runs on a
  // terminal of `tty_size` (its stdin, stdout, stderr and controlling terminal).
  sys::StdinMode stdin_mode = sys::StdinMode::kNull;
  sys::WindowSize tty_size;
};

// Every command gets these in its environment, after the request's own variables: the id of the
// process it belongs to, and the id of this server run. Descendants that leave the process
// group (setsid daemons) still carry them, so signals and shutdown can find them where no
// cgroup tracks the command.
inline constexpr std::string_view kProcessIdVariable = "CORRAL_PROCESS_ID";
inline constexpr std::string_view kInstanceVariable = "CORRAL_INSTANCE";

// The process table: starts commands, watches them until they are done, signals them, forgets
// them after the retention, reaps every child (orphans included) and shuts everything down.
// Single-threaded: every call and every handler runs on the executor's one thread.
//
// Its code is split by concern: process_table.cc (starting, finding, listing),
// process_lifecycle.cc (the done state machine and retention), process_signals.cc (signals,
// escapees, shutdown), process_reaping.cc (orphans), process_journal.cc (the journal, restart
// recovery, idempotency keys).
// process_deadline.cc holds the run deadlines, process_ports.cc the members of a command,
// process_waits.cc the waits on many.
class ProcessTable {
 public:
  ProcessTable(boost::asio::any_io_executor ex, TableOptions options);
  ~ProcessTable();
  ProcessTable(const ProcessTable&) = delete;
  ProcessTable& operator=(const ProcessTable&) = delete;

  // Starts spec.command. Errors: kUnavailable when closing, kResourceExhausted at the live cap,
  // kInternal when the workdir is missing or unusable (saying why) or the OS refuses.
  base::Result<std::shared_ptr<const Process>> Start(const StartSpec& spec);

  // The process with this id, or null. Chat visibility is the caller's concern.
  std::shared_ptr<const Process> Find(std::string_view id) const;

  // Restart recovery (DESIGN §7.4; process_journal.cc). Loads the journal: done processes come
  // back as they were reported, their output read from their spools (reopened read-only; a
  // spool missing or damaged gives empty or partial output, never an error), with their
  // retention running to the same wall-clock time and their spools counted in
  // spool_disk_bytes(); what a dead server left running is ended and reported `lost` (exit_code
  // -1), and everything else its dead instances started is ended too; a process not provably
  // theirs is never signalled. Spool files of no remembered process are removed. Committed
  // before it returns. REQUIRES: called once, before the
  // first Start. Without a journal, does nothing. Errors: the journal's, when it cannot be read.
  base::Status Recover();
  // The remembered process of `chat_id` (empty: no chat) started with Idempotency-Key `key`.
  std::shared_ptr<const Process> FindByKey(std::string_view chat_id, std::string_view key) const;
  // Processes Recover() reported `lost`.
  std::size_t lost() const { return lost_; }

  // Processes visible to `chat_id` (all when empty): running first, then newest first.
  std::vector<std::shared_ptr<const Process>> List(std::string_view chat_id) const;

  // A client's signal to the whole command: its process group, and its cgroup (or, without
  // one, what carries its cookie) for what left the group. After the shell is done, goes to
  // the leftovers if any are alive. Errors: kFailedPrecondition when nothing of it runs,
  // kInternal when the OS refuses.
  base::Status Signal(const Process& process, int sig);

  // Completes when the process is done (or at once if it is). Counts as a waiter unless
  // `counted` is false (the caller holds a HoldWaiter). Cancellable.
  boost::asio::awaitable<void> WaitDone(std::shared_ptr<const Process> process,
                                        bool counted = true);
  // Completes once any of `processes` is done, or with `all` once every one is (at once if that
  // holds already); counts as one waiter however many it waits on (process_waits.cc).
  // Cancellable: a cancelled wait leaves nothing pending on any of them.
  boost::asio::awaitable<void> WaitDone(std::vector<std::shared_ptr<const Process>> processes,
                                        bool all);

  // Completes on the process's next output (an append), its pipe's end of file, or its end
  // (done); at once when its output is complete already. Counts as a waiter unless `counted`
  // is false (the caller holds a HoldWaiter). Cancellable.
  boost::asio::awaitable<void> WaitOutput(std::shared_ptr<const Process> process,
                                          bool counted = true);

  // The processes of a running command now (DESIGN §7.3; process_ports.cc): the members of its
  // cgroup where it has one, else its shell with its descendants, and the members of its
  // process group handed to us (their parent died) with theirs. Empty once it is done, and for a
  // process restored from the journal. A snapshot, for reading /proc: never for signalling.
  std::vector<pid_t> Members(const Process& process) const;

  // Counts a held request (a stream) among waiters() for as long as the result lives.
  std::shared_ptr<void> HoldWaiter();

  // Talking to a running command (DESIGN §7.3; process_waiting.cc).
  // Writes to its stdin (ProcessInput::Write: all or nothing, never blocking). Errors:
  // kFailedPrecondition without an open stdin (stdin "null", closed, its reader gone, or done),
  // kResourceExhausted when the input waiting for it would pass kMaxQueuedInputBytes.
  base::Status WriteInput(const Process& process, std::string_view data, bool close);
  // Sets the size of its terminal (the foreground job gets SIGWINCH). Errors:
  // kFailedPrecondition without a terminal or once done; kInternal when the OS refuses.
  base::Status Resize(const Process& process, sys::WindowSize size);
  // Process::waiting_for_input, measured again unless it was within kWaitingReuse (100 ms, so that
  // a `list` of many commands polled in a loop does not measure them all every time); a change
  // wakes WaitInputState. A change to true first takes in the output the command wrote before it
  // blocked, so an answer that says it waits shows its prompt.
  std::optional<bool> RefreshWaiting(const Process& process);
  // For an answer about many commands at once (`list`, `wait`): the waiting_for_input and
  // listening_ports of each of `processes`, measured anew only where the last measure is too old
  // (process_ports.cc): measures younger than kAnswerReuse (100 ms) are reused; between that and
  // kAnswerStaleness (500 ms) the oldest are measured again within a budget of kAnswerBudget
  // (1 ms) per answer, the others wait for the next answer; older ones (or none yet) are always
  // measured. So a client polling `list` of 100 commands sees values at most 500 ms old without
  // paying for the /proc reads of all of them on every call. Returns each one's listening ports
  // (nullopt once done: the field is left out); waiting_for_input is left in each process
  // (Process::waiting_for_input), a change of it changing the generation.
  std::vector<std::optional<std::vector<std::uint16_t>>> RefreshForAnswer(
      std::span<const std::shared_ptr<const Process>> processes);
  // The listening ports of `process` measured now from `listeners` (nullopt once done), kept as
  // its last measure for RefreshForAnswer.
  std::optional<std::vector<std::uint16_t>> RefreshPorts(const Process& process,
                                                         sys::TcpListeners& listeners);
  // Completes when waiting_for_input of the process changes, or it is done (at once if it is).
  // While any such wait exists for a process, its state is measured every kInputPoll; nothing
  // is measured when nobody waits. Not counted as a waiter. Cancellable.
  boost::asio::awaitable<void> WaitInputState(std::shared_ptr<const Process> process);

  // Refuses new starts, SIGTERMs every command and every orphan, SIGKILLs what remains after
  // the shutdown grace, and completes once every process is done and every child reaped.
  boost::asio::awaitable<void> Shutdown();

  // Changes whenever what List() returns could change (a start, a process done or forgotten,
  // a change of waiting_for_input), so that readers may cache what they derive from it.
  std::uint64_t generation() const { return generation_; }

  bool closing() const { return closing_; }
  std::size_t size() const { return processes_.size(); }
  // Commands that occupy a slot of max_live: running, or done with leftovers still alive.
  std::size_t live() const { return live_; }
  std::size_t waiters() const { return *waiters_; }
  // Output bytes read from every command's pipe since the table was made.
  std::uint64_t output_bytes() const { return output_bytes_; }
  // The disk all spools take now (store::Spool::disk_bytes summed).
  std::uint64_t spool_disk_bytes() const { return spool_disk_; }
  // The per-command process limit in force: 0 when off or not available here.
  int task_limit() const { return task_limit_; }
  // How the processes of a command are found: "cgroup" (one cgroup v2 per command) or
  // "process-group" (its group, plus the environment cookie among our descendants).
  std::string_view tracking() const { return cgroups_ ? "cgroup" : "process-group"; }
  // Where the commands' cgroups live; empty without cgroup tracking.
  std::string cgroup_root() const { return cgroups_ ? cgroups_->root() : std::string(); }
  // This server run's id (kInstanceVariable in every command).
  const std::string& instance() const { return instance_; }

 private:
  using ProcessPtr = std::shared_ptr<Process>;
  static constexpr std::size_t kReadChunk = 64 * 1024;  // pipes are read in chunks of this size

  base::Result<std::string> ResolveWorkdir(const std::optional<std::string>& requested) const;
  std::vector<std::string> BuildEnv(const StartSpec& spec, const std::string& id) const;
  std::error_code SpawnCommand(sys::SpawnSpec& spawn, const std::string& id,
                               sys::SpawnedChild& child);

  // The done state machine (process_lifecycle.cc).
  void WatchExit(ProcessPtr p);
  void WatchOutput(ProcessPtr p);
  // The output source hit end of file (or failed): closes it, and finishes p if its shell exited.
  void OutputEnded(const ProcessPtr& p);
  void OnExit(const ProcessPtr& p);
  // Reads what the pipe holds now; returns false once it hit end of file or an error.
  bool DrainPipe(Process& p);
  // Adds bytes read from the pipe to the buffer and the spool.
  void Append(Process& p, std::string_view bytes);
  void Finish(const ProcessPtr& p);
  // Whether anything of a done process may still live; ends its lingering when not.
  void CheckLingering(const ProcessPtr& p);
  void ScheduleForget();
  void ForgetDue();
  // Drops the process from the table: its buffer, its spool file.
  void Forget(const std::string& id);
  // Wakes output waiters; once the output is complete and the spool holds it, drops the
  // in-memory buffer (output then renders from the spool).
  void SettleOutput(Process& p);
  // Forgets the oldest done processes while the spools take more than spool_total.
  void EnforceSpoolTotal();
  void CreateSpool(Process& p);
  void ReleaseMemorySoon();

  // The run deadline (process_deadline.cc): arms p's deadline timer if it has a timeout; the
  // timer is cancelled when p is done before it passes.
  void ArmDeadline(const ProcessPtr& p);
  void OnDeadline(const ProcessPtr& p);
  // Talking to commands (process_waiting.cc).
  // Hands the command's input ends to `p`: the pipe's writer, or the terminal's (whose master
  // becomes child.output, the output source).
  void AdoptInput(Process& p, sys::StdinMode mode, sys::SpawnedChild& child,
                  TerminalEnds& terminal);
  // `members`: the command's processes when the caller has them (else read here).
  bool MeasureWaiting(const Process& p, const std::vector<pid_t>* members = nullptr);
  void UpdateWaiting(const ProcessPtr& p, const std::vector<pid_t>* members = nullptr);
  // Measures waiting_for_input and listening_ports of `p` from one listing of its members.
  void MeasureForAnswer(const ProcessPtr& p, sys::TcpListeners& listeners);
  void PollInputState();
  void ReleaseInput(Process& p);  // done: no more input, no more measures

  // Signals (process_signals.cc).
  // Sends sig to everything of p that is alive; kFailedPrecondition when nothing is.
  base::Status SignalCommand(const Process& p, int sig);
  // Signals, among our descendants, those outside `pgid` that carry `id` in
  // kProcessIdVariable; returns how many.
  int SignalEscapees(const std::string& id, pid_t pgid, int sig);
  // Whether some unreaped child of ours is in `pgid`; nullopt when our children cannot be listed
  // (logged): the caller picks the safe answer (a slot stays taken; no group is signalled).
  std::optional<bool> GroupHasLeftovers(pid_t pgid);
  // Logs, once per table, that /proc could not tell what it was asked (sys errors are never
  // taken for "nothing there").
  void WarnProcUnreadable(std::string_view what, const std::error_code& ec) const;
  void SignalEverything(int sig);
  bool Settled();
  void StopWatching();  // cancels the table's own waits, so the loop can run dry

  // Reaping (process_reaping.cc).
  void WatchSigchld();
  void ReapOrphans();

  // The journal (process_journal.cc). Each is a no-op without one, except the key index.
  void JournalStart(const Process& p);
  void JournalDone(const Process& p);
  void JournalForget(const Process& p);
  // The final output count of a done process whose pipe reached end of file after its done
  // state was journaled (leftovers wrote meanwhile); committed with the next batch.
  void JournalOutput(const Process& p);
  // Commits what is queued, and arranges the sync that bounds what a power loss may cost.
  // Once a commit succeeds, unlinks the spools queued by RemoveSpoolOnceCommitted.
  void FlushJournal();
  // Unlinks the spool file at `path` of a forgotten process: at once without a journal, else
  // after the next successful commit (which carries its forget), so that no journaled row ever
  // names a spool that is gone.
  void RemoveSpoolOnceCommitted(std::string path);
  // Brings a journaled process back, done, its output served from `spool` (null: no spools).
  void Restore(const store::ProcessRecord& row, const store::Spool* spool, std::int64_t now_ms);
  // Recovery: removes the spool files of no remembered process (a crash between a spool's
  // creation and its start's commit, or between a forget's commit and its unlink).
  void RemoveUnknownSpools();
  // Recovery: ends what the dead instances left, SIGTERM now and SIGKILL after the grace.
  void EndDeadInstances(const std::vector<store::ProcessRecord>& rows);
  void FinishEnding();

  boost::asio::any_io_executor ex_;
  TableOptions options_;
  std::string instance_;  // this server run's id, kInstanceVariable in every command
  std::unordered_map<std::string, ProcessPtr> processes_;
  std::unordered_set<pid_t> leaders_;         // shells not yet reaped: the orphan sweep leaves them
  std::unordered_set<ProcessPtr> lingering_;  // done, but something of them may still live
  Retention retention_;
  std::size_t live_ = 0;
  std::uint64_t next_sequence_ = 0;
  std::uint64_t generation_ = 0;
  std::uint64_t output_bytes_ = 0;
  bool closing_ = false;
  std::shared_ptr<std::size_t> waiters_ = std::make_shared<std::size_t>(0);
  std::uint64_t spool_disk_ = 0;  // the disk bytes of every spool of a remembered process
  boost::asio::signal_set sigchld_;
  boost::asio::steady_timer orphan_timer_;  // backs up SIGCHLD, which /proc reads can race
  boost::asio::steady_timer forget_timer_;
  boost::asio::steady_timer trim_timer_;      // returns freed memory to the system, rate-limited
  std::unique_ptr<char[]> scratch_;           // one read buffer for every pipe: the loop is serial
  std::unique_ptr<sys::CgroupTree> cgroups_;  // null: no cgroup v2 tracking here
  std::unique_ptr<sys::PidsLimit> pids_limit_;  // the v1 pids limit, where v2 has no controller
  int task_limit_ = 0;
  // Processes whose waiting_for_input someone waits on (WaitInputState), and the poll of them.
  std::unordered_set<ProcessPtr> input_watched_;
  boost::asio::steady_timer input_poll_timer_;
  bool input_polling_ = false;  // a poll is pending

  // The journal (process_journal.cc).
  std::map<std::pair<std::string, std::string>, std::string> keys_;  // (chat, key) -> id
  std::vector<std::string> spools_to_remove_;  // spools of forgets not yet committed
  boost::asio::steady_timer sync_timer_;       // Journal::Sync() a sync interval after a commit
  boost::asio::steady_timer ending_timer_;     // recovery: SIGKILL after the shutdown grace
  std::vector<base::UniqueFd> ending_;         // recovery: pidfds of what a dead instance left
  struct EndingGroup {
    base::UniqueFd pidfd;  // the leader, proven by its start time
    pid_t pid;
    pid_t pgid;
  };
  std::vector<EndingGroup> ending_groups_;
  std::vector<std::string> dead_cgroups_;  // recovery: corral-<dead instance> dirs to remove
  int cgroup_remove_tries_ = 0;
  std::size_t lost_ = 0;
  mutable bool proc_warned_ = false;  // WarnProcUnreadable logged already
};

}  // namespace corral::proc
