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
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "client/corral_client.h"

extern char** environ;

namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using corral::client::CorralClient;
using corral::client::HttpClient;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::int64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "corral-load: %s\n", why.c_str());
  std::exit(1);
}

std::unique_ptr<HttpClient> Connect(const std::string& server) {
  auto endpoint = corral::client::ParseEndpoint(server);
  if (!endpoint.ok()) Die(endpoint.status().message());
  return std::make_unique<HttpClient>(corral::client::Destination{*endpoint, "", ""});
}

std::string StartOrDie(CorralClient& api, const std::string& command) {
  corral::client::StartArgs args;
  args.command = command;
  auto r = api.Start(args);
  if (!r.ok()) Die("start: " + r.status().message());
  return std::string(r->at("id").as_string());
}

// Kilobytes from a /proc/PID/status field (VmRSS, VmHWM).
long StatusKb(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// utime + stime of pid, in clock ticks.
long CpuTicks(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) {
      stime = std::stol(field);
      break;
    }
  }
  return utime + stime;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

// Runs `count` jobs on `concurrency` threads; returns jobs per second.
template <typename MakeWorker>
double Throughput(int concurrency, int count, MakeWorker make_worker) {
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      auto job = make_worker();
      while (next.fetch_add(1) < count) job();
    });
  }
  for (auto& t : threads) t.join();
  return count / Seconds(Clock::now() - t0);
}

void SpawnAndWait(const char* command) {
  pid_t pid;
  char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>(command),
                  nullptr};
  if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, environ) != 0) Die("posix_spawn");
  int status;
  waitpid(pid, &status, 0);
}

// A raw connection holding a `?wait=true` open.
int OpenWaiter(const std::string& host, int port, const std::string& id) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) Die("connect waiter");
  const std::string req =
      "GET /api/v0/processes/" + id + "/output?wait=true HTTP/1.1\r\nHost: localhost\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) Die("write waiter");
  return fd;
}

std::int64_t Health(CorralClient& api, HttpClient& http, const char* field) {
  (void)api;
  auto r = http.Send("GET", "/api/v0/health", {}, std::chrono::seconds(10));
  if (!r.ok()) Die("health: " + r.status().message());
  return json::parse(r->body).at(field).as_int64();
}

