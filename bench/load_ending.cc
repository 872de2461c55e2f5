// The modes of corral_load about how commands end and what the server keeps of them after:
// kill, kill-raw, signal and retention (contracts in load.h).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstring>

#include "load.h"

namespace corral::bench {
namespace {

namespace json = boost::json;
using client::CorralClient;
using client::HttpClient;

// Between starting sleeps and killing them: time for each shell to have become `sleep`, so
// both sides kill the same thing.
constexpr std::chrono::seconds kSettle{1};
// How long a command may take to say it is ready.
constexpr std::chrono::seconds kReadyDeadline{30};
// The size of each variable of a fat environment.
constexpr std::size_t kEnvVariableBytes = 1024;

// Spawns argv[0] (searched in PATH) with `env`, stdin and stdout/stderr on /dev/null (so no
// child holds our stdout, which bench/run reads to its end), in a new session if `setsid`.
pid_t SpawnQuiet(const std::vector<const char*>& argv, char* const* env, bool setsid) {
  const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) Die("open /dev/null");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int fd = 0; fd <= 2; ++fd) posix_spawn_file_actions_adddup2(&actions, null, fd);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (setsid) posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  std::vector<char*> args;
  for (const char* a : argv) args.push_back(const_cast<char*>(a));
  args.push_back(nullptr);
  pid_t pid;
  const int err = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), env);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  close(null);
  if (err != 0) Die(std::string("posix_spawn: ") + strerror(err));
  return pid;
}

// Polls the output of `id` until it contains `text`.
void WaitForOutput(CorralClient& api, const std::string& id, std::string_view text) {
  const auto deadline = Clock::now() + kReadyDeadline;
  for (;;) {
    auto out = api.Output(id);
    if (!out.ok()) Die("output: " + out.status().message());
    if (std::string_view(out->at("output").as_string()).find(text) != std::string_view::npos) {
      return;
    }
    if (!out->at("running").as_bool()) Die("the command ended before saying " + std::string(text));
    if (Clock::now() > deadline) Die("the command did not say " + std::string(text) + " in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

json::object KillThroughApi(const LoadArgs& a) {
  Connections connections(a.server, a.concurrency);
  std::vector<std::string> ids(a.processes);
  RunConcurrently(a.concurrency, a.processes, connections.Workers([&](CorralClient& api, int i) {
    ids[i] = StartOrDie(api, "sleep 300");
  }));
  std::this_thread::sleep_for(kSettle);
  auto send_kill = [&](CorralClient& api, int i) {
    auto r = api.Signal(ids[i], "kill");
    if (!r.ok()) Die("kill: " + r.status().message());
  };
  // Every command was sent its kill; now until the last one is done (those done already
  // answer at once).
  auto wait_done = [&](CorralClient& api, int i) { WaitDoneOrDie(api, ids[i]); };
  const double kill_seconds =
      RunConcurrently(a.concurrency, a.processes, connections.Workers(send_kill));
  const double wait_seconds =
      RunConcurrently(a.concurrency, a.processes, connections.Workers(wait_done));
  return {{"seconds", kill_seconds + wait_seconds}, {"kill_requests_seconds", kill_seconds}};
}

json::object KillRaw(const LoadArgs& a) {
  OwnChildren shells;
  for (int i = 0; i < a.processes; ++i) {
    shells.Add(SpawnQuiet({"sh", "-c", "sleep 300"}, environ, /*setsid=*/true), true);
  }
  std::this_thread::sleep_for(kSettle);
  const auto t0 = Clock::now();
  shells.KillAll();
  return {{"seconds", Seconds(Clock::now() - t0)}};
}

json::object SignalLatency(const LoadArgs& a) {
  // The unrelated processes: children of ours, in our process group (so bench/run can end
  // them with us whatever happens), each with a fat environment of its own.
  std::vector<std::string> variables;
  for (std::size_t size = 0; size < static_cast<std::size_t>(a.env_bytes);
       size += kEnvVariableBytes) {
    variables.push_back("CORRAL_BENCH_PAD" + std::to_string(variables.size()) + "=" +
                        std::string(kEnvVariableBytes, 'x'));
  }
  std::vector<char*> env;
  std::size_t env_bytes = 0;
  for (auto& v : variables) {
    env.push_back(v.data());
    env_bytes += v.size() + 1;
  }
  env.push_back(nullptr);
  OwnChildren unrelated;
  for (int i = 0; i < a.unrelated; ++i) {
    unrelated.Add(SpawnQuiet({"sleep", "300"}, env.data(), /*setsid=*/false), false);
  }

  auto http = Connect(a.server);
  CorralClient api(*http);
  const std::string id = StartOrDie(api, "exec " + a.helper + " ignore-term 300");
  // Only once it ignores SIGTERM: the first terminate would end it otherwise.
  WaitForOutput(api, id, "ready");
  std::vector<double> ms;
  for (int i = 0; i < a.samples; ++i) {
    const auto t0 = Clock::now();
    auto r = api.Signal(id, "terminate");
    ms.push_back(Seconds(Clock::now() - t0) * 1000);
    if (!r.ok()) Die("terminate: " + r.status().message());
  }
  auto out = api.Output(id);
  if (!out.ok() || !out->at("running").as_bool()) Die("the command did not keep running");
  (void)api.Signal(id, "kill");
  return {
      {"signal_ms", P50P99(ms)}, {"unrelated", unrelated.size()}, {"env_bytes_each", env_bytes}};
}

json::object Retention(const LoadArgs& a) {
  auto http = Connect(a.server);
  const long before = StatusKb(a.pid, "VmRSS");
  const std::string command = "exec " + a.helper + " print " + std::to_string(a.bytes);
  Connections connections(a.server, a.concurrency);
  RunConcurrently(a.concurrency, a.count, connections.Workers([&](CorralClient& api, int) {
    const json::object out = WaitDoneOrDie(api, StartOrDie(api, command));  // the one read
    if (out.at("exit_code").to_number<int>() != 0) Die("the command failed");
  }));
  const auto listed = CallOrDie(*http, "GET", "/api/v0/processes/list?limit=1024");
  return {{"rss_before_kb", before},
          {"rss_after_kb", StatusKb(a.pid, "VmRSS")},
          {"rss_peak_kb", StatusKb(a.pid, "VmHWM")},
          {"remembered", Health(*http, "processes")},
          {"listed", listed.at("processes").as_array().size()}};
}

}  // namespace corral::bench
