// Hostile clients and hostile commands against the real binary. After each, the server still
// serves and holds no more descriptors than before.
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "harness.h"

namespace corral::testing {
namespace {

std::size_t FdCount(pid_t pid) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

class Hostile : public ::testing::Test {
 protected:
  void SetUp() override {
    // Warm up (the first request allocates what every later one reuses), then count.
    ASSERT_EQ(server_.Get("/api/v0/processes/list").status, 200);
    fds_before_ = FdCount(server_.pid());
  }
  // The server is healthy and back to the descriptors it had before the test.
  void ExpectRecovered() {
    EXPECT_EQ(server_.Get("/api/v0/processes/list").status, 200);
    EXPECT_TRUE(Eventually([&] { return FdCount(server_.pid()) <= fds_before_; }))
        << FdCount(server_.pid()) << " descriptors, " << fds_before_ << " before";
    EXPECT_EQ(server_.Get("/api/v0/health").json.at("waiters").as_int64(), 0);
  }
  // Room for every loud command's full spool (16 x 64 MiB would pass the default 1 GiB total,
  // which forgets the oldest done processes before the test reads them).
  Server server_{
      {.args = {"--request-timeout", "2s", "--max-connections", "256", "--spool-total", "4G"}}};
  std::size_t fds_before_ = 0;
};

TEST_F(Hostile, TenThousandIdleConnectionsDoNotLockOutAWellBehavedClient) {
  rlimit lim;
  ::getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < 10100) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 10100);
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  const int wanted = std::min<int>(10000, static_cast<int>(lim.rlim_cur) - 100);
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < wanted; ++i) {
    idle.push_back(std::make_unique<RawConnection>(server_.host(), server_.port()));
    if (idle.back()->fd() < 0) break;
    if (i % 1000 == 999) {
      // All the while, a client that asks for something gets it.
      EXPECT_EQ(server_.Get("/api/v0/processes/list").status, 200) << "after " << i + 1;
    }
  }
  EXPECT_GE(idle.size(), 5000u);
  EXPECT_LE(server_.Health().at("connections").as_int64(), 256);
  idle.clear();
  ExpectRecovered();
}

TEST_F(Hostile, AHundredMegabyteBodyIsRefusedWith413) {
  RawConnection c(server_.host(), server_.port());
  ASSERT_TRUE(
      c.Send("POST /api/v0/processes/start HTTP/1.1\r\nHost: localhost\r\nContent-Length: " +
             std::to_string(100 * 1024 * 1024) + "\r\n\r\n"));
  const std::string chunk(1024 * 1024, 'x');
  for (int i = 0; i < 100 && c.Send(chunk); ++i) {
  }
  EXPECT_EQ(c.ReadResponse(std::chrono::seconds(10)).status, 413);
  c.Close();
  ExpectRecovered();
}

TEST_F(Hostile, TenThousandHeadersAreRefusedWith431) {
  RawConnection c(server_.host(), server_.port());
  std::string req = "GET /api/v0/processes/list HTTP/1.1\r\nHost: localhost\r\n";
  for (int i = 0; i < 10000; ++i) req += "X-Header-" + std::to_string(i) + ": value\r\n";
  req += "\r\n";
  c.Send(req);
  EXPECT_EQ(c.ReadResponse(std::chrono::seconds(10)).status, 431);
  c.Close();
  ExpectRecovered();
}

