// corral-load: the load generator behind bench/run. Each subcommand measures one thing and
// prints one JSON object on stdout.
//
//   spawn    --concurrency N --count M            baseline: posix_spawn(sh -c true) + wait
//   spawn-latency --helper PATH --samples S       baseline: posix_spawn to the command running
//   start    --server URL --concurrency N --count M   POST /start of `true`, then wait for it
//   latency  --server URL --helper PATH --waiters W --samples S
//   ingest   --server URL --pid PID --bytes B     a command writing B bytes as fast as it can
//   shell    --command CMD                        baseline: wall time of sh -c CMD
//   scale    --server URL --pid PID --processes P --waiters W
//   loud     --server URL --processes P --samples S   GET /list latency while P commands write
//                                                     as fast as they can (P = 0: the baseline)
//   kill     --server URL --processes P --concurrency N   kill P `sleep 300` through the API
//   kill-raw --processes P                        baseline: kill(-pgid) of P groups + waitpid
//   signal   --server URL --helper PATH --samples S --unrelated U --env-bytes E
//                                                 `terminate` latency with U unrelated `sleep`s
//                                                 on the machine (U = 0: the baseline)
//   retention --server URL --pid PID --helper PATH --count M --concurrency N --bytes B
//                                                 server RSS after M commands printing B bytes
//   follow   --server URL --pid PID --helper PATH --followers F --kind stream|wait
//            --seconds S --interval-ms I          write → stream event latency, memory per
//                                                 follower (see load.h)
//   input-wait --server URL --helper PATH --samples S   command blocking on a read → a waiting
//                                                 client sees waiting_for_input (see load.h)
//   interactive-list --server URL --processes P --samples S --command CMD
//                                                 GET /list latency with P commands waiting
//                                                 for input, then with the same P done
//
// Modes that start processes outside Corral end them (and only them) on any way out.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>

#include "load.h"

extern char** environ;

namespace {

namespace json = boost::json;
using corral::bench::Clock;
using corral::bench::Die;
using corral::bench::LoadArgs;
using corral::bench::P50P99;
using corral::bench::Percentile;
using corral::bench::RealtimeNs;
using corral::bench::RunConcurrently;
using corral::bench::Seconds;
using corral::bench::StartOrDie;
using corral::bench::StatusKb;
using corral::bench::WaitDoneOrDie;
using corral::client::CorralClient;

void SpawnAndWait(const char* command) {
  pid_t pid;
  char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>(command),
                  nullptr};
  if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, environ) != 0) Die("posix_spawn");
  int status;
  waitpid(pid, &status, 0);
}

std::string WaitTarget(const std::string& id) {
  return "/api/v0/processes/" + id + "/output?wait=true";
}

json::object SpawnThroughput(const LoadArgs& a) {
  const double seconds =
      RunConcurrently(a.concurrency, a.count, [] { return [](int) { SpawnAndWait("true"); }; });
  return {{"per_second", a.count / seconds}};
}

json::object SpawnLatency(const LoadArgs& a) {
  std::vector<double> to_running;
  const std::string cmd = "exec " + a.helper + " now";
  for (int i = 0; i < a.samples; ++i) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) Die("pipe2");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"),
                    const_cast<char*>(cmd.c_str()), nullptr};
    const std::int64_t sent = RealtimeNs();
    pid_t child;
    if (posix_spawn(&child, "/bin/sh", &actions, nullptr, argv, environ) != 0) Die("spawn");
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    std::string text;
    char buf[64];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, n);
    close(fds[0]);
    waitpid(child, nullptr, 0);
    to_running.push_back((std::stoll(text) - sent) / 1e6);
  }
  return {{"start_to_running_ms", P50P99(to_running)}};
}

json::object Shell(const LoadArgs& a) {
  const auto t0 = Clock::now();
  SpawnAndWait(a.command.c_str());
  return {{"seconds", Seconds(Clock::now() - t0)}};
}

