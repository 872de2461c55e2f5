#include "sys/listening_ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "sys/proc_stat.h"
#include "test_process.h"

namespace corral::sys {
namespace {

using namespace std::chrono_literals;

using testing::Eventually;
using testing::Pipe;
using testing::ReadUntilContains;
using testing::TestProcess;

using Ports = std::vector<std::uint16_t>;

// A python3 program whose stdout we read and whose stdin we write.
struct Python {
  Pipe in;
  Pipe out;
  std::unique_ptr<TestProcess> process;

  explicit Python(const std::string& program) {
    process = std::make_unique<TestProcess>(
        std::vector<std::string>{"python3", "-u", "-c", program},
        TestProcess::Options{.stdin_fd = in.read.get(), .stdout_fd = out.write.get()});
    in.read.reset();
    out.write.reset();
  }
  pid_t pid() const { return process->pid(); }
  // The numbers on the line that follows `tag ` in its output.
  Ports Numbers(const std::string& tag) {
    std::string text = ReadUntilContains(out.read.get(), "\n");
    Ports numbers;
    if (!text.starts_with(tag + " ")) return numbers;
    std::istringstream line(text.substr(tag.size() + 1));
    unsigned n;
    while (line >> n) numbers.push_back(static_cast<std::uint16_t>(n));
    return numbers;
  }
  void Say(std::string_view text) {
    ASSERT_EQ(::write(in.write.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
};

Ports ListeningPortsOf(std::span<const pid_t> pids) { return ListeningPorts(pids); }
Ports ListeningPortsOf(pid_t pid) { return ListeningPorts(std::span<const pid_t>(&pid, 1)); }

TEST(ListeningPorts, AnHttpServerOnPortZero) {
  Pipe out;
  TestProcess server({"python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"},
                     {.stdout_fd = out.write.get()});
  out.write.reset();
  const std::string banner = ReadUntilContains(out.read.get(), ") ...");
  unsigned port = 0;
  ASSERT_EQ(std::sscanf(banner.c_str(), "Serving HTTP on 127.0.0.1 port %u", &port), 1) << banner;
  EXPECT_EQ(ListeningPortsOf(server.pid()), Ports{static_cast<std::uint16_t>(port)});
}

TEST(ListeningPorts, IPv6AndIPv4Together) {
  Python python(
      "import socket, time\n"
      "a = socket.socket(socket.AF_INET6); a.bind(('::1', 0)); a.listen()\n"
      "b = socket.socket(); b.bind(('127.0.0.1', 0)); b.listen()\n"
      "print('ports', a.getsockname()[1], b.getsockname()[1])\n"
      "time.sleep(100)\n");
  Ports ports = python.Numbers("ports");
  ASSERT_EQ(ports.size(), 2u);
  std::sort(ports.begin(), ports.end());
  EXPECT_EQ(ListeningPortsOf(python.pid()), ports);
}

TEST(ListeningPorts, NoLongerOnceTheSocketIsClosed) {
  Python python(
      "import socket, sys, time\n"
      "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
      "print('port', s.getsockname()[1])\n"
      "sys.stdin.readline(); s.close()\n"
      "print('closed', 0)\n"
      "time.sleep(100)\n");
  const Ports port = python.Numbers("port");
  ASSERT_EQ(port.size(), 1u);
  EXPECT_EQ(ListeningPortsOf(python.pid()), port);
  python.Say("close\n");
  ASSERT_EQ(python.Numbers("closed"), Ports{0});
  EXPECT_EQ(ListeningPortsOf(python.pid()), Ports{});
}

TEST(ListeningPorts, NotForConnectedOrMerelyBoundSockets) {
  // A listener of ours, outside the set, for the command to connect to.
  base::UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener.get(), 8), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
  const unsigned port = ntohs(address.sin_port);
  Python python(
      "import socket, time\n"
      "c = socket.create_connection(('127.0.0.1', " +
      std::to_string(port) +
      "))\n"
      "b = socket.socket(); b.bind(('127.0.0.1', 0))\n"
      "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 0))\n"
      "print('local', c.getsockname()[1], b.getsockname()[1], u.getsockname()[1])\n"
      "time.sleep(100)\n");
  ASSERT_EQ(python.Numbers("local").size(), 3u);
  EXPECT_EQ(ListeningPortsOf(python.pid()), Ports{});
  // Our own listener is ours, not the command's; counted only when we are in the set.
  const pid_t us = ::getpid();
  EXPECT_EQ(ListeningPortsOf(us), Ports{static_cast<std::uint16_t>(port)});
}

TEST(ListeningPorts, AChildOfTheCommandCountsWhenInTheSet) {
  Pipe out;
  TestProcess shell({"sh", "-c",
                     "python3 -u -c \"import socket, time\n"
                     "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
                     "print('port', s.getsockname()[1])\n"
                     "time.sleep(100)\"; true"},
                    {.stdout_fd = out.write.get()});
  out.write.reset();
  unsigned port = 0;
  const std::string line = ReadUntilContains(out.read.get(), "\n");
  ASSERT_EQ(std::sscanf(line.c_str(), "port %u", &port), 1) << line;
  EXPECT_EQ(ListeningPortsOf(shell.pid()), Ports{});
  EXPECT_EQ(ListeningPortsOf(ProcessTree(shell.pid())), Ports{static_cast<std::uint16_t>(port)});
}

TEST(ListeningPorts, SortedWithoutDuplicatesWhenProcessesShareSockets) {
  Python python(
      "import os, socket, time\n"
      "socks = [socket.socket() for _ in range(3)]\n"
      "for s in socks: s.bind(('127.0.0.1', 0)); s.listen()\n"
      "if os.fork() == 0: time.sleep(100)\n"
      "print('ports', *[s.getsockname()[1] for s in socks])\n"
      "time.sleep(100)\n");
  Ports ports = python.Numbers("ports");
  ASSERT_EQ(ports.size(), 3u);
  std::sort(ports.begin(), ports.end());
  std::vector<pid_t> tree;
  ASSERT_TRUE(Eventually([&] { return (tree = ProcessTree(python.pid())).size() == 2; }));
  EXPECT_EQ(ListeningPortsOf(tree), ports);
}

TEST(ListeningPorts, InAnotherNetworkNamespace) {
  // Read from that namespace's /proc/PID/net tables, not from our netlink.
  Pipe out;
  TestProcess python({"unshare", "--net", "python3", "-u", "-c",
                      "import socket, time\n"
                      "s = socket.socket(); s.bind(('0.0.0.0', 0)); s.listen()\n"
                      "print('port', s.getsockname()[1])\n"
                      "time.sleep(100)\n"},
                     {.stdout_fd = out.write.get()});
  out.write.reset();
  const std::string line = ReadUntilContains(out.read.get(), "\n");
  if (line.empty() && WEXITSTATUS(python.Wait()) != 0) {
    GTEST_SKIP() << "no network namespace can be made here (unshare --net failed)";
  }
  unsigned port = 0;
  ASSERT_EQ(std::sscanf(line.c_str(), "port %u", &port), 1) << line;
  EXPECT_EQ(ListeningPortsOf(python.pid()), Ports{static_cast<std::uint16_t>(port)});
}

TEST(ListeningPorts, OneSnapshotServesManyCommands) {
  Python a(
      "import socket, time\n"
      "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
      "print('port', s.getsockname()[1])\n"
      "time.sleep(100)\n");
  Python b(
      "import socket, time\n"
      "s = socket.socket(socket.AF_INET6); s.bind(('::', 0)); s.listen()\n"
      "print('port', s.getsockname()[1])\n"
      "time.sleep(100)\n");
  const Ports port_a = a.Numbers("port");
  const Ports port_b = b.Numbers("port");
  TcpListeners listeners;
  const pid_t pid_a = a.pid(), pid_b = b.pid();
  EXPECT_EQ(listeners.PortsOf(std::span<const pid_t>(&pid_a, 1)), port_a);
  EXPECT_EQ(listeners.PortsOf(std::span<const pid_t>(&pid_b, 1)), port_b);
}

TEST(ListeningPorts, EmptyForNoSocketsAndForProcessesThatAreGone) {
  TestProcess sleeper({"sleep", "100"}, {});
  EXPECT_EQ(ListeningPortsOf(sleeper.pid()), Ports{});
  const pid_t gone[] = {0, -1, 999999999};
  EXPECT_EQ(ListeningPortsOf(gone), Ports{});
}

}  // namespace
}  // namespace corral::sys
