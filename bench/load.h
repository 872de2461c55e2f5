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
  std::string kind = "stream";
  int concurrency = 1;
  int count = 1000;
  int waiters = 0;
  int samples = 200;
  int processes = 0;
  int pid = 0;
  int unrelated = 0;
  int followers = 0;
  int interval_ms = 50;
  double seconds = 5;
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
// {"p50", "p99"} of `ms`.
boost::json::object P50P99(const std::vector<double>& ms);
// Kilobytes from a /proc/PID/status field (VmRSS, VmHWM); -1 if not found.
long StatusKb(int pid, const std::string& field);
// utime + stime of pid, in clock ticks (sysconf(_SC_CLK_TCK) a second).
long CpuTicks(int pid);

// A client of `server` ("http://host:port"), or dies.
std::unique_ptr<client::HttpClient> Connect(const std::string& server);
// Starts `command` and returns its id, or dies.
std::string StartOrDie(client::CorralClient& api, const std::string& command);
// Waits until `id` is done and returns its last answer, or dies.
boost::json::object WaitDoneOrDie(client::CorralClient& api, const std::string& id);
// Sends `method target` and returns the 200 answer's body as JSON, or dies.
boost::json::object CallOrDie(client::HttpClient& http, std::string_view method,
                              const std::string& target);
// One field of GET /api/v0/health, or dies.
std::int64_t Health(client::HttpClient& http, const char* field);
// Waits (at most a minute) until the server counts at least `n` waiters, or dies.
void WaitForWaiters(client::HttpClient& http, std::int64_t n);
// A raw TCP connection to `server` holding `GET target` open (nothing is read from it).
int OpenHeldRequest(const std::string& server, const std::string& target);

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

// `n` connections to the server, opened up front (so that connecting is not part of what is
// timed), each used by one thread of RunConcurrently(n, ...) at a time.
class Connections {
 public:
  Connections(const std::string& server, int n);

  // A worker maker for RunConcurrently(n, ...): each thread gets a connection of its own, and
  // job i runs f(api, i) on it.
  template <typename F>
  auto Workers(F f) {
    next_ = 0;
    return [this, f] {
      client::CorralClient* api = clients_.at(next_++).api.get();
      return [api, f](int i) { f(*api, i); };
    };
  }

 private:
  struct Client {
    std::unique_ptr<client::HttpClient> http;
    std::unique_ptr<client::CorralClient> api;
  };
  std::vector<Client> clients_;
  std::atomic<int> next_{0};
};

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
// processes it remembers (`remembered` from /health, `listed` from /list?limit=1024).
// Prints {"rss_before_kb", "rss_after_kb", "rss_peak_kb", "remembered", "listed"}.
boost::json::object Retention(const LoadArgs& args);
// Mode `follow`: a command writing its CLOCK_REALTIME every `interval_ms` (`helper tick`),
// followed by `followers` clients. Kind `stream`: each holds GET /{id}/stream (HTTP/1.1, SSE);
// for `seconds` once all are attached, every line each follower receives is a sample of
// write → receipt latency. Kind `wait`: each holds GET /{id}/output?wait=true (the memory
// baseline; no latency). Prints {"latency_ms": {"p50", "p99"}, "samples", "rss_before_kb",
// "rss_attached_kb", "rss_peak_kb", "per_follower_kb"} (RSS: the server's anonymous RSS,
// `RssAnon`), and for streams
// "server_cpu_us_per_line" and "followers_cpu_us_per_line": the CPU time of the server and of
// corral_load while measuring, over the lines received.
boost::json::object Follow(const LoadArgs& args);
// Mode `input-wait`: a command (`helper prompt`, stdin "pipe") that stamps CLOCK_REALTIME then
// blocks reading its stdin, `samples` times: each cycle sends it a line (POST /input), after
// which it sleeps 20-39 ms, stamps and blocks again, while two clients wait on it: one in
// GET /{id}/read?wait=idle (which ends when it waits for input), one in ?wait=output (the floor:
// the stamp's bytes reaching a client). Each arrival less the stamp is a sample.
// Prints {"waiting_ms": {"p50", "p99"}, "output_ms": {"p50", "p99"}, "samples"}.
boost::json::object InputWait(const LoadArgs& args);
// Mode `interactive-list`: starts `processes` commands `command` with stdin "pipe", waits until
// `list` shows every one waiting for input, then times `samples` GET /list?limit=processes;
// then kills them all, waits until every one is done, and times `samples` lists of the same
// entries again, none running (no /proc read behind them).
// Prints {"running_list_ms": {"p50", "p99"}, "done_list_ms": {"p50", "p99"}}.
boost::json::object InteractiveList(const LoadArgs& args);

}  // namespace corral::bench