json::object StartThroughput(const LoadArgs& a) {
  const double seconds = RunConcurrently(a.concurrency, a.count, [&] {
    auto http = std::shared_ptr(corral::bench::Connect(a.server));
    auto api = std::make_shared<CorralClient>(*http);
    return [http, api](int) { WaitDoneOrDie(*api, StartOrDie(*api, "true")); };
  });
  return {{"per_second", a.count / seconds}};
}

json::object StartLatency(const LoadArgs& a) {
  auto http = corral::bench::Connect(a.server);
  CorralClient api(*http);
  // The idle waiters, all on one long sleep.
  const std::string sleeper = StartOrDie(api, "sleep 600");
  std::vector<int> fds;
  for (int i = 0; i < a.waiters; ++i) {
    fds.push_back(corral::bench::OpenHeldRequest(a.server, WaitTarget(sleeper)));
  }
  corral::bench::WaitForWaiters(*http, a.waiters);
  std::vector<double> to_running, exit_to_answer;
  for (int i = 0; i < a.samples; ++i) {
    // The sleep lets the wait below attach before the command exits.
    const std::string id = StartOrDie(api, "sleep 0.02; exec " + a.helper + " now");
    auto out = WaitDoneOrDie(api, id);
    const std::int64_t answered = RealtimeNs();
    const std::int64_t child = std::stoll(std::string(out.at("output").as_string()));
    exit_to_answer.push_back((answered - child) / 1e6);
    // Start to running, without the sleep: a second start that execs the helper at once.
    const std::int64_t sent = RealtimeNs();
    auto out2 = WaitDoneOrDie(api, StartOrDie(api, "exec " + a.helper + " now"));
    to_running.push_back((std::stoll(std::string(out2.at("output").as_string())) - sent) / 1e6);
  }
  for (int fd : fds) close(fd);
  (void)api.Signal(sleeper, "kill");  // the server ends it at exit anyway
  return {{"start_to_running_ms", P50P99(to_running)},
          {"exit_to_answer_ms", P50P99(exit_to_answer)}};
}