TEST_F(Hostile, RandomBytesAreRefusedAndTheServerGoesOn) {
  std::mt19937 rng(1);
  for (int round = 0; round < 20; ++round) {
    RawConnection c(server_.host(), server_.port());
    std::string junk(1 + rng() % 100000, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    c.Send(junk);
    const HttpResult r = c.ReadResponse(std::chrono::seconds(5));
    EXPECT_TRUE(r.status == 0 || r.status == 400 || r.status == 431) << r.status;
  }
  ExpectRecovered();
}

TEST_F(Hostile, AClientThatNeverReadsItsResponsesIsDropped) {
  const std::string id = server_.Start(kHelper + " print 1000000");
  server_.WaitOutput(id);
  RawConnection c(server_.host(), server_.port());
  // Pipelined requests for 33 KB answers, never read: the server's writes block, then time out.
  const std::string req =
      "GET /api/v0/processes/" + id + "/output HTTP/1.1\r\nHost: localhost\r\n\r\n";
  std::string many;
  for (int i = 0; i < 2000; ++i) many += req;
  std::thread writer([&] { c.Send(many); });
  EXPECT_EQ(server_.Get("/api/v0/processes/list").status, 200) << "others are served meanwhile";
  EXPECT_TRUE(Eventually([&] { return server_.Health().at("connections").as_int64() <= 1; },
                         std::chrono::seconds(30)));
  ::shutdown(c.fd(), SHUT_RDWR);
  writer.join();
  c.Close();
  ExpectRecovered();
}

TEST_F(Hostile, DisconnectsInTheMiddleOfABodyOrAWaitLeaveNothingBehind) {
  for (int i = 0; i < 50; ++i) {
    RawConnection c(server_.host(), server_.port());
    c.Send(
        "POST /api/v0/processes/start HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
        "1000\r\n\r\n{\"comm");
  }
  const std::string id = server_.Start("sleep 60");
  for (int i = 0; i < 50; ++i) {
    RawConnection c(server_.host(), server_.port());
    c.Send("GET /api/v0/processes/" + id + "/output?wait=true HTTP/1.1\r\nHost: localhost\r\n\r\n");
  }
  EXPECT_EQ(server_.Get("/api/v0/processes/list").json.at("processes").as_array().size(), 1u)
      << "a cut-off start starts nothing";
  server_.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})");
  server_.WaitOutput(id);
  ExpectRecovered();
}

TEST_F(Hostile, ACommandThatClosesItsOutputAndKeepsRunningIsStillRunning) {
  const std::string id = server_.Start("exec >&- 2>&-; sleep 60");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(server_.Get("/api/v0/processes/" + id + "/output").json.at("running").as_bool())
      << "end of output is not the end of the process";
  ASSERT_EQ(server_.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})").status,
            200);
  EXPECT_EQ(server_.WaitOutput(id).at("exit_signal").as_string(), "SIGKILL");
  ExpectRecovered();
}

TEST_F(Hostile, ACommandIgnoringTerminateEndsWithKill) {
  const std::string id = server_.Start("exec " + kHelper + " ignore-term 300");
  ASSERT_TRUE(Eventually([&] {
    return server_.Get("/api/v0/processes/" + id + "/output").json.at("output") == "ready\n";
  }));
  server_.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"terminate"})");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(server_.Get("/api/v0/processes/" + id + "/output").json.at("running").as_bool());
  server_.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})");
  EXPECT_EQ(server_.WaitOutput(id).at("exit_signal").as_string(), "SIGKILL");
  ExpectRecovered();
}

TEST_F(Hostile, KillOnTheParentAlsoEndsASetsidDaemon) {
  const std::string pidfile = TempDir() + "/daemon";
  const std::string id =
      server_.Start("setsid " + kHelper + " pidfile " + pidfile + " 300 >/dev/null & wait");
  const pid_t daemon = ReadPid(pidfile);
  ASSERT_TRUE(Alive(daemon));
  ASSERT_EQ(::getpgid(daemon), daemon) << "it leads a group of its own: it left the command's";
  ASSERT_EQ(server_.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})").status,
            200);
  EXPECT_TRUE(Eventually([&] { return !Alive(daemon); })) << "the daemon escaped";
  server_.WaitOutput(id);
}

TEST_F(Hostile, ADaemonIgnoringTerminateIsKilledOnShutdown) {
  const std::string pidfile = TempDir() + "/daemon";
  server_.Start("trap '' TERM; setsid " + kHelper + " ignore-term 300 >/dev/null & echo $! > " +
                pidfile + "; sleep 300");
  const pid_t daemon = ReadPid(pidfile);
  ASSERT_TRUE(Eventually([&] { return Alive(daemon); }));
  const int status = server_.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(Alive(daemon));
}