void WaitForWaiters(CorralClient& api, HttpClient& http, std::int64_t n) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Health(api, http, "waiters") < n) {
    if (Clock::now() > deadline) Die("waiters did not attach");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  CLI::App app("corral-load");
  app.require_subcommand(1);
  std::string server, helper, command;
  int concurrency = 1, count = 1000, waiters = 0, samples = 200, processes = 0, pid = 0;
  std::int64_t bytes = 0;
  for (auto* sub :
       {app.add_subcommand("spawn"), app.add_subcommand("start"), app.add_subcommand("latency"),
        app.add_subcommand("ingest"), app.add_subcommand("shell"), app.add_subcommand("scale"),
        app.add_subcommand("spawn-latency"), app.add_subcommand("loud")}) {
    sub->add_option("--server", server);
    sub->add_option("--helper", helper);
    sub->add_option("--command", command);
    sub->add_option("--concurrency", concurrency);
    sub->add_option("--count", count);
    sub->add_option("--waiters", waiters);
    sub->add_option("--samples", samples);
    sub->add_option("--processes", processes);
    sub->add_option("--pid", pid);
    sub->add_option("--bytes", bytes);
  }
  CLI11_PARSE(app, argc, argv);
  const std::string mode = app.get_subcommands().front()->get_name();
  json::object result{{"mode", mode}};

  if (mode == "spawn") {
    result["per_second"] =
        Throughput(concurrency, count, [] { return [] { SpawnAndWait("true"); }; });
  } else if (mode == "spawn-latency") {
    std::vector<double> to_running;
    const std::string cmd = "exec " + helper + " now";
    for (int i = 0; i < samples; ++i) {
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
    result["start_to_running_ms"] = {{"p50", Percentile(to_running, 0.5)},
                                     {"p99", Percentile(to_running, 0.99)}};
  } else if (mode == "shell") {
    const auto t0 = Clock::now();
    SpawnAndWait(command.c_str());
    result["seconds"] = Seconds(Clock::now() - t0);
  } else if (mode == "start") {
    result["per_second"] = Throughput(concurrency, count, [&] {
      auto http = std::shared_ptr<HttpClient>(Connect(server));
      auto api = std::make_shared<CorralClient>(*http);
      return [http, api] {
        const std::string id = StartOrDie(*api, "true");
        auto out = api->WaitOutput(id, std::nullopt);
        if (!out.ok() || out->at("running").as_bool()) Die("wait failed");
      };
    });
  } else if (mode == "latency") {
    auto http = Connect(server);
    CorralClient api(*http);
    // The idle waiters, all on one long sleep.
    const std::string sleeper = StartOrDie(api, "sleep 600");
    const std::size_t colon = server.rfind(':');
    const std::string host = server.substr(7, colon - 7);
    const int port = std::stoi(server.substr(colon + 1));
    std::vector<int> fds;
    for (int i = 0; i < waiters; ++i) fds.push_back(OpenWaiter(host, port, sleeper));
    WaitForWaiters(api, *http, waiters);
    std::vector<double> to_running, exit_to_answer;
    for (int i = 0; i < samples; ++i) {
      const std::int64_t sent = RealtimeNs();
      // The sleep lets the wait below attach before the command exits.
      const std::string id = StartOrDie(api, "sleep 0.02; exec " + helper + " now");
      auto out = api.WaitOutput(id, std::nullopt);
      const std::int64_t answered = RealtimeNs();
      if (!out.ok() || out->at("running").as_bool()) Die("latency wait failed");
      const std::int64_t child = std::stoll(std::string(out->at("output").as_string()));
      exit_to_answer.push_back((answered - child) / 1e6);
      // Start to running, without the sleep: a second start that execs the helper at once.
      const std::int64_t sent2 = RealtimeNs();
      const std::string id2 = StartOrDie(api, "exec " + helper + " now");
      auto out2 = api.WaitOutput(id2, std::nullopt);
      if (!out2.ok()) Die("latency wait failed");
      to_running.push_back((std::stoll(std::string(out2->at("output").as_string())) - sent2) / 1e6);
      (void)sent;
    }
    for (int fd : fds) close(fd);
    api.Signal(sleeper, "kill");
    result["start_to_running_ms"] = {{"p50", Percentile(to_running, 0.5)},
                                     {"p99", Percentile(to_running, 0.99)}};
    result["exit_to_answer_ms"] = {{"p50", Percentile(exit_to_answer, 0.5)},
                                   {"p99", Percentile(exit_to_answer, 0.99)}};
  } else if (mode == "ingest") {
    auto http = Connect(server);
    CorralClient api(*http);
    const long rss_before = StatusKb(pid, "VmRSS");
    std::atomic<bool> done{false};
    std::atomic<long> rss_peak{rss_before};
    std::thread sampler([&] {
      while (!done) {
        rss_peak = std::max(rss_peak.load(), StatusKb(pid, "VmRSS"));
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
    const auto t0 = Clock::now();
    const std::string id = StartOrDie(api, "head -c " + std::to_string(bytes) + " /dev/zero");
    auto out = api.WaitOutput(id, std::nullopt);
    const double seconds = Seconds(Clock::now() - t0);
    done = true;
    sampler.join();
    if (!out.ok()) Die("ingest wait failed");
    const auto original = out->at("truncated").at("original_bytes").to_number<std::int64_t>();
    if (original != bytes) Die("ingest lost bytes");
    result["seconds"] = seconds;
    result["bytes_per_second"] = bytes / seconds;
    result["rss_growth_kb"] = rss_peak - rss_before;
  } else if (mode == "loud") {
    auto http = Connect(server);
    CorralClient api(*http);
    std::vector<std::string> ids;
    for (int i = 0; i < processes; ++i) ids.push_back(StartOrDie(api, "exec cat /dev/zero"));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let them get going
    std::vector<double> ms;
    for (int i = 0; i < samples; ++i) {
      const auto t0 = Clock::now();
      if (!api.List().ok()) Die("list failed");
      ms.push_back(Seconds(Clock::now() - t0) * 1000);
    }
    for (const auto& id : ids) api.Signal(id, "kill");
    result["list_ms"] = {{"p50", Percentile(ms, 0.5)}, {"p99", Percentile(ms, 0.99)}};
  } else if (mode == "scale") {
    auto http = Connect(server);
    CorralClient api(*http);
    const long rss0 = StatusKb(pid, "VmRSS");
    std::vector<std::string> ids;
    for (int i = 0; i < processes; ++i) ids.push_back(StartOrDie(api, "exec sleep 600"));
    const long rss1 = StatusKb(pid, "VmRSS");
    const std::size_t colon = server.rfind(':');
    const std::string host = server.substr(7, colon - 7);
    const int port = std::stoi(server.substr(colon + 1));
    std::vector<int> fds;
    for (int i = 0; i < waiters; ++i) fds.push_back(OpenWaiter(host, port, ids[i % ids.size()]));
    WaitForWaiters(api, *http, waiters);
    const long rss2 = StatusKb(pid, "VmRSS");
    // Idle: nothing happens for a while; the server should not use the CPU at all.
    const long ticks0 = CpuTicks(pid);
    std::this_thread::sleep_for(std::chrono::seconds(5));
    const long ticks1 = CpuTicks(pid);
    result["rss_kb_before"] = rss0;
    result["per_process_kb"] = static_cast<double>(rss1 - rss0) / processes;
    result["per_waiter_kb"] = static_cast<double>(rss2 - rss1) / waiters;
    result["idle_cpu_ticks_5s"] = ticks1 - ticks0;
    result["ticks_per_second"] = sysconf(_SC_CLK_TCK);
    for (int fd : fds) close(fd);
    for (const auto& id : ids) api.Signal(id, "kill");
  }
  std::printf("%s\n", json::serialize(result).c_str());
  return 0;
}
