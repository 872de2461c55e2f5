#include "proc/process_table.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/uuid/uuid_generators.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <cstring>
#include <filesystem>

#include "base/log.h"
#include "sys/spawn.h"

namespace corral::proc {
namespace asio = boost::asio;
using base::Code;
using base::Status;

namespace {

// Pipes are read in chunks of this size...
constexpr std::size_t kReadChunk = 64 * 1024;
// ...and at most this much per wakeup, so one loud command cannot starve the rest.
constexpr std::size_t kReadBudget = 1024 * 1024;
// SIGCHLD can be missed while /proc is read; a late sweep after it catches those children.
constexpr std::chrono::seconds kOrphanSweepBackup{1};
// While shutting down, how often to check whether everything is gone.
constexpr std::chrono::milliseconds kShutdownPoll{20};
// After SIGKILL, how long shutdown waits for the rest before giving up on stragglers.
constexpr std::chrono::seconds kShutdownKillWait{5};

bool IsDirectory(const std::string& path, std::string& why) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    why = std::strerror(errno);
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    why = "not a directory";
    return false;
  }
  return true;
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
      sigchld_(ex, SIGCHLD),
      orphan_timer_(ex),
      forget_timer_(ex),
      scratch_(std::make_unique<char[]>(kReadChunk)) {
  if (auto ec = sys::BecomeChildSubreaper()) {
    base::LogWarning("cannot become child subreaper (" + ec.message() +
                     "): orphans of commands will be reaped by init, not by corral");
  }
  if (options_.max_tasks_per_command > 0) {
    std::string why;
    pids_limit_ = sys::PidsLimit::Create(why);
    if (!pids_limit_) base::LogWarning("no per-command process limit: " + why);
  }
  WatchSigchld();
}

ProcessTable::~ProcessTable() = default;

std::string ProcessTable::ResolveWorkdir(const std::optional<std::string>& requested,
                                         Status& error) {
  namespace fs = std::filesystem;
  std::string why;
  std::string fallback;
  if (!options_.default_workdir.empty() && IsDirectory(options_.default_workdir, why)) {
    fallback = options_.default_workdir;
  } else if (const char* home = std::getenv("HOME"); home && *home && IsDirectory(home, why)) {
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
  if (!IsDirectory(resolved, why)) {
    error = Status(Code::kInternal, "workdir \"" + *requested + "\": " + why);
    return {};
  }
  return resolved;
}

std::vector<std::string> ProcessTable::BuildEnv(const StartSpec& spec,
                                                const std::string& id) const {
  Environment env = options_.base_env;
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

base::Result<std::shared_ptr<const Process>> ProcessTable::Start(const StartSpec& spec) {
  if (closing_) return Status(Code::kUnavailable, "server is closing");
  if (live_ >= options_.max_live) {
    return Status(Code::kResourceExhausted, "the server runs at most " +
                                                std::to_string(options_.max_live) +
                                                " processes at once; wait for some to finish");
  }
  Status error;
  std::string workdir = ResolveWorkdir(spec.workdir, error);
  if (!error.ok()) return error;

  std::string id = NewId();
  sys::SpawnSpec spawn{spec.command, workdir, BuildEnv(spec, id)};
  sys::SpawnedChild child;
  auto do_spawn = [&] { return sys::Spawn(spawn, child); };
  if (auto ec = pids_limit_ ? pids_limit_->SpawnInto(id, options_.max_tasks_per_command, do_spawn)
                            : do_spawn()) {
    return Status(Code::kInternal, "spawn /bin/sh: " + ec.message());
  }

  auto p = std::make_shared<Process>(ex_, std::move(id), next_sequence_++);
  p->chat_id_ = spec.chat_id;
  p->command_ = spec.command;
  p->workdir_ = std::move(workdir);
  p->background_ = spec.background;
  p->started_at_unix_ = base::UnixNow();
  p->pid_ = child.pid;
  boost::system::error_code ec;
  p->pidfd_.assign(child.pidfd.get(), ec);
  if (!ec) child.pidfd.release();
  if (!ec) p->pipe_.assign(child.output.get(), ec);
  if (ec) {  // the reactor refused the descriptors: undo the spawn entirely
    sys::SignalGroup(child.pid, SIGKILL);
    sys::ReapExited(p->pidfd_.is_open() ? p->pidfd_.native_handle() : child.pidfd.get(), true);
    return Status(Code::kInternal, "watch child: " + ec.message());
  }
  child.output.release();
  p->done_event_.expires_at(asio::steady_timer::time_point::max());

  leaders_.insert(p->pid_);
  processes_.emplace(p->id_, p);
  ++generation_;
  ++live_;
  WatchExit(p);
  WatchOutput(p);
  if (options_.on_start) options_.on_start(*p);
  return std::shared_ptr<const Process>(p);
}

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
  if (p->pipe_eof_) {
    Finish(*p);
    return;
  }
  // Something (a background grandchild) may hold the pipe open forever: give it the drain
  // grace, then call the process done anyway.
  p->grace_.expires_after(options_.drain_grace);
  p->grace_.async_wait([this, p](boost::system::error_code ec) {
    if (ec || p->done_) return;
    DrainPipe(*p);
    Finish(*p);
  });
}

void ProcessTable::WatchOutput(ProcessPtr p) {
  p->pipe_.async_wait(asio::posix::descriptor_base::wait_read,
                      [this, p](boost::system::error_code ec) {
                        if (ec || p->done_) return;
                        if (DrainPipe(*p)) {
                          WatchOutput(p);
                          return;
                        }
                        p->pipe_eof_ = true;
                        p->pipe_.close();
                        if (p->exit_) {
                          p->grace_.cancel();
                          Finish(*p);
                        }
                      });
}

bool ProcessTable::DrainPipe(Process& p) {
  if (!p.pipe_.is_open()) return false;
  const int fd = p.pipe_.native_handle();
  for (std::size_t budget = kReadBudget; budget > 0;) {
    ssize_t n = ::read(fd, scratch_.get(), kReadChunk);
    if (n > 0) {
      p.output_.Append({scratch_.get(), static_cast<std::size_t>(n)});
      output_bytes_ += static_cast<std::uint64_t>(n);
      budget -= std::min(budget, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;  // end of file, or an error that ends the stream all the same
  }
  return true;
}

void ProcessTable::Finish(Process& p) {
  p.done_ = true;
  ++generation_;
  p.done_at_ = base::SteadyClock::now();
  sys::ReapExited(p.pidfd_.native_handle());
  leaders_.erase(p.pid_);
  boost::system::error_code ignored;
  p.pidfd_.close(ignored);
  p.pipe_.close(ignored);  // a grandchild still writing gets EPIPE from now on
  p.grace_.cancel();
  p.done_event_.cancel();
  --live_;
  if (pids_limit_) pids_limit_->Remove(p.id_);  // fails (and stays) while leftovers live
  ScheduleForget();
  if (options_.on_done) options_.on_done(p);
  // The shell's children, handed to us now, are reaped on the SIGCHLD of their own exit (one
  // that is a zombie already is announced by a SIGCHLD when it is reparented).
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

bool ProcessTable::GroupHasLeftovers(pid_t pgid) const {
  // Only our own unreaped children count: nobody else can reap them between this check and
  // the kill, so the pgid they pin cannot be reused by a stranger.
  for (pid_t child : sys::ListChildren()) {
    if (!leaders_.contains(child) && sys::ProcessGroupOf(child) == pgid) return true;
  }
  return false;
}

Status ProcessTable::Signal(const Process& process, int sig) {
  // Until Finish the shell is unreaped (alive, or a zombie we hold on to), which pins its pgid.
  const bool group_alive = !process.done_ || GroupHasLeftovers(process.pid_);
  if (group_alive) {
    if (auto ec = sys::SignalGroup(process.pid_, sig)) return Status(Code::kInternal, ec.message());
  }
  int escapees = SignalEscapees(process.id_, process.pid_, sig);
  // What stripped its environment but is still in the command's cgroup.
  if (pids_limit_) escapees += pids_limit_->Signal(process.id_, sig, process.pid_);
  if (!group_alive && escapees == 0) return Status(Code::kFailedPrecondition, "not running");
  return Status::Ok();
}

int ProcessTable::SignalEscapees(const std::string& id, pid_t pgid, int sig) {
  int signalled = 0;
  sys::ForEachWithEnvironment(kProcessIdVariable,
                              [&](pid_t pid, int pidfd, std::string_view value) {
                                // Members of the group got the group's signal already: once is
                                // enough.
                                if (value != id || sys::ProcessGroupOf(pid) == pgid) return;
                                if (!sys::SignalPidfd(pidfd, sig)) ++signalled;
                              });
  return signalled;
}

asio::awaitable<void> ProcessTable::WaitDone(std::shared_ptr<const Process> process) {
  if (!process->running()) co_return;
  struct Count {
    std::shared_ptr<std::size_t> n;
    explicit Count(std::shared_ptr<std::size_t> c) : n(std::move(c)) { ++*n; }
    ~Count() { --*n; }
  } count(waiters_);
  auto& p = const_cast<Process&>(*process);
  co_await p.done_event_.async_wait(asio::as_tuple(asio::use_awaitable));
}

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
    for (pid_t child : sys::ListChildren()) {
      if (leaders_.contains(child)) continue;
      if (sys::ReapIfExited(child)) {
        reaped = true;
      } else {
        others_alive = true;
      }
    }
  }
  if (others_alive && orphan_timer_.expiry() <= base::SteadyClock::now()) {
    orphan_timer_.expires_after(kOrphanSweepBackup);
    orphan_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) ReapOrphans();
    });
  }
}

