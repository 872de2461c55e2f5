#include "proc/process_table.h"

#include <dirent.h>
#include <signal.h>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <cstring>

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
  for (Case c : {Case{sys::Call::kPosixSpawn, EAGAIN}, Case{sys::Call::kPosixSpawn, ENOMEM},
                 Case{sys::Call::kPosixSpawn, EMFILE}, Case{sys::Call::kPipe2, EMFILE},
                 Case{sys::Call::kPipe2, ENFILE}, Case{sys::Call::kPidfdOpen, ENOMEM}}) {
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
    EXPECT_TRUE(sys::ListChildren().empty()) << "no process (a child spawned before the "
                                                "failure is killed and reaped)";

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

}  // namespace
}  // namespace corral::proc
