// The server around the table: waiting, disconnects, shutdown, auth, sockets and bounds.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "harness.h"

namespace corral::testing {
namespace {

TEST(Server, WaitReturnsAsSoonAsTheProcessIsDone) {
  Server server;
  const std::string id = server.Start("sleep 0.3; echo done");
  auto r = server.Get("/api/v0/processes/" + id + "/output?wait=true");
  ASSERT_EQ(r.status, 200);
  EXPECT_FALSE(r.json.at("running").as_bool());
  EXPECT_EQ(r.json.at("output").as_string(), "done\n");
  EXPECT_EQ(r.json.at("exit_code").as_int64(), 0);
}

TEST(Server, AClientThatDisconnectsDuringAWaitFreesItsWaiter) {
  Server server;
  const std::string id = server.Start("sleep 120");
  EXPECT_EQ(server.Health().at("waiters").as_int64(), 0);
  {
    RawConnection waiting(server.host(), server.port());
    ASSERT_TRUE(waiting.Send("GET /api/v0/processes/" + id +
                             "/output?wait=true HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    ASSERT_TRUE(Eventually([&] { return server.Health().at("waiters").as_int64() == 1; }));
  }
  EXPECT_TRUE(Eventually([&] { return server.Health().at("waiters").as_int64() == 0; }));
  EXPECT_TRUE(server.Get("/api/v0/processes/" + id + "/output").json.at("running").as_bool())
      << "a disconnect neither kills nor forgets the process";
}

TEST(Server, ManyWaitersAllWakeWhenTheProcessEnds) {
  Server server;
  const std::string id = server.Start("sleep 60");
  std::vector<std::unique_ptr<RawConnection>> waiters;
  for (int i = 0; i < 20; ++i) {
    waiters.push_back(std::make_unique<RawConnection>(server.host(), server.port()));
    ASSERT_TRUE(waiters.back()->Send("GET /api/v0/processes/" + id +
                                     "/output?wait=true HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  }
  ASSERT_TRUE(Eventually([&] { return server.Health().at("waiters").as_int64() == 20; }));
  server.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})");
  for (auto& w : waiters) {
    HttpResult r = w->ReadResponse();
    EXPECT_EQ(r.status, 200);
    EXPECT_FALSE(r.json.at("running").as_bool());
  }
  EXPECT_EQ(server.Health().at("waiters").as_int64(), 0);
}

TEST(Server, SigtermEndsEveryProcessGroupAndExitsZero) {
  const std::string dir = TempDir();
  Server server({.args = {"--shutdown-grace", "1s"}});
  server.Start(kHelper + " pidfile " + dir + "/a 300 & wait");
  server.Start(kHelper + " ignore-term 300 & " + kHelper + " pidfile " + dir + "/b 300");
  // A daemon that left the group with setsid: the subreaper still brings it home.
  server.Start("setsid " + kHelper + " pidfile " + dir + "/c 300 & sleep 300");
  const pid_t a = ReadPid(dir + "/a"), b = ReadPid(dir + "/b"), c = ReadPid(dir + "/c");
  ASSERT_TRUE(Alive(a) && Alive(b) && Alive(c));
  const pid_t server_pid = server.pid();
  const int status = server.Stop();
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(Alive(a));
  EXPECT_FALSE(Alive(b));
  EXPECT_FALSE(Alive(c));
  EXPECT_FALSE(Alive(server_pid));
}

TEST(Server, StartsAreRefusedWhileClosing) {
  Server server({.args = {"--shutdown-grace", "2s"}});
  // Only once the shell ignores TERM: a shell still starting would die of it at once, the
  // server would settle and exit, and no start would ever meet it closing.
  const std::string id = server.Start("trap '' TERM; echo ready; sleep 300");
  ASSERT_TRUE(Eventually([&] {
    return server.Get("/api/v0/processes/" + id + "/output").json.at("output") == "ready\n";
  }));
  ::kill(server.pid(), SIGTERM);
  HttpResult r;
  ASSERT_TRUE(Eventually([&] {
    r = server.Post("/api/v0/processes/start", R"({"command":"true"})");
    return r.status == 500;
  }));
  EXPECT_EQ(r.json.at("message").as_string(), "Failed to start process.");
  EXPECT_EQ(r.json.at("detail").as_string(), "server is closing");
}

TEST(Server, TcpNeedsTheBearerToken) {
  const std::string dir = TempDir();
  {
    std::ofstream f(dir + "/token");
    f << "s3cret-token\n";
  }
  Server server(
      {.args = {"--listen", "127.0.0.1:0", "--token-file", dir + "/token"}, .tcp_no_auth = false});
  auto list = [&](std::map<std::string, std::string> h, const std::string& query = "") {
    return server.Get("/api/v0/processes/list" + query, h);
  };
  HttpResult r = list({});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.json.at("message").as_string(), "Unauthorized.");
  EXPECT_EQ(r.headers["www-authenticate"], "Bearer");
  EXPECT_EQ(list({{"Authorization", "Bearer wrong-token!"}}).status, 401);
  EXPECT_EQ(list({{"Authorization", "Bearer s3cret"}}).status, 401) << "a prefix is not enough";
  EXPECT_EQ(list({{"Authorization", "Bearer s3cret-token-and-more"}}).status, 401);
  EXPECT_EQ(list({{"Authorization", "Basic s3cret-token"}}).status, 401);
  EXPECT_EQ(list({}, "?token=s3cret-token").status, 401) << "no tokens in URLs";
  EXPECT_EQ(list({}, "?access_token=s3cret-token").status, 401);
  EXPECT_EQ(list({{"Authorization", "Bearer s3cret-token"}}).status, 200);
  EXPECT_EQ(list({{"Authorization", "bearer s3cret-token"}}).status, 200);
  EXPECT_EQ(server.Log().find("s3cret-token"), std::string::npos) << "the token is never logged";
}

TEST(Server, AGeneratedTokenIsWrittenPrivatelyNextToTheSocket) {
  const std::string runtime = TempDir();
  Server server({.args = {"--listen", "127.0.0.1:0"},
                 .env = {{"XDG_RUNTIME_DIR", runtime}},
                 .tcp_no_auth = false});
  struct stat st;
  ASSERT_EQ(::stat((runtime + "/corral.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(runtime + "/corral.token");
  std::string token;
  in >> token;
  EXPECT_EQ(token.size(), 64u);
  EXPECT_EQ(server.Get("/api/v0/processes/list", {{"Authorization", "Bearer " + token}}).status,
            200);
  EXPECT_EQ(server.Log().find(token), std::string::npos);
}

TEST(Server, TheDefaultUnixSocketIsPrivateAndNeedsNoToken) {
  const std::string runtime = TempDir();
  Server server({.env = {{"XDG_RUNTIME_DIR", runtime}}, .tcp_no_auth = false});
  const std::string path = runtime + "/corral.sock";
  ASSERT_EQ(server.listening(), std::vector<std::string>{"unix:" + path});
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, ::geteuid());

  int fd = ConnectUnix(path);
  ASSERT_GE(fd, 0);
  const std::string req = "GET /api/v0/processes/list HTTP/1.1\r\nHost: localhost\r\n\r\n";
  ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  ASSERT_GT(n, 12);
  EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 200");

  server.Stop();
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "the socket file is removed on exit";
}

TEST(Server, ASecondServerDoesNotStealALiveSocket) {
  const std::string runtime = TempDir();
  Server first({.env = {{"XDG_RUNTIME_DIR", runtime}}, .tcp_no_auth = false});
  ASSERT_FALSE(first.listening().empty());
  std::string out = runtime + "/second.out";
  const std::string cmd = "XDG_RUNTIME_DIR=" + runtime + " " + kCorral + " serve >" + out + " 2>&1";
  const int status = std::system(cmd.c_str());
  EXPECT_NE(WEXITSTATUS(status), 0);
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("already listening"), std::string::npos) << text;
  EXPECT_GE(ConnectUnix(runtime + "/corral.sock"), 0) << "the first server still answers";
}

TEST(Server, AtTheConnectionCapTheLongestIdleClientMakesRoom) {
  Server server({.args = {"--max-connections", "2"}});
  RawConnection first(server.host(), server.port());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  RawConnection second(server.host(), server.port());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // Both slots hold idle clients; a client with a request is served all the same...
  EXPECT_EQ(server.Get("/api/v0/processes/list").status, 200);
  // ...because the client idle the longest was closed to make room.
  EXPECT_TRUE(first.ClosedByPeer(std::chrono::seconds(5)));
}

TEST(Server, ConnectionsPastTheCapOfBusyClientsGet503) {
  Server server({.args = {"--max-connections", "3"}});
  const std::string id = server.Start("sleep 60");
  std::vector<std::unique_ptr<RawConnection>> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.push_back(std::make_unique<RawConnection>(server.host(), server.port()));
    ASSERT_TRUE(waiters.back()->Send("GET /api/v0/processes/" + id +
                                     "/output?wait=true HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  }
  // Every slot waits on a process: none is idle, so a newcomer is told to come back later.
  HttpResult refused;
  ASSERT_TRUE(Eventually([&] {
    refused = server.Get("/api/v0/processes/list");
    return refused.status == 503;
  }));
  EXPECT_EQ(refused.json.at("message").as_string(), "Too many connections.");
  waiters.front()->Close();
  EXPECT_TRUE(Eventually([&] { return server.Get("/api/v0/processes/list").status == 200; }));
}

TEST(Server, ASlowClientIsCutOffAndDoesNotBlockOthers) {
  Server server({.args = {"--request-timeout", "2s"}});
  RawConnection slow(server.host(), server.port());
  ASSERT_TRUE(slow.Send("GET /api/v0/processes/list HTTP/1.1\r\nHo"));
  EXPECT_EQ(server.Get("/api/v0/processes/list").status, 200);
  // One byte a second keeps it busy, but not past the request timeout.
  bool cut_off = false;
  for (int i = 0; i < 30 && !cut_off; ++i) {
    cut_off = !slow.Send("s") || slow.ClosedByPeer(std::chrono::seconds(1));
  }
  EXPECT_TRUE(cut_off);
  EXPECT_EQ(server.Get("/api/v0/processes/list").status, 200);
}

TEST(Server, ExpectContinueIsAnswered) {
  Server server;
  RawConnection c(server.host(), server.port());
  const std::string body = R"({"command":"echo hi"})";
  ASSERT_TRUE(
      c.Send("POST /api/v0/processes/start HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
             "Content-Length: " +
             std::to_string(body.size()) + "\r\n\r\n"));
  ASSERT_TRUE(Eventually(
      [&] {
        char buf[64];
        ssize_t n = ::recv(c.fd(), buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
        return n > 0 && std::string(buf, static_cast<size_t>(n)).starts_with("HTTP/1.1 100");
      },
      std::chrono::seconds(5)));
  ASSERT_TRUE(c.Send(body));
  HttpResult r = c.ReadResponse();
  EXPECT_EQ(r.status, 200);
}

}  // namespace
}  // namespace corral::testing
