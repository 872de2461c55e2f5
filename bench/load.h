// What the modes of corral_load (bench/load.cc) share: their arguments, the measuring
// helpers, and the modes that live in files of their own.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "client/corral_client.h"

namespace corral::bench {

using Clock = std::chrono::steady_clock;

// Every option of every mode; each mode reads the ones it documents (see load.cc).
struct LoadArgs {
  std::string server;
  std::string helper;
  std::string command;
  int concurrency = 1;
  int count = 1000;
  int waiters = 0;
  int samples = 200;
  int processes = 0;
  int pid = 0;
  int unrelated = 0;
  std::int64_t bytes = 0;
  std::int64_t env_bytes = 0;
};

// A measurement that cannot go on; main prints `what()` (as for any std::exception, e.g. an
// answer without the expected field) and exits 1 after every destructor ran, so the
// processes a mode started are ended on this way out too.
struct LoadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
[[noreturn]] void Die(const std::string& why);

double Seconds(Clock::duration d);
std::int64_t RealtimeNs();
// The p-th percentile (0..1) of `v`, by nearest rank; 0 when empty.
double Percentile(std::vector<double> v, double p);
// Kilobytes from a /proc/PID/status field (VmRSS, VmHWM); -1 if not found.
long StatusKb(int pid, const std::string& field);

std::unique_ptr<client::HttpClient> Connect(const std::string& server);
// Starts `command` and returns its id, or dies.
std::string StartOrDie(client::CorralClient& api, const std::string& command);
// One field of GET /api/v0/health, or dies.
std::int64_t Health(client::HttpClient& http, const char* field);

// Runs jobs 0..count-1 on `concurrency` threads, each thread with its own worker (made by
// `make_worker()`, e.g. holding its own connection) called as worker(i). Returns the wall
// time from before the first thread starts to after the last one ends. The first exception of
// any thread stops the others from taking new jobs and is thrown again here.
template <typename MakeWorker>
double RunConcurrently(int concurrency, int count, MakeWorker make_worker) {
  std::atomic<int> next{0};
  std::exception_ptr failure;
  std::mutex failure_mu;
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      try {
        auto job = make_worker();
        for (int i; (i = next.fetch_add(1)) < count;) job(i);
      } catch (...) {
        std::lock_guard lock(failure_mu);
        if (!failure) failure = std::current_exception();
        next = count;
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = Seconds(Clock::now() - t0);
  if (failure) std::rethrow_exception(failure);
  return seconds;
}

// Processes corral_load started itself, outside Corral: each is sent SIGKILL (its whole
// process group for those that lead one) and reaped when this object goes, whichever way the
// mode ends. They are our children until reaped, so no pid here can name a stranger.
class OwnChildren {
 public:
  OwnChildren() = default;
  OwnChildren(const OwnChildren&) = delete;
  OwnChildren& operator=(const OwnChildren&) = delete;
  ~OwnChildren() { KillAll(); }

  void Add(pid_t pid, bool leads_group) { children_.push_back({pid, leads_group}); }
  std::size_t size() const { return children_.size(); }
  // SIGKILL to every child (to its group if it leads one), then waitpid for each.
  void KillAll();

 private:
  struct Child {
    pid_t pid;
    bool leads_group;
  };
  std::vector<Child> children_;
};

// Mode `kill`: starts `processes` `sleep 300` through the API, then times sending `kill` to
// every one (`concurrency` requests in flight) until every one is done.
// Prints {"seconds", "kill_requests_seconds"}.
boost::json::object KillThroughApi(const LoadArgs& args);
// Mode `kill-raw`, its baseline: the same `sleep 300` shells started here with posix_spawn,
// each in a session (and process group) of its own, then timed from kill(-pgid, SIGKILL) of
// every group to the last waitpid. Prints {"seconds"}.
boost::json::object KillRaw(const LoadArgs& args);
// Mode `signal`: the latency of `samples` `terminate` requests to a running command that
// ignores SIGTERM, while `unrelated` `sleep 300` started here (outside Corral, each with
// `env_bytes` of environment) sit on the machine. Prints {"signal_ms": {"p50", "p99"}}.
boost::json::object SignalLatency(const LoadArgs& args);
// Mode `retention`: `count` commands that each print `bytes` bytes (`helper print`), each read
// once with ?wait=true, `concurrency` at a time; then the server's (`pid`) memory and how many
// processes it remembers. Prints {"rss_before_kb", "rss_after_kb", "rss_peak_kb",
// "remembered"}.
boost::json::object Retention(const LoadArgs& args);

}  // namespace corral::bench
