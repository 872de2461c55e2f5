#include "proc/process_table.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <cstring>

#include "proc/signal_name.h"
#include "sys/child.h"
#include "sys/fault.h"

namespace corral::proc {
namespace {

std::size_t OpenFds() {
  std::size_t n = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(dir)) n += e->d_name[0] != '.';
  ::closedir(dir);
  return n - 1;  // not the directory's own descriptor
}

class ProcessTableTest : public ::testing::Test {
 protected:
  ProcessTableTest() : table_(ioc_.get_executor(), Options()) {}
  ~ProcessTableTest() override { sys::ClearFaults(); }

  static TableOptions Options() {
    TableOptions o;
    o.default_workdir = "/";
    o.base_env = {{"PATH", "/usr/bin:/bin"}};
    return o;
  }

  // Runs the loop until the process is done (at most 10 s).
  void RunUntilDone(const Process& p) {
    for (int i = 0; i < 1000 && p.running(); ++i) ioc_.run_one_for(std::chrono::milliseconds(10));
  }

  boost::asio::io_context ioc_{1};
  ProcessTable table_;
};

TEST_F(ProcessTableTest, EachSpawnFailureIsACleanErrorThatLeavesNothingBehind) {
  struct Case {
    sys::Call call;
    int error;
  };
  for (Case c : {Case{sys::Call::kSpawn, EAGAIN}, Case{sys::Call::kSpawn, ENOMEM},
                 Case{sys::Call::kSpawn, EMFILE}, Case{sys::Call::kPipe2, EMFILE},
                 Case{sys::Call::kPipe2, ENFILE}}) {
    SCOPED_TRACE(std::strerror(c.error));
    const std::size_t fds = OpenFds();
    const std::size_t entries = table_.size();
    sys::InjectFault(c.call, c.error);
    auto failed = table_.Start({.command = "echo never"});
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.status().code(), base::Code::kInternal);
    EXPECT_NE(failed.status().message().find(std::strerror(c.error)), std::string::npos)
        << failed.status().message();
    EXPECT_EQ(table_.size(), entries) << "no table entry";
    EXPECT_EQ(table_.live(), 0u);
    EXPECT_EQ(OpenFds(), fds) << "no descriptor";
    std::vector<pid_t> children;
    EXPECT_FALSE(sys::ListChildren(children));
    EXPECT_TRUE(children.empty()) << "no process (a child spawned before the failure is killed "
                                     "and reaped)";

    // And the table goes on: the next start works.
    auto ok = table_.Start({.command = "echo fine"});
    ASSERT_TRUE(ok.ok()) << ok.status().message();
    RunUntilDone(**ok);
    EXPECT_FALSE((*ok)->running());
    EXPECT_EQ((*ok)->output().head(), "fine\n");
  }
}

TEST_F(ProcessTableTest, TheLiveCapIsResourceExhausted) {
  TableOptions o = Options();
  o.max_live = 1;
  ProcessTable table(ioc_.get_executor(), o);
  auto first = table.Start({.command = "sleep 30"});
  ASSERT_TRUE(first.ok());
  auto second = table.Start({.command = "true"});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), base::Code::kResourceExhausted);
  EXPECT_TRUE(table.Signal(**first, SIGKILL).ok());
  RunUntilDone(**first);
  EXPECT_TRUE(table.Start({.command = "true"}).ok()) << "room again once it is done";
}

TEST_F(ProcessTableTest, TheCommandKnowsItsOwnId) {
  auto p = table_.Start({.command = "echo $CORRAL_PROCESS_ID"});
  ASSERT_TRUE(p.ok());
  RunUntilDone(**p);
  EXPECT_EQ((*p)->output().head(), (*p)->id() + "\n");
}

TEST_F(ProcessTableTest, TheDoneCapHoldsWhenProcessesFinishNotWhenATimerFires) {
  // Regression: the cap was enforced by the forget timer only, so a burst kept them all.
  std::vector<std::shared_ptr<const Process>> batch;
  for (int started = 0; started < 1100;) {
    batch.clear();
    for (int i = 0; i < 100; ++i, ++started) {
      auto p = table_.Start({.command = "true"});
      ASSERT_TRUE(p.ok()) << p.status().message();
      batch.push_back(*p);
    }
    for (const auto& p : batch) RunUntilDone(*p);
    EXPECT_LE(table_.size(), kMaxRetainedDone);
  }
  EXPECT_EQ(table_.size(), kMaxRetainedDone);
  EXPECT_EQ(table_.Find(batch.back()->id()), batch.back()) << "the newest are kept";
}