TEST_F(Hostile, RunningOutOfDescriptorsIsSurvived) {
  // Lower the server's own descriptor limit to what it holds now, plus one: accept() then fails
  // with EMFILE, and so do spawns.
  rlimit before{}, tight{};
  ASSERT_EQ(::prlimit(server_.pid(), RLIMIT_NOFILE, nullptr, &before), 0);
  tight.rlim_cur = FdCount(server_.pid()) + 1;
  tight.rlim_max = before.rlim_max;
  ASSERT_EQ(::prlimit(server_.pid(), RLIMIT_NOFILE, &tight, nullptr), 0);

  std::vector<std::unique_ptr<RawConnection>> waiting;
  for (int i = 0; i < 5; ++i) {
    waiting.push_back(std::make_unique<RawConnection>(server_.host(), server_.port()));
    waiting.back()->Send("GET /api/v0/processes/list HTTP/1.1\r\nHost: localhost\r\n\r\n");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  // Restore the limit: the connections that waited in the backlog are served now.
  ASSERT_EQ(::prlimit(server_.pid(), RLIMIT_NOFILE, &before, nullptr), 0);
  int served = 0;
  for (auto& c : waiting) served += c->ReadResponse(std::chrono::seconds(10)).status == 200;
  EXPECT_GE(served, 4) << "at most the one accepted at the limit may have been dropped";
  EXPECT_NE(server_.Log().find("accept"), std::string::npos) << "EMFILE was hit and logged";
  waiting.clear();
  ExpectRecovered();
}

TEST_F(Hostile, SixteenLoudCommandsDoNotStopTheApi) {
  std::vector<std::string> ids;
  for (int i = 0; i < 16; ++i) ids.push_back(server_.Start("head -c 200000000 /dev/zero"));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(server_.Get("/api/v0/processes/list").status, 200);
  for (const auto& id : ids) {
    EXPECT_EQ(server_.WaitOutput(id).at("truncated").at("original_bytes").as_int64(), 200000000);
  }
  ExpectRecovered();
}

TEST(HostileCommands, AForkBombIsContainedByItsProcessLimitAndKillEndsIt) {
  Server server({.args = {"--max-tasks-per-command", "64"}});
  if (server.Health().at("max_tasks_per_command").as_int64() == 0) {
    GTEST_SKIP() << "no cgroup v1 pids controller here: " << server.Log();
  }
  // Each instance forks two more, then stays (in sleep): the population grows until forks fail,
  // then holds (an instance whose fork failed exits, as sh does on that error).
  const std::string id = server.Start("b(){ b & b & sleep 1000; }; b");
  // The cgroup the server made for it, next to the server's own.
  std::ifstream own("/proc/" + std::to_string(server.pid()) + "/cgroup");
  std::string line, path;
  while (std::getline(own, line)) {
    if (line.find(":pids:") != std::string::npos) path = line.substr(line.rfind(':') + 1);
  }
  const std::string dir = "/sys/fs/cgroup/pids" + (path == "/" ? "" : path) + "/corral-" +
                          std::to_string(server.pid()) + "/" + id;
  auto current = [&] {
    std::ifstream in(dir + "/pids.current");
    long n = -1;
    in >> n;
    return n;
  };
  long peak = 0;
  for (int i = 0; i < 100; ++i) {  // two seconds of it
    peak = std::max(peak, current());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GT(peak, 8) << "the bomb ran";
  EXPECT_LE(peak, 64) << "and stopped at the limit";
  EXPECT_EQ(server.Get("/api/v0/processes/list").status, 200) << "the server is unharmed";
  EXPECT_EQ(server.WaitOutput(server.Start("echo alive")).at("output").as_string(), "alive\n")
      << "and other commands still start";
  ASSERT_EQ(server.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})").status, 200);
  EXPECT_TRUE(Eventually([&] { return current() <= 0; })) << current() << " left";
}

}  // namespace
}  // namespace corral::testing
