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
#include "load.h"

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
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

extern char** environ;

namespace corral::bench {

void Die(const std::string& why) { throw LoadError(why); }

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::int64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

long StatusKb(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

std::unique_ptr<client::HttpClient> Connect(const std::string& server) {
  auto endpoint = client::ParseEndpoint(server);
  if (!endpoint.ok()) Die(endpoint.status().message());
  return std::make_unique<client::HttpClient>(*endpoint, "", "");
}

std::string StartOrDie(client::CorralClient& api, const std::string& command) {
  client::StartArgs args;
  args.command = command;
  auto r = api.Start(args);
  if (!r.ok()) Die("start: " + r.status().message());
  return std::string(r->at("id").as_string());
}

std::int64_t Health(client::HttpClient& http, const char* field) {
  auto r = http.Send("GET", "/api/v0/health");
  if (!r.ok()) Die("health: " + r.status().message());
  return boost::json::parse(r->body).at(field).as_int64();
}

void OwnChildren::KillAll() {
  for (const Child& c : children_) kill(c.leads_group ? -c.pid : c.pid, SIGKILL);
  for (const Child& c : children_) waitpid(c.pid, nullptr, 0);
  children_.clear();
}

}  // namespace corral::bench

namespace {

namespace json = boost::json;
using corral::bench::Clock;
using corral::bench::Connect;
using corral::bench::Die;
using corral::bench::Percentile;
using corral::bench::RealtimeNs;
using corral::bench::RunConcurrently;
using corral::bench::Seconds;
using corral::bench::StartOrDie;
using corral::bench::StatusKb;
using corral::client::CorralClient;
using corral::client::HttpClient;

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
      "GET /api/v0/processes/" + id + "/output?wait=true HTTP/1.1\r\nHost: x\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) Die("write waiter");
  return fd;
}

void WaitForWaiters(HttpClient& http, std::int64_t n) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (corral::bench::Health(http, "waiters") < n) {
    if (Clock::now() > deadline) Die("waiters did not attach");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

json::object RunMode(const std::string& mode, const corral::bench::LoadArgs& a) {
  const std::string& server = a.server;
  const std::string& helper = a.helper;
  const std::string& command = a.command;
  const int concurrency = a.concurrency, count = a.count, waiters = a.waiters;
  const int samples = a.samples, processes = a.processes, pid = a.pid;
  const std::int64_t bytes = a.bytes;
  json::object result;
  if (mode == "spawn") {
    result["per_second"] = count / RunConcurrently(concurrency, count, [] {
                             return [](int) { SpawnAndWait("true"); };
                           });
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
    result["per_second"] = count / RunConcurrently(concurrency, count, [&] {
                             auto http = std::shared_ptr<HttpClient>(Connect(server));
                             auto api = std::make_shared<CorralClient>(*http);
                             return [http, api](int) {
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
    WaitForWaiters(*http, waiters);
    std::vector<double> to_running, exit_to_answer;
    for (int i = 0; i < samples; ++i) {
      const std::int64_t sent = RealtimeNs();
      // The sleep lets the wait below attach before the command exits.
      const std::string id = StartOrDie(api, "sleep 0.02; exec " + helper + " now");
      auto out = api.Output(id, true);
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
    (void)api.Signal(sleeper, "kill");
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
    for (const auto& id : ids) (void)api.Signal(id, "kill");
    result["list_ms"] = {{"p50", Percentile(ms, 0.5)}, {"p99", Percentile(ms, 0.99)}};
  } else if (mode == "kill") {
    result = corral::bench::KillThroughApi(a);
  } else if (mode == "kill-raw") {
    result = corral::bench::KillRaw(a);
  } else if (mode == "signal") {
    result = corral::bench::SignalLatency(a);
  } else if (mode == "retention") {
    result = corral::bench::Retention(a);
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
    WaitForWaiters(*http, waiters);
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
    for (const auto& id : ids) (void)api.Signal(id, "kill");
  }
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  CLI::App app("corral-load");
  app.require_subcommand(1);
  corral::bench::LoadArgs a;
  for (const char* name : {"spawn", "start", "latency", "ingest", "shell", "scale", "spawn-latency",
                           "loud", "kill", "kill-raw", "signal", "retention"}) {
    CLI::App* sub = app.add_subcommand(name);
    sub->add_option("--server", a.server);
    sub->add_option("--helper", a.helper);
    sub->add_option("--command", a.command);
    sub->add_option("--concurrency", a.concurrency);
    sub->add_option("--count", a.count);
    sub->add_option("--waiters", a.waiters);
    sub->add_option("--samples", a.samples);
    sub->add_option("--processes", a.processes);
    sub->add_option("--pid", a.pid);
    sub->add_option("--unrelated", a.unrelated);
    sub->add_option("--bytes", a.bytes);
    sub->add_option("--env-bytes", a.env_bytes);
  }
  CLI11_PARSE(app, argc, argv);
  const std::string mode = app.get_subcommands().front()->get_name();
  try {
    json::object result = RunMode(mode, a);
    result.emplace("mode", mode);
    std::printf("%s\n", json::serialize(result).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "corral-load: %s\n", e.what());
    return 1;
  }
  return 0;
}
