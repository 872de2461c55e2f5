// A command's members and listening ports (ProcessTable::Members, PortScan), its run deadline,
// and waits on many, with cgroup tracking and without it (process groups, as where no cgroup v2
// hierarchy is writable).
#include "proc/process_ports.h"

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fstream>
#include <functional>

#include "sys/child.h"

namespace corral::proc {
namespace {

class ProcessPortsTest : public ::testing::TestWithParam<bool> {
 protected:
  ProcessPortsTest() : table_(ioc_.get_executor(), Options()) {}

  static TableOptions Options() {
    TableOptions o;
    o.default_workdir = "/";
    o.base_env = {{"PATH", "/usr/bin:/bin"}};
    o.use_cgroups = GetParam();
    return o;
  }

  // Runs the loop until `condition` holds (at most `limit`).
  bool RunUntil(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(15)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > end) return false;
      ioc_.run_one_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  // The pid a command wrote into `path`, once it did (0 if not within the limit).
  pid_t PidIn(const std::string& path) {
    pid_t pid = 0;
    RunUntil([&] {
      std::ifstream in(path);
      return static_cast<bool>(in >> pid);
    });
    return pid;
  }

  std::string TempDir() {
    char dir[] = "/tmp/corral-ports-XXXXXX";
    return ::mkdtemp(dir);
  }

  void TearDown() override {
    for (const auto& p : table_.List("")) {
      if (p->running()) (void)table_.Signal(*p, SIGKILL);
    }
    for (const auto& p : table_.List("")) RunUntil([&] { return !p->running(); });
  }