// The command goes through the spool (the server's state dir): checked at the end by a read of
// the last bytes, which only the spool can answer.
json::object Ingest(const LoadArgs& a) {
  auto http = corral::bench::Connect(a.server);
  CorralClient api(*http);
  const long rss_before = StatusKb(a.pid, "VmRSS");
  std::atomic<bool> done{false};
  std::atomic<long> rss_peak{rss_before};
  std::thread sampler([&] {
    while (!done) {
      rss_peak = std::max(rss_peak.load(), StatusKb(a.pid, "VmRSS"));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  const auto t0 = Clock::now();
  std::string id;
  json::object out;
  try {
    id = StartOrDie(api, "head -c " + std::to_string(a.bytes) + " /dev/zero");
    out = WaitDoneOrDie(api, id);
  } catch (...) {
    done = true;
    sampler.join();
    throw;
  }
  const double seconds = Seconds(Clock::now() - t0);
  done = true;
  sampler.join();
  if (out.at("truncated").at("original_bytes").to_number<std::int64_t>() != a.bytes) {
    Die("ingest lost bytes");
  }
  const std::int64_t last = std::max<std::int64_t>(0, a.bytes - 4096);
  auto tail = corral::bench::CallOrDie(
      *http, "GET", "/api/v0/processes/" + id + "/read?offset=" + std::to_string(last));
  if (tail.contains("spool_error")) Die("the spool failed: " + json::serialize(tail));
  if (tail.at("next_offset").to_number<std::int64_t>() != a.bytes || tail.contains("gap")) {
    Die("the spool does not end with the last bytes: " + json::serialize(tail));
  }
  return {{"seconds", seconds},
          {"bytes_per_second", a.bytes / seconds},
          {"rss_growth_kb", rss_peak - rss_before}};
}

json::object Loud(const LoadArgs& a) {
  auto http = corral::bench::Connect(a.server);
  CorralClient api(*http);
  std::vector<std::string> ids;
  for (int i = 0; i < a.processes; ++i) ids.push_back(StartOrDie(api, "exec cat /dev/zero"));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let them get going
  std::vector<double> ms;
  for (int i = 0; i < a.samples; ++i) {
    const auto t0 = Clock::now();
    if (!api.List().ok()) Die("list failed");
    ms.push_back(Seconds(Clock::now() - t0) * 1000);
  }
  for (const auto& id : ids) (void)api.Signal(id, "kill");  // the server ends them at exit anyway
  return {{"list_ms", P50P99(ms)}};
}

json::object Scale(const LoadArgs& a) {
  auto http = corral::bench::Connect(a.server);
  CorralClient api(*http);
  const long rss0 = StatusKb(a.pid, "VmRSS");
  std::vector<std::string> ids;
  for (int i = 0; i < a.processes; ++i) ids.push_back(StartOrDie(api, "exec sleep 600"));
  const long rss1 = StatusKb(a.pid, "VmRSS");
  std::vector<int> fds;
  for (int i = 0; i < a.waiters; ++i) {
    fds.push_back(corral::bench::OpenHeldRequest(a.server, WaitTarget(ids[i % ids.size()])));
  }
  corral::bench::WaitForWaiters(*http, a.waiters);
  const long rss2 = StatusKb(a.pid, "VmRSS");
  // Idle: nothing happens for a while; the server should not use the CPU at all.
  const long ticks0 = corral::bench::CpuTicks(a.pid);
  std::this_thread::sleep_for(std::chrono::seconds(5));
  const long ticks1 = corral::bench::CpuTicks(a.pid);
  for (int fd : fds) close(fd);
  for (const auto& id : ids) (void)api.Signal(id, "kill");  // the server ends them at exit anyway
  return {{"rss_kb_before", rss0},
          {"per_process_kb", static_cast<double>(rss1 - rss0) / a.processes},
          {"per_waiter_kb", static_cast<double>(rss2 - rss1) / a.waiters},
          {"idle_cpu_ticks_5s", ticks1 - ticks0},
          {"ticks_per_second", sysconf(_SC_CLK_TCK)}};
}

using Mode = json::object (*)(const LoadArgs&);

const std::vector<std::pair<std::string, Mode>>& Modes() {
  static const std::vector<std::pair<std::string, Mode>> modes = {
      {"spawn", SpawnThroughput},
      {"spawn-latency", SpawnLatency},
      {"shell", Shell},
      {"start", StartThroughput},
      {"latency", StartLatency},
      {"ingest", Ingest},
      {"loud", Loud},
      {"scale", Scale},
      {"kill", corral::bench::KillThroughApi},
      {"kill-raw", corral::bench::KillRaw},
      {"signal", corral::bench::SignalLatency},
      {"retention", corral::bench::Retention},
      {"follow", corral::bench::Follow},
      {"input-wait", corral::bench::InputWait},
      {"interactive-list", corral::bench::InteractiveList},
  };
  return modes;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  CLI::App app("corral-load");
  app.require_subcommand(1);
  LoadArgs a;
  for (const auto& [name, mode] : Modes()) {
    CLI::App* sub = app.add_subcommand(name);
    sub->add_option("--server", a.server);
    sub->add_option("--helper", a.helper);
    sub->add_option("--command", a.command);
    sub->add_option("--kind", a.kind)->check(CLI::IsMember({"stream", "wait"}));
    sub->add_option("--concurrency", a.concurrency);
    sub->add_option("--count", a.count);
    sub->add_option("--waiters", a.waiters);
    sub->add_option("--samples", a.samples);
    sub->add_option("--processes", a.processes);
    sub->add_option("--pid", a.pid);
    sub->add_option("--unrelated", a.unrelated);
    sub->add_option("--followers", a.followers);
    sub->add_option("--interval-ms", a.interval_ms);
    sub->add_option("--seconds", a.seconds);
    sub->add_option("--bytes", a.bytes);
    sub->add_option("--env-bytes", a.env_bytes);
  }
  CLI11_PARSE(app, argc, argv);
  const std::string name = app.get_subcommands().front()->get_name();
  for (const auto& [mode_name, mode] : Modes()) {
    if (mode_name != name) continue;
    try {
      json::object result = mode(a);
      result.emplace("mode", name);
      std::printf("%s\n", json::serialize(result).c_str());
      return 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "corral-load: %s\n", e.what());
      return 1;
    }
  }
  return 2;
}