void ProcessTable::ScheduleForget() {
  if (forget_timer_.expiry() > base::SteadyClock::now()) return;  // already armed
  auto earliest = base::SteadyClock::time_point::max();
  std::size_t done = 0;
  for (const auto& [id, p] : processes_) {
    if (!p->done_) continue;
    ++done;
    earliest = std::min(earliest, p->done_at_ + options_.retention);
  }
  if (done > kMaxRetainedDone) earliest = base::SteadyClock::now();
  if (earliest == base::SteadyClock::time_point::max()) return;
  forget_timer_.expires_at(earliest);
  forget_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) Forget();
  });
}

void ProcessTable::Forget() {
  ++generation_;
  const auto now = base::SteadyClock::now();
  std::vector<ProcessPtr> done;
  for (auto it = processes_.begin(); it != processes_.end();) {
    if (it->second->done_ && it->second->done_at_ + options_.retention <= now) {
      if (pids_limit_) pids_limit_->Remove(it->first);
      it = processes_.erase(it);
    } else {
      if (it->second->done_) done.push_back(it->second);
      ++it;
    }
  }
  if (done.size() > kMaxRetainedDone) {
    std::sort(done.begin(), done.end(),
              [](const auto& a, const auto& b) { return a->done_at_ < b->done_at_; });
    for (std::size_t i = 0; i < done.size() - kMaxRetainedDone; ++i) {
      if (pids_limit_) pids_limit_->Remove(done[i]->id_);
      processes_.erase(done[i]->id_);
    }
  }
  ScheduleForget();
}

