// What the /proc probes behind `waiting_for_input` and `listening_ports` cost with 100 running
// commands, against their floor: reading /proc/PID/stat once for every process (the least any
// /proc probe of every process costs).
//
// Each command leads a group of three processes, as a shell running a job does: for the input
// probe `sh -c 'sleep 1000 & cat; true'` with a pipe on stdin (sh waits, sleep sleeps, cat reads
// the input); for the port probe a leader with a child listening on a TCP port and a child
// sleeping. The commands start once, before the first benchmark, and are killed at exit.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "sys/input_wait.h"
#include "sys/listening_ports.h"
#include "sys/proc_stat.h"

namespace {

using corral::base::UniqueFd;
namespace sys = corral::sys;

constexpr int kCommands = 100;
constexpr int kProcessesPerCommand = 3;

struct Command {
  pid_t pid = -1;
  UniqueFd stdin_write;  // for the input commands
  sys::FileIdentity input;
  std::vector<pid_t> tree;  // the candidates, as a caller would keep them between probes
};

pid_t StartShell(int stdin_read) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    ::dup2(stdin_read, 0);
    const int null_fd = ::open("/dev/null", O_WRONLY);
    ::dup2(null_fd, 1);
    ::dup2(null_fd, 2);
    ::execl("/bin/sh", "sh", "-c", "sleep 1000 & cat; true", nullptr);
    ::_exit(127);
  }
  return pid;
}

// A leader that forks a listener on an ephemeral loopback port and a sleeper, then sleeps.
pid_t StartListener() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    // Only what a small server holds: not the pipes of the other commands.
    ::close_range(3, ~0u, 0);
    if (::fork() == 0) {
      const int s = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::bind(s, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
          ::listen(s, 8) != 0) {
        ::_exit(1);
      }
      ::pause();
      ::_exit(0);
    }
    if (::fork() == 0) {
      ::pause();
      ::_exit(0);
    }
    ::pause();
    ::_exit(0);
  }
  return pid;
}

struct Commands {
  std::vector<Command> readers;
  std::vector<Command> listeners;

  Commands() {
    for (int i = 0; i < kCommands; ++i) {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) != 0) std::abort();
      Command c;
      c.stdin_write.reset(fds[1]);
      c.input = sys::IdentityOf(fds[1]).value();
      c.pid = StartShell(fds[0]);
      ::close(fds[0]);
      readers.push_back(std::move(c));
      Command l;
      l.pid = StartListener();
      listeners.push_back(std::move(l));
    }
    // Until every command has all its processes, and every reader waits (a bounded wait).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (auto* group : {&readers, &listeners}) {
      for (Command& c : *group) {
        while ((c.tree = sys::ProcessTree(c.pid)).size() < kProcessesPerCommand ||
               (group == &readers && !sys::WaitingForInput(c.tree, c.input)) ||
               (group == &listeners && sys::ListeningPorts(c.tree).empty())) {
          if (std::chrono::steady_clock::now() > deadline) std::abort();
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      }
    }
  }
  ~Commands() {
    for (auto* group : {&readers, &listeners}) {
      for (Command& c : *group) ::kill(-c.pid, SIGKILL);
      for (Command& c : *group) ::waitpid(c.pid, nullptr, 0);
    }
  }
};

Commands& Running() {
  static Commands commands;
  return commands;
}

// The floor: one read of /proc/PID/stat per process of every command.
void BM_StatEveryProcess(benchmark::State& state) {
  auto& commands = Running().readers;
  std::string scratch;
  for (auto _ : state) {
    for (const Command& c : commands) {
      for (pid_t pid : c.tree) benchmark::DoNotOptimize(sys::ReadProcStat(pid, scratch));
    }
  }
  state.counters["processes"] = kCommands * kProcessesPerCommand;
}
BENCHMARK(BM_StatEveryProcess)->Unit(benchmark::kMicrosecond);

// waiting_for_input of 100 commands, with their process trees kept from an earlier probe.
void BM_WaitingForInput(benchmark::State& state) {
  auto& commands = Running().readers;
  for (auto _ : state) {
    int waiting = 0;
    for (const Command& c : commands) waiting += sys::WaitingForInput(c.tree, c.input);
    if (waiting != kCommands) state.SkipWithError("a reader was not seen waiting");
  }
}
BENCHMARK(BM_WaitingForInput)->Unit(benchmark::kMicrosecond);

// The same with a probe kept open per process (InputWaitProbe), as a caller refreshing the
// value of its running commands would keep them.
void BM_WaitingForInputKeptProbes(benchmark::State& state) {
  auto& commands = Running().readers;
  std::vector<std::vector<sys::InputWaitProbe>> probes(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    for (pid_t pid : commands[i].tree) probes[i].emplace_back(pid);
  }
  for (auto _ : state) {
    int waiting = 0;
    for (std::size_t i = 0; i < commands.size(); ++i) {
      for (auto& probe : probes[i]) {
        if (probe.WaitsForInput(commands[i].input)) {
          ++waiting;
          break;
        }
      }
    }
    if (waiting != kCommands) state.SkipWithError("a reader was not seen waiting");
  }
}
BENCHMARK(BM_WaitingForInputKeptProbes)->Unit(benchmark::kMicrosecond);

// The same with each command's process tree read again first.
void BM_ProcessTreeAndWaitingForInput(benchmark::State& state) {
  auto& commands = Running().readers;
  for (auto _ : state) {
    for (const Command& c : commands) {
      benchmark::DoNotOptimize(sys::WaitingForInput(sys::ProcessTree(c.pid), c.input));
    }
  }
}
BENCHMARK(BM_ProcessTreeAndWaitingForInput)->Unit(benchmark::kMicrosecond);

// listening_ports of 100 commands that each listen on one port, from one snapshot of the
// listeners (a refresh of every command at once).
void BM_ListeningPorts(benchmark::State& state) {
  auto& commands = Running().listeners;
  for (auto _ : state) {
    sys::TcpListeners listeners;
    for (const Command& c : commands) {
      if (listeners.PortsOf(c.tree).size() != 1) state.SkipWithError("a port was missed");
    }
  }
}
BENCHMARK(BM_ListeningPorts)->Unit(benchmark::kMicrosecond);

// The same with a snapshot of the listeners per command (each command refreshed on its own).
void BM_ListeningPortsOneByOne(benchmark::State& state) {
  auto& commands = Running().listeners;
  for (auto _ : state) {
    for (const Command& c : commands) {
      if (sys::ListeningPorts(c.tree).size() != 1) state.SkipWithError("a port was missed");
    }
  }
}
BENCHMARK(BM_ListeningPortsOneByOne)->Unit(benchmark::kMicrosecond);

// listening_ports of 100 commands without sockets (a build, a test run): no table is read.
void BM_ListeningPortsWithoutSockets(benchmark::State& state) {
  auto& commands = Running().readers;
  for (auto _ : state) {
    for (const Command& c : commands) benchmark::DoNotOptimize(sys::ListeningPorts(c.tree));
  }
}
BENCHMARK(BM_ListeningPortsWithoutSockets)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