  boost::asio::io_context ioc_{1};
  ProcessTable table_;
};

INSTANTIATE_TEST_SUITE_P(Tracking, ProcessPortsTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Cgroup" : "ProcessGroup"; });

bool Contains(const std::vector<pid_t>& pids, pid_t pid) {
  return std::find(pids.begin(), pids.end(), pid) != pids.end();
}

TEST_P(ProcessPortsTest, MembersAreTheShellItsDescendantsAndItsOrphans) {
  const std::string dir = TempDir();
  // The inner shell exits at once: its `sleep` is handed to the server, still in the group.
  auto p = table_.Start({.command = "sh -c 'sleep 100 & echo $! > " + dir +
                                    "/orphan'; sleep 100 & echo $! > " + dir + "/child; wait"});
  ASSERT_TRUE(p.ok()) << p.status().message();
  const pid_t orphan = PidIn(dir + "/orphan"), child = PidIn(dir + "/child");
  ASSERT_GT(orphan, 0);
  ASSERT_GT(child, 0);
  std::vector<pid_t> members;
  EXPECT_TRUE(RunUntil([&] {
    members = table_.Members(**p);
    return Contains(members, orphan) && Contains(members, child);
  })) << "members: "
      << ::testing::PrintToString(members);
  EXPECT_TRUE(std::is_sorted(members.begin(), members.end()));
  EXPECT_FALSE(Contains(members, ::getpid()));

  ASSERT_TRUE(table_.Signal(**p, SIGKILL).ok());
  ASSERT_TRUE(RunUntil([&] { return !(*p)->running(); }));
  EXPECT_TRUE(table_.Members(**p).empty()) << "none once done";
}

TEST_P(ProcessPortsTest, FindsThePortAGrandchildListensOnAndNoneOnceDone) {
  auto p = table_.Start(
      {.command = "sh -c 'exec python3 -c \"import socket, time; s = socket.socket(); "
                  "s.bind((\\\"127.0.0.1\\\", 0)); s.listen(); print(s.getsockname()[1], "
                  "flush=True); time.sleep(100)\"' & wait"});
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_TRUE(RunUntil([&] { return (*p)->output().head().find('\n') != std::string::npos; }))
      << (*p)->output().head();
  const auto printed = static_cast<std::uint16_t>(std::stoi(std::string((*p)->output().head())));
  std::optional<Ports> ports;
  EXPECT_TRUE(RunUntil([&] {
    ports = PortScan(table_).ListeningPorts(**p);
    return ports && !ports->empty();
  }));
  ASSERT_TRUE(ports);
  EXPECT_EQ(*ports, Ports{printed});

  ASSERT_TRUE(table_.Signal(**p, SIGKILL).ok());
  ASSERT_TRUE(RunUntil([&] { return !(*p)->running(); }));
  EXPECT_FALSE(PortScan(table_).ListeningPorts(**p)) << "left out once done";
}

TEST_P(ProcessPortsTest, ACommandListeningOnNothingHasNoPorts) {
  auto p = table_.Start({.command = "sleep 100"});
  ASSERT_TRUE(p.ok());
  auto ports = PortScan(table_).ListeningPorts(**p);
  ASSERT_TRUE(ports);
  EXPECT_TRUE(ports->empty());
}

TEST_P(ProcessPortsTest, TheDeadlineKillsWhatIgnoresItsTerm) {
  auto p = table_.Start(
      {.command = "trap '' TERM; sleep 100", .timeout = std::chrono::milliseconds(1000)});
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(RunUntil([&] { return !(*p)->running(); }, std::chrono::seconds(20)));
  EXPECT_EQ((*p)->ended_by(), EndedBy::kDeadline);
  ASSERT_TRUE((*p)->exit_status());
  EXPECT_TRUE((*p)->exit_status()->signaled);
  EXPECT_EQ((*p)->exit_status()->signal, SIGKILL);
}

TEST_P(ProcessPortsTest, TheDeadlineLeavesACommandDoneBeforeIt) {
  auto p = table_.Start({.command = "exit 4", .timeout = std::chrono::milliseconds(200)});
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(RunUntil([&] { return !(*p)->running(); }));
  RunUntil([] { return false; }, std::chrono::milliseconds(400));  // past the deadline
  EXPECT_EQ((*p)->ended_by(), EndedBy::kExit);
  EXPECT_EQ((*p)->exit_status()->code, 4);
}

TEST_P(ProcessPortsTest, AWaitOnManyEndsWithTheFirstOrAllAndLeavesNothingPending) {
  using namespace boost::asio::experimental::awaitable_operators;
  namespace asio = boost::asio;
  auto slow = table_.Start({.command = "sleep 100"});
  auto fast = table_.Start({.command = "sleep 0.2"});
  ASSERT_TRUE(slow.ok() && fast.ok());
  // `any` of both ends with the fast one; `all` of both does not, and is cut by a timer.
  int which_any = -1, which_all = -1;
  // Built outside the coroutine: GCC 12 miscompiles an initializer list inside one.
  const std::vector<std::shared_ptr<const Process>> both = {*slow, *fast};
  const long slow_refs = slow->use_count();
  asio::co_spawn(
      ioc_,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(ioc_, std::chrono::seconds(10));
        auto any = co_await (table_.WaitDone(both, false) || timer.async_wait(asio::use_awaitable));
        which_any = static_cast<int>(any.index());
        EXPECT_EQ(table_.waiters(), 0u);
        timer.expires_after(std::chrono::milliseconds(100));
        auto all = co_await (table_.WaitDone(both, true) || timer.async_wait(asio::use_awaitable));
        which_all = static_cast<int>(all.index());
      },
      asio::detached);
  ASSERT_TRUE(RunUntil([&] { return which_all >= 0; }));
  EXPECT_EQ(which_any, 0) << "the fast one ended the wait";
  EXPECT_FALSE((*fast)->running());
  EXPECT_EQ(which_all, 1) << "the slow one still runs";
  for (int i = 0; i < 10; ++i) ioc_.poll();  // let the cancelled waits unwind
  EXPECT_EQ(slow->use_count(), slow_refs) << "no wait still holds the slow process";
  EXPECT_EQ(table_.waiters(), 0u);
}

}  // namespace
}  // namespace corral::proc