TEST_F(ProcessTableTest, LeftoversOfADoneCommandCountAgainstTheLiveCap) {
  TableOptions o = Options();
  o.max_live = 1;
  o.drain_grace = std::chrono::milliseconds(100);
  ProcessTable table(ioc_.get_executor(), o);
  auto first = table.Start({.command = "sleep 30 >/dev/null 2>&1 &"});
  ASSERT_TRUE(first.ok());
  RunUntilDone(**first);
  ASSERT_FALSE((*first)->running());
  auto refused = table.Start({.command = "true"});
  ASSERT_FALSE(refused.ok()) << "the leftover sleep still occupies the slot";
  EXPECT_EQ(refused.status().code(), base::Code::kResourceExhausted);
  ASSERT_TRUE(table.Signal(**first, SIGKILL).ok()) << "the leftover can be signalled";
  bool started = false;
  for (int i = 0; i < 500 && !started; ++i) {
    ioc_.run_one_for(std::chrono::milliseconds(10));
    started = table.live() == 0 && table.Start({.command = "true"}).ok();
  }
  EXPECT_TRUE(started) << "room again once the leftover is gone";
}

TEST_F(ProcessTableTest, ABackgroundJobOutlivesTheDrainGraceAndItsOutputStillArrives) {
  TableOptions o = Options();
  o.drain_grace = std::chrono::milliseconds(100);
  ProcessTable table(ioc_.get_executor(), o);
  const std::string marker = ::testing::TempDir() + "corral_marker_" + std::to_string(::getpid());
  ::unlink(marker.c_str());
  auto p = table.Start({.command = "(sleep 1; echo late; touch " + marker + ") &"});
  ASSERT_TRUE(p.ok());
  RunUntilDone(**p);
  ASSERT_FALSE((*p)->running()) << "done after the grace";
  for (int i = 0; i < 500 && ::access(marker.c_str(), F_OK) != 0; ++i) {
    ioc_.run_one_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(::access(marker.c_str(), F_OK), 0) << "the job was not killed by SIGPIPE";
  for (int i = 0; i < 100 && (*p)->output().head() != "late\n"; ++i) {
    ioc_.run_one_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ((*p)->output().head(), "late\n");
  ::unlink(marker.c_str());
}

TEST_F(ProcessTableTest, KillReachesAnEscapeeThatLeftGroupAndEnvironment) {
  if (table_.tracking() != "cgroup") GTEST_SKIP() << "no writable cgroup v2 hierarchy here";
  const std::string pidfile = ::testing::TempDir() + "corral_escapee_" + std::to_string(::getpid());
  ::unlink(pidfile.c_str());
  auto p = table_.Start({.command = "(env -i setsid sh -c 'echo $$ > " + pidfile +
                                    "; exec sleep 301' >/dev/null 2>&1 &); sleep 300"});
  ASSERT_TRUE(p.ok());
  pid_t escapee = 0;
  for (int i = 0; i < 500 && escapee == 0; ++i) {
    ioc_.run_one_for(std::chrono::milliseconds(10));
    if (FILE* f = std::fopen(pidfile.c_str(), "r")) {
      if (std::fscanf(f, "%d", &escapee) != 1) escapee = 0;
      std::fclose(f);
    }
  }
  ASSERT_GT(escapee, 0);
  ASSERT_NE(sys::ProcessGroupOf(escapee), -1);
  ASSERT_TRUE(table_.Signal(**p, SIGKILL).ok());
  RunUntilDone(**p);
  for (int i = 0; i < 200 && ::kill(escapee, 0) == 0; ++i) {
    ioc_.run_one_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(::kill(escapee, 0), 0) << "the escapee is gone (and reaped)";
  ::unlink(pidfile.c_str());
}

TEST(SignalName, NamesAndNumbers) {
  EXPECT_EQ(SignalName(SIGKILL), "SIGKILL");
  EXPECT_EQ(SignalName(SIGTERM), "SIGTERM");
  EXPECT_EQ(SignalName(SIGSEGV), "SIGSEGV");
}

}  // namespace
}  // namespace corral::proc
