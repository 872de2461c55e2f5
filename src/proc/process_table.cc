#include "proc/process_table.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/uuid/uuid_generators.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <cstring>
#include <filesystem>

#include "base/log.h"
#include "proc/agent_env.h"
#include "sys/proc_stat.h"
#include "sys/spawn.h"

namespace corral::proc {
namespace asio = boost::asio;
using base::Code;
using base::Status;

namespace {

// Why `path` cannot be a command's working directory, or empty if it can.
std::string UnusableDirectory(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::strerror(errno);
  if (!S_ISDIR(st.st_mode)) return "not a directory";
  if (::access(path.c_str(), X_OK) != 0) return std::strerror(errno);
  return {};
}

std::string NewId() {
  static boost::uuids::random_generator generate;
  return boost::uuids::to_string(generate());
}

}  // namespace

ProcessTable::ProcessTable(asio::any_io_executor ex, TableOptions options)
    : ex_(ex),
      options_(std::move(options)),
      instance_(NewId()),
      retention_(options_.retention, options_.max_done),
      sigchld_(ex, SIGCHLD),
      orphan_timer_(ex),
      forget_timer_(ex),
      trim_timer_(ex),
      scratch_(std::make_unique<char[]>(kReadChunk)),
      input_poll_timer_(ex),
      sync_timer_(ex),
      ending_timer_(ex) {
  if (auto ec = sys::BecomeChildSubreaper()) {
    base::LogWarning("cannot become child subreaper (" + ec.message() +
                     "): orphans of commands will be reaped by init, not by corral");
  }
  if (options_.use_cgroups) {
    std::string why;
    cgroups_ = sys::CgroupTree::Create(instance_, why);
    if (!cgroups_) {
      base::LogWarning("no cgroup v2 tracking (" + why +
                       "): a command's processes are found by process group and environment");
    }
  }
  if (options_.max_tasks_per_command > 0) {
    if (cgroups_ && cgroups_->pids_controller()) {
      task_limit_ = options_.max_tasks_per_command;
    } else {
      std::string why;
      pids_limit_ = sys::PidsLimit::Create(why);
      if (pids_limit_) {
        task_limit_ = options_.max_tasks_per_command;
      } else {
        base::LogWarning("no per-command process limit: " + why);
      }
    }
  }
  WatchSigchld();
}

ProcessTable::~ProcessTable() = default;

base::Result<std::string> ProcessTable::ResolveWorkdir(
    const std::optional<std::string>& requested) const {
  namespace fs = std::filesystem;
  std::string fallback;
  if (!options_.default_workdir.empty() && UnusableDirectory(options_.default_workdir).empty()) {
    fallback = options_.default_workdir;
  } else if (const char* home = std::getenv("HOME");
             home && *home && UnusableDirectory(home).empty()) {
    fallback = home;
  } else {
    std::error_code ec;
    fallback = fs::current_path(ec).string();
  }
  if (!requested) return fallback;

  fs::path path(*requested);
  if (path.is_relative()) path = fs::path(fallback) / path;
  std::string resolved = path.lexically_normal().string();
  if (resolved.size() > 1 && resolved.back() == '/') resolved.pop_back();
  if (std::string why = UnusableDirectory(resolved); !why.empty()) {
    return Status(Code::kInternal, "workdir \"" + *requested + "\": " + why);
  }
  return resolved;
}

std::vector<std::string> ProcessTable::BuildEnv(const StartSpec& spec,
                                                const std::string& id) const {
  Environment env = options_.base_env;
  if (options_.agent_env) {
    for (auto& [key, value] : AgentEnvironment(spec.stdin_mode == sys::StdinMode::kTty)) {
      env[key] = std::move(value);
    }
  }
  for (const auto& [key, value] : options_.hook_env) env[key] = value;
  for (const auto& [key, value] : spec.env) env[key] = value;
  env[std::string(kProcessIdVariable)] = id;
  env[std::string(kInstanceVariable)] = instance_;
  // Last, so that no request can pose as another chat.
  if (!spec.chat_id.empty()) env["CODER_CHAT_ID"] = spec.chat_id;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [key, value] : env) out.push_back(key + "=" + value);
  return out;
}

std::error_code ProcessTable::SpawnCommand(sys::SpawnSpec& spawn, const std::string& id,
                                           sys::SpawnedChild& child) {
  base::UniqueFd cgroup_dir, v1_procs;
  if (cgroups_) {
    if (auto ec = cgroups_->Make(id, cgroup_dir)) return ec;
    spawn.cgroup_dir = cgroup_dir.get();
    if (task_limit_ > 0 && cgroups_->pids_controller()) {
      if (auto ec = cgroups_->LimitTasks(id, task_limit_)) {
        cgroups_->Remove(id);
        return ec;
      }
    }
  }
  if (pids_limit_) {
    if (auto ec = pids_limit_->Prepare(id, task_limit_, v1_procs)) {
      if (cgroups_) cgroups_->Remove(id);
      return ec;
    }
    spawn.v1_procs = v1_procs.get();
  }
  auto ec = sys::Spawn(spawn, child);
  if (ec) {
    if (cgroups_) cgroups_->Remove(id);
    if (pids_limit_) pids_limit_->Remove(id);
  }
  return ec;
}