void ProcessTable::SignalEverything(int sig) {
  for (const auto& [id, p] : processes_) {
    if (!p->done_) sys::SignalGroup(p->pid_, sig);
  }
  // Orphans and leftovers (including setsid daemons) that were handed to us: each is our
  // unreaped child, so signalling it by pid is safe.
  for (pid_t child : sys::ListChildren()) {
    if (!leaders_.contains(child)) sys::SignalChild(child, sig);
  }
  // And whatever descends from this run's commands but is neither (a setsid daemon whose parent
  // still lives): it carries our instance id.
  sys::ForEachWithEnvironment(kInstanceVariable, [&](pid_t, int pidfd, std::string_view value) {
    if (value == instance_) sys::SignalPidfd(pidfd, sig);
  });
}

asio::awaitable<void> ProcessTable::Shutdown() {
  closing_ = true;
  asio::steady_timer timer(ex_);
  auto settled = [this] {
    ReapOrphans();
    if (live_ != 0 || !sys::ListChildren().empty()) return false;
    bool tagged = false;  // a daemon of ours that is not our child (its parent still lives)
    sys::ForEachWithEnvironment(kInstanceVariable, [&](pid_t, int, std::string_view value) {
      tagged |= value == instance_;
    });
    return !tagged;
  };
  auto wait_until = [&](base::SteadyClock::time_point deadline,
                        int resend) -> asio::awaitable<bool> {
    while (!settled()) {
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
}

}  // namespace corral::proc
