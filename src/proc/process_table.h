#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/status.h"
#include "proc/process.h"
#include "sys/pids_limit.h"

namespace corral::proc {

using Environment = std::map<std::string, std::string>;

// How long a done process stays visible before it is forgotten (404 afterwards), by default.
inline constexpr std::chrono::minutes kDoneRetention{5};
// At most this many done processes are remembered; past it the oldest are forgotten first, so
// memory stays bounded (~32 KiB of output each) however fast commands are started.
inline constexpr std::size_t kMaxRetainedDone = 1024;

struct TableOptions {
  std::string default_workdir;  // used if it exists; else $HOME; else our own cwd
  Environment base_env;         // the server's environment with the env hook applied
  // After the shell exits, how long its output pipe may stay open (held by a background
  // grandchild) before the process counts as done anyway.
  std::chrono::milliseconds drain_grace{5000};
  std::size_t max_live = 1024;  // running processes; starts past it are refused
  // Processes (tasks) one command may have at once, through a cgroup pids limit; 0: no limit.
  int max_tasks_per_command = 0;
  std::chrono::milliseconds retention = kDoneRetention;
  // On shutdown, how long process groups get between SIGTERM and SIGKILL.
  std::chrono::milliseconds shutdown_grace{3000};
  // Called once a started process is in the table, and once a process is done (its exit status
  // and `ended_by` set), on the loop thread.
  std::function<void(const Process&)> on_start;
  std::function<void(const Process&)> on_done;
};

struct StartSpec {
  std::string command;
  std::optional<std::string> workdir;  // relative paths resolve against the default workdir
  std::vector<std::pair<std::string, std::string>> env;  // applied over the base environment
  bool background = false;
  std::string chat_id;  // canonical chat UUID; empty for none
};

// Every command gets these in its environment, after the request's own variables: the id of the
// process it belongs to, and the id of this server run. Descendants that leave the process
// group (setsid daemons) still carry them, so signals and shutdown can find them.
inline constexpr std::string_view kProcessIdVariable = "CORRAL_PROCESS_ID";
inline constexpr std::string_view kInstanceVariable = "CORRAL_INSTANCE";

// The process table: starts commands, watches them until they are done, signals them, forgets
// them after the retention, reaps every child (orphans included) and shuts everything down.
// Single-threaded: every call and every handler runs on the executor's one thread.
class ProcessTable {
 public:
  ProcessTable(boost::asio::any_io_executor ex, TableOptions options);
  ~ProcessTable();
  ProcessTable(const ProcessTable&) = delete;
  ProcessTable& operator=(const ProcessTable&) = delete;

  // Starts spec.command. Errors: kUnavailable when closing, kResourceExhausted at the live cap,
  // kInternal when the workdir is missing or the OS refuses.
  base::Result<std::shared_ptr<const Process>> Start(const StartSpec& spec);

  // The process with this id, or null. Chat visibility is the caller's concern.
  std::shared_ptr<const Process> Find(std::string_view id) const;

  // Processes visible to `chat_id` (all when empty): running first, then newest first.
  std::vector<std::shared_ptr<const Process>> List(std::string_view chat_id) const;

  // Sends sig to the process's group. After the shell is done, goes to the group's leftovers
  // if any are alive. Errors: kFailedPrecondition when nothing of it runs, kInternal when the
  // OS refuses.
  base::Status Signal(const Process& process, int sig);

  // Completes when the process is done (or at once if it is). Cancellable.
  boost::asio::awaitable<void> WaitDone(std::shared_ptr<const Process> process);

  // Refuses new starts, SIGTERMs every group and every orphan, SIGKILLs what remains after the
  // shutdown grace, and completes once every process is done and every child reaped.
  boost::asio::awaitable<void> Shutdown();

  // Changes whenever what List() returns could change (a start, a process done or forgotten),
  // so that readers may cache what they derive from it.
  std::uint64_t generation() const { return generation_; }

  bool closing() const { return closing_; }
  std::size_t size() const { return processes_.size(); }
  std::size_t live() const { return live_; }
  std::size_t waiters() const { return *waiters_; }
  // Output bytes read from every command's pipe since the table was made.
  std::uint64_t output_bytes() const { return output_bytes_; }
  // The per-command process limit in force: 0 when off or not available here.
  int task_limit() const { return pids_limit_ ? options_.max_tasks_per_command : 0; }

 private:
  using ProcessPtr = std::shared_ptr<Process>;

  std::string ResolveWorkdir(const std::optional<std::string>& requested, base::Status& error);
  std::vector<std::string> BuildEnv(const StartSpec& spec, const std::string& id) const;
  // Signals the processes outside `pgid` that carry `id` in kProcessIdVariable; returns how
  // many were signalled.
  int SignalEscapees(const std::string& id, pid_t pgid, int sig);

  void WatchExit(ProcessPtr p);
  void WatchOutput(ProcessPtr p);
  void OnExit(const ProcessPtr& p);
  // Reads what the pipe holds now; returns false once it hit end of file or an error.
  bool DrainPipe(Process& p);
  void Finish(Process& p);

  void WatchSigchld();
  void ReapOrphans();
  void ScheduleForget();
  void Forget();
  bool GroupHasLeftovers(pid_t pgid) const;
  void SignalEverything(int sig);
  void StopWatching();  // cancels the table's own waits, so the loop can run dry

  boost::asio::any_io_executor ex_;
  TableOptions options_;
  std::string instance_;  // this server run's id, kInstanceVariable in every command
  std::unordered_map<std::string, ProcessPtr> processes_;
  std::unordered_set<pid_t> leaders_;  // shells not yet reaped: the orphan sweep leaves them
  std::size_t live_ = 0;
  std::uint64_t next_sequence_ = 0;
  std::uint64_t generation_ = 0;
  std::uint64_t output_bytes_ = 0;
  bool closing_ = false;
  std::shared_ptr<std::size_t> waiters_ = std::make_shared<std::size_t>(0);
  boost::asio::signal_set sigchld_;
  boost::asio::steady_timer orphan_timer_;  // backs up SIGCHLD, which /proc reads can race
  boost::asio::steady_timer forget_timer_;
  std::unique_ptr<char[]> scratch_;
  std::unique_ptr<sys::PidsLimit> pids_limit_;  // null: no per-command process limit  // one read
                                                // buffer for every pipe: the loop is serial
};

}  // namespace corral::proc