base::Result<std::shared_ptr<const Process>> ProcessTable::Start(const StartSpec& spec) {
  if (closing_) return Status(Code::kUnavailable, "server is closing");
  if (live_ >= options_.max_live) {
    return Status(Code::kResourceExhausted,
                  "the server runs at most " + std::to_string(options_.max_live) +
                      " commands at once (leftovers of finished ones count while they live); "
                      "wait for some to finish");
  }
  auto workdir = ResolveWorkdir(spec.workdir);
  if (!workdir.ok()) return workdir.status();

  std::string id = NewId();
  sys::SpawnSpec spawn{spec.command, *workdir, BuildEnv(spec, id)};
  spawn.nofile = options_.child_nofile;
  spawn.stdin_mode = spec.stdin_mode;
  TerminalEnds terminal;
  if (spec.stdin_mode == sys::StdinMode::kTty) {
    if (auto ec = OpenTerminal(spec.tty_size, terminal)) {
      return Status(Code::kInternal, "open a terminal: " + ec.message());
    }
    spawn.tty_slave = terminal.pty.slave.get();
  }
  sys::SpawnedChild child;
  if (auto ec = SpawnCommand(spawn, id, child)) {
    return Status(Code::kInternal, "spawn /bin/sh: " + ec.message());
  }

  auto p = std::make_shared<Process>(ex_, std::move(id), next_sequence_++);
  p->chat_id_ = spec.chat_id;
  p->command_ = spec.command;
  p->workdir_ = std::move(*workdir);
  p->background_ = spec.background;
  p->started_at_unix_ = base::UnixNow();
  p->pid_ = child.pid;
  p->has_cgroup_ = cgroups_ != nullptr;
  p->idempotency_key_ = spec.idempotency_key;
  p->request_digest_ = spec.request_digest;
  p->timeout_ = spec.timeout;
  p->tty_size_ = spec.tty_size;
  AdoptInput(*p, spec.stdin_mode, child, terminal);
  // Our unreaped child: its pid cannot have been reused yet.
  p->leader_start_time_ = sys::ProcessStartTime(child.pid).value_or(0);
  boost::system::error_code ec;
  p->pidfd_.assign(child.pidfd.get(), ec);
  if (!ec) child.pidfd.release();
  if (!ec) p->pipe_.assign(child.output.get(), ec);
  if (ec) {  // the reactor refused the descriptors: undo the spawn entirely
    const int pidfd = p->pidfd_.is_open() ? p->pidfd_.native_handle() : child.pidfd.get();
    sys::SignalPidfd(pidfd, SIGKILL);
    if (cgroups_) cgroups_->Kill(p->id_);
    sys::ReapExited(pidfd, true);
    if (cgroups_) cgroups_->Remove(p->id_);
    if (pids_limit_) pids_limit_->Remove(p->id_);
    return Status(Code::kInternal, "watch child: " + ec.message());
  }
  child.output.release();
  p->done_event_.expires_at(asio::steady_timer::time_point::max());
  p->output_event_.expires_at(asio::steady_timer::time_point::max());
  // Without this the timer is expired from the start: WaitInputState would complete at once,
  // and its callers (read?wait=idle, streams) would spin instead of waiting.
  p->state_event_.expires_at(asio::steady_timer::time_point::max());
  CreateSpool(*p);

  leaders_.insert(p->pid_);
  processes_.emplace(p->id_, p);
  ++generation_;
  ++live_;
  WatchExit(p);
  WatchOutput(p);
  ArmDeadline(p);
  JournalStart(*p);  // committed before the start is answered
  if (options_.on_start) options_.on_start(*p);
  return std::shared_ptr<const Process>(p);
}

std::shared_ptr<const Process> ProcessTable::Find(std::string_view id) const {
  auto it = processes_.find(std::string(id));
  return it == processes_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const Process>> ProcessTable::List(std::string_view chat_id) const {
  std::vector<std::shared_ptr<const Process>> out;
  for (const auto& [id, p] : processes_) {
    if (chat_id.empty() || p->chat_id_ == chat_id) out.push_back(p);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    if (a->running() != b->running()) return a->running();
    if (a->started_at_unix() != b->started_at_unix()) {
      return a->started_at_unix() > b->started_at_unix();
    }
    return a->sequence() > b->sequence();
  });
  return out;
}

void ProcessTable::CreateSpool(Process& p) {
  if (options_.spool_dir.empty()) return;
  auto spool = store::Spool::Create(options_.spool_dir, p.id_, options_.spool_max);
  if (!spool.ok()) {
    // The command runs all the same: its head+tail view and exit status do not need a spool.
    p.spool_error_ = spool.status().message();
    base::LogWarning("process " + p.id_ + ": no spool: " + p.spool_error_);
    return;
  }
  p.spool_ = std::move(*spool);
  p.spool_dir_ = options_.spool_dir;
  spool_disk_ += p.spool_->disk_bytes();
}

std::shared_ptr<void> ProcessTable::HoldWaiter() {
  ++*waiters_;
  return std::shared_ptr<void>(nullptr, [n = waiters_](void*) { --*n; });
}

asio::awaitable<void> ProcessTable::WaitDone(std::shared_ptr<const Process> process, bool counted) {
  if (!process->running()) co_return;
  auto count = counted ? HoldWaiter() : nullptr;
  // Our own entry, not the caller's const view: waiting on its event is the table's business.
  ProcessPtr p = processes_.at(process->id());
  co_await p->done_event_.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> ProcessTable::WaitOutput(std::shared_ptr<const Process> process,
                                               bool counted) {
  if (process->output_complete()) co_return;
  auto it = processes_.find(process->id());
  if (it == processes_.end() || it->second != process) co_return;
  auto count = counted ? HoldWaiter() : nullptr;
  ProcessPtr p = it->second;
  co_await p->output_event_.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace corral::proc
