// What happens around the server: other servers on its socket, hang-ups, browsers, a shared
// /tmp, its token in /proc, its descriptor limit, and requests the kernel would refuse.
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness.h"

namespace corral::testing {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Sends a whole request on a fresh connection and reads the answer.
HttpResult Send(Server& server, const std::string& request) {
  RawConnection c(server.host(), server.port());
  EXPECT_TRUE(c.Send(request));
  return c.ReadResponse(std::chrono::seconds(30));
}

std::string Address(Server& server) { return server.host() + ":" + std::to_string(server.port()); }

std::size_t Listed(Server& server) {
  auto r = server.Get("/api/v0/processes/list");
  EXPECT_EQ(r.status, 200);
  return r.json.is_object() ? r.json.at("processes").as_array().size() : 0;
}

// ---- The Unix socket ----------------------------------------------------------------------

TEST(Edge, StoppingLeavesAnotherServersSocketAtTheSamePathAlone) {
  const std::string path = TempDir() + "/corral.sock";
  auto first = std::make_unique<Server>(Server::Options{.args = {"--listen", "unix:" + path}});
  ASSERT_EQ(::unlink(path.c_str()), 0) << "someone removes the first server's socket";
  Server second({.args = {"--listen", "unix:" + path}});
  ASSERT_EQ(second.listening().size(), 2u);

  first.reset();  // stops it
  struct stat st;
  ASSERT_EQ(::lstat(path.c_str(), &st), 0) << "the second server's socket was removed";
  const int fd = ConnectUnix(path);
  EXPECT_GE(fd, 0) << "the second server no longer answers on its socket";
  if (fd >= 0) ::close(fd);

  second.Stop();
  EXPECT_NE(::lstat(path.c_str(), &st), 0) << "a server still removes its own socket";
}

// ---- Signals ------------------------------------------------------------------------------

TEST(Edge, SighupIsAGracefulShutdown) {
  Server server;
  const std::string pid_file = TempDir() + "/pid";
  server.Start("echo $$ > " + pid_file + "; exec sleep 300");
  const pid_t command = ReadPid(pid_file);
  ASSERT_GT(command, 0);
  const int status = server.Stop(SIGHUP);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "; log:\n"
                                                             << server.Log();
  EXPECT_FALSE(Alive(command)) << "the command outlived the server";
  EXPECT_NE(server.Log().find("received HUP"), std::string::npos) << server.Log();
}

// ---- Browsers (DESIGN.md §7.6) ------------------------------------------------------------

// What a web page on another site can make a browser send without a CORS preflight.
std::string CrossSitePost(const std::string& host, const std::string& origin,
                          const std::string& marker) {
  const std::string body = "{\"command\":\"touch " + marker + "\"}";
  return "POST /api/v0/processes/start HTTP/1.1\r\nHost: " + host + "\r\nOrigin: " + origin +
         "\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(Edge, AWebPageCannotStartCommandsOnANoAuthListener) {
  Server server;
  const std::string marker = TempDir() + "/pwned";
  HttpResult r = Send(server, CrossSitePost(Address(server), "http://evil.example", marker));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.json.at("message").as_string(), "Cross-origin requests are not allowed.");
  EXPECT_EQ(Listed(server), 0u) << "a refused request changes nothing";
  EXPECT_NE(::access(marker.c_str(), F_OK), 0);
}

TEST(Edge, DnsRebindingIsRefusedByTheHostCheck) {
  Server server;
  const std::string marker = TempDir() + "/pwned";
  // The page's own name now resolves to 127.0.0.1, so its requests are same-origin.
  const std::string host = "rebind.evil.example:" + std::to_string(server.port());
  HttpResult r = Send(server, CrossSitePost(host, "http://" + host, marker));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.json.at("message").as_string(), "Host not allowed.");
  r = Send(server, "GET /api/v0/processes/list HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Listed(server), 0u);
}

TEST(Edge, TheServersOwnOriginAndIpOrLocalhostHostsAreServed) {
  Server server;
  const std::string port = std::to_string(server.port());
  for (const auto& [host, origin] : std::vector<std::pair<std::string, std::string>>{
           {Address(server), "http://" + Address(server)},
           {"LOCALHOST:" + port, "HTTPS://localhost:" + port},
           {"[::1]:" + port, "http://[::1]:" + port},
       }) {
    HttpResult r = Send(server, "GET /api/v0/processes/list HTTP/1.1\r\nHost: " + host +
                                    "\r\nOrigin: " + origin + "\r\n\r\n");
    EXPECT_EQ(r.status, 200) << host << " " << origin << ": " << r.body;
  }
  HttpResult r = Send(server, "GET /api/v0/processes/list HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.status, 200) << "no Host (HTTP/1.0) is not refused for it";
}

TEST(Edge, AllowOriginAndAllowHostListWhatElseIsServed) {
  Server server({.args = {"--allow-origin", "https://app.example:8443", "--allow-host",
                          "corral.example", "--allow-origin", "http://tool.example"}});
  auto list = [&](const std::string& host, const std::string& origin) {
    return Send(server, "GET /api/v0/processes/list HTTP/1.1\r\nHost: " + host +
                            "\r\nOrigin: " + origin + "\r\n\r\n")
        .status;
  };
  EXPECT_EQ(list(Address(server), "https://APP.example:8443"), 200);
  EXPECT_EQ(list(Address(server), "http://tool.example:80"), 200);
  EXPECT_EQ(list(Address(server), "https://app.example"), 403);
  EXPECT_EQ(list("Corral.Example:9999", "http://Corral.Example:9999"), 200);
  EXPECT_EQ(list("other.example", "http://tool.example"), 403);
}

TEST(Edge, BadAllowFlagsAreAUsageError) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--allow-origin", "*"},
                                             {"--allow-origin", "https://a.example/path"},
                                             {"--allow-host", "a.example:80"}}) {
    std::vector<std::string> argv = {kCorral,    "serve",       "--ephemeral",
                                     "--listen", "127.0.0.1:0", "--no-auth"};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult r = RunProgram(argv, {}, std::chrono::seconds(20));
    EXPECT_EQ(r.exit_code, 2) << args[1] << ": " << r.err;
    EXPECT_NE(r.err.find(args[1]), std::string::npos) << r.err;
  }
}

TEST(Edge, BrowsersAreCheckedOnTheUnixSocketToo) {
  const std::string path = TempDir() + "/corral.sock";
  Server server({.args = {"--listen", "unix:" + path}});
  const int fd = ConnectUnix(path);
  ASSERT_GE(fd, 0);
  const std::string req =
      "GET /api/v0/processes/list HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil.example\r\n"
      "\r\n";
  ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  ASSERT_GT(n, 12);
  EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 403");
}

// ---- Auth, on the headers alone -----------------------------------------------------------

Server::Options WithToken(const std::string& token) {
  return {.args = {"--listen", "127.0.0.1:0"},
          .env = {{"CORRAL_TOKEN", token}, {"XDG_RUNTIME_DIR", TempDir()}},
          .tcp_no_auth = false};
}

TEST(Edge, AuthIsCheckedBeforeContinueAndBeforeTheBody) {
  Server server(WithToken("edge-token-0123456789"));
  RawConnection c(server.host(), server.port());
  // A large body announced, none sent: the answer must not wait for it.
  ASSERT_TRUE(c.Send("POST /api/v0/processes/start HTTP/1.1\r\nHost: " + Address(server) +
                     "\r\nExpect: 100-continue\r\nContent-Type: application/json\r\n"
                     "Content-Length: 1000000\r\n\r\n"));
  std::string head;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (head.find("\r\n\r\n") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    pollfd p{c.fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[1024];
    const ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
    if (n <= 0) break;
    head.append(buf, static_cast<std::size_t>(n));
  }
  EXPECT_TRUE(head.starts_with("HTTP/1.1 401")) << "got: " << head;
  EXPECT_NE(head.find("WWW-Authenticate: Bearer"), std::string::npos) << head;
}

TEST(Edge, ACrossOriginRequestIsRefusedEvenWithTheToken) {
  const std::string token = "edge-token-abcdefghij";
  Server server(WithToken(token));
  const std::string marker = TempDir() + "/pwned";
  std::string req = CrossSitePost(Address(server), "http://evil.example", marker);
  req.insert(req.find("\r\n") + 2, "Authorization: Bearer " + token + "\r\n");
  EXPECT_EQ(Send(server, req).status, 403);
  auto list = server.Get("/api/v0/processes/list", {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(list.status, 200);
  EXPECT_TRUE(list.json.at("processes").as_array().empty()) << "a refused request changes nothing";
}

// ---- The token ----------------------------------------------------------------------------

TEST(Edge, TheTokenFromTheEnvironmentIsReadableNeitherByCommandsNorInProc) {
  const std::string token = "edge-secret-7f3a9c1b2d4e";
  Server server(WithToken(token));
  const std::map<std::string, std::string> auth = {{"Authorization", "Bearer " + token}};
  EXPECT_EQ(server.Get("/api/v0/processes/list").status, 401);
  EXPECT_EQ(server.Get("/api/v0/processes/list", auth).status, 200) << "the token still works";

  const std::string environ = ReadAll("/proc/" + std::to_string(server.pid()) + "/environ");
  ASSERT_FALSE(environ.empty());
  EXPECT_EQ(environ.find(token), std::string::npos) << "the token is in /proc/<server>/environ";
  EXPECT_EQ(environ.find("CORRAL_TOKEN"), std::string::npos);

  const std::string id = server.Start("env; tr '\\0' '\\n' < /proc/$PPID/environ", "", auth);
  auto out = server.WaitOutput(id, auth);
  ASSERT_TRUE(out.contains("output"));
  const std::string text(out.at("output").as_string());
  EXPECT_NE(text.find("PATH="), std::string::npos) << text;
  EXPECT_EQ(text.find(token), std::string::npos) << text;
}

// ---- Requests the kernel would refuse -----------------------------------------------------

TEST(Edge, ACommandOverTheKernelsArgumentLimitIs400) {
  Server server;
  // MAX_ARG_STRLEN: 131072 bytes, the terminating NUL included.
  std::string fits = "exit 7 #";
  fits.resize(131071, 'x');
  const std::string id = server.Start(fits);
  EXPECT_EQ(server.WaitOutput(id).at("exit_code").as_int64(), 7);

  HttpResult r = server.Post("/api/v0/processes/start", "{\"command\":" + Quote(fits + "x") + "}");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.json.at("message").as_string(), "Command is too long.");
  EXPECT_NE(r.json.at("detail").as_string().find("131072"), std::string::npos);

  r = server.Post("/api/v0/processes/start", "{\"command\":\"true\",\"env\":{\"BIG\":" +
                                                 Quote(std::string(131068, 'v')) + "}}");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.json.at("message").as_string(), "Environment variable is too long.");
  EXPECT_EQ(Listed(server), 1u);
}

// ---- The descriptor limit -----------------------------------------------------------------

// The soft and hard "Max open files" of a process.
std::pair<std::string, std::string> NofileLimits(pid_t pid) {
  std::istringstream in(ReadAll("/proc/" + std::to_string(pid) + "/limits"));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("Max open files")) continue;
    std::istringstream fields(line.substr(std::string("Max open files").size()));
    std::string soft, hard;
    fields >> soft >> hard;
    return {soft, hard};
  }
  return {};
}

TEST(Edge, TheServerRaisesItsSoftDescriptorLimitToTheHardOne) {
  rlimit ours;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &ours), 0);
  if (ours.rlim_max < 2048) GTEST_SKIP() << "the hard limit leaves nothing to raise";
  rlimit low = ours;
  low.rlim_cur = 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  Server server;  // inherits the low soft limit
  ::setrlimit(RLIMIT_NOFILE, &ours);
  const auto [soft, hard] = NofileLimits(server.pid());
  EXPECT_EQ(soft, hard);
  EXPECT_EQ(hard, std::to_string(ours.rlim_max));
}

// ---- Chat ids and wait, as Go clients send them -------------------------------------------

TEST(Edge, GoUuidFormsAreTheSameChat) {
  Server server;
  const std::string id =
      server.Start("echo $CODER_CHAT_ID", "",
                   {{"Coder-Chat-Id", "urn:uuid:AAAAAAAA-1111-4111-8111-BBBBBBBBBBBB"}});
  for (const char* form :
       {"aaaaaaaa-1111-4111-8111-bbbbbbbbbbbb", "{AAAAAAAA-1111-4111-8111-bbbbbbbbbbbb}",
        "aaaaaaaa111141118111bbbbbbbbbbbb"}) {
    auto out = server.WaitOutput(id, {{"Coder-Chat-Id", form}});
    ASSERT_TRUE(out.contains("output")) << form;
    EXPECT_EQ(out.at("output").as_string(), "aaaaaaaa-1111-4111-8111-bbbbbbbbbbbb\n");
  }
  EXPECT_EQ(server
                .Get("/api/v0/processes/" + id + "/output",
                     {{"Coder-Chat-Id", "cccccccc-1111-4111-8111-bbbbbbbbbbbb"}})
                .status,
            404);
}

TEST(Edge, WaitTakesOneAndTrueInAnyCase) {
  Server server;
  for (const char* value : {"1", "tRuE"}) {
    const std::string id = server.Start("sleep 0.3; echo done");
    auto r = server.Get("/api/v0/processes/" + id + "/output?wait=" + value);
    ASSERT_EQ(r.status, 200);
    EXPECT_FALSE(r.json.at("running").as_bool()) << value;
  }
}

// ---- The default runtime directory in a shared /tmp ---------------------------------------

// Runs argv with XDG_RUNTIME_DIR unset and `tmp` mounted on /tmp, in a private mount
// namespace (a user namespace too when we are not root, where we are uid 0 inside): the
// default runtime dir is then `tmp`/corral-0.
CommandResult RunWithTmp(const std::string& tmp, std::vector<std::string> argv,
                         std::chrono::seconds limit = std::chrono::seconds(30)) {
  std::vector<std::string> wrapped = {"/usr/bin/unshare",
                                      ::geteuid() == 0 ? "-m" : "-Urm",
                                      "--propagation",
                                      "private",
                                      "/bin/sh",
                                      "-c",
                                      "mount --bind \"$0\" /tmp && exec env -u XDG_RUNTIME_DIR "
                                      "\"$@\"",
                                      tmp};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return RunProgram(wrapped, {}, limit);
}

class RuntimeDir : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/unshare", X_OK) != 0 || RunWithTmp(tmp_, {"/bin/true"}).exit_code != 0) {
      GTEST_SKIP() << "cannot make a private /tmp here (unshare)";
    }
  }
  const std::string tmp_ = TempDir();
  const std::string dir_ = tmp_ + "/corral-0";
};

TEST_F(RuntimeDir, AMissingOneIsCreatedPrivate) {
  // Start a server, wait for its socket, report the directory's mode, stop it.
  CommandResult r = RunWithTmp(
      tmp_, {"/bin/sh", "-c",
             "\"$0\" serve >/dev/null & p=$!; i=0; while [ ! -S /tmp/corral-0/corral.sock ] && "
             "[ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; stat -c %a /tmp/corral-0; "
             "kill $p; wait $p",
             kCorral});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "700\n") << r.err;
  struct stat st;
  ASSERT_EQ(::lstat(dir_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST_F(RuntimeDir, ASymlinkIsRefusedByTheServerAndTheClient) {
  // Someone else's directory, with a server of theirs in it, and our name pointing there.
  const std::string theirs = tmp_ + "/theirs";
  std::filesystem::create_directories(theirs);
  ::chmod(theirs.c_str(), 0700);
  Server impostor({.args = {"--listen", "unix:" + theirs + "/corral.sock"}});
  ASSERT_EQ(::symlink("theirs", dir_.c_str()), 0);

  CommandResult serve = RunWithTmp(tmp_, {kCorral, "serve", "--ephemeral"});
  EXPECT_NE(serve.exit_code, 0);
  EXPECT_NE(serve.err.find("symbolic link"), std::string::npos) << serve.err;
  EXPECT_NE(serve.err.find("XDG_RUNTIME_DIR"), std::string::npos) << serve.err;

  CommandResult ps = RunWithTmp(tmp_, {kCorral, "ps"});
  EXPECT_NE(ps.exit_code, 0) << "the client talked to the impostor: " << ps.out;
  EXPECT_NE(ps.err.find("symbolic link"), std::string::npos) << ps.err;
}

TEST_F(RuntimeDir, OneOpenToOthersIsRefusedSayingHowToFixIt) {
  ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0770), 0);
  CommandResult serve = RunWithTmp(tmp_, {kCorral, "serve", "--ephemeral"});
  EXPECT_NE(serve.exit_code, 0);
  EXPECT_NE(serve.err.find("0770"), std::string::npos) << serve.err;
  EXPECT_NE(serve.err.find("chmod 700"), std::string::npos) << serve.err;
  EXPECT_NE(RunWithTmp(tmp_, {kCorral, "ps"}).exit_code, 0);

  // A client that needs a token does not take one from there either, and says so.
  Server server;
  std::ofstream(dir_ + "/corral.token") << "planted-token\n";
  CommandResult ps = RunWithTmp(tmp_, {kCorral, "ps", "--server", "http://" + Address(server)});
  EXPECT_EQ(ps.exit_code, 0) << ps.err;
  EXPECT_NE(ps.err.find("not reading the default token"), std::string::npos) << ps.err;
}

TEST_F(RuntimeDir, OneOwnedBySomeoneElseIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a directory away";
  ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
  ASSERT_EQ(::chown(dir_.c_str(), 65534, 65534), 0);
  CommandResult serve = RunWithTmp(tmp_, {kCorral, "serve", "--ephemeral"});
  EXPECT_NE(serve.exit_code, 0);
  EXPECT_NE(serve.err.find("owned by uid 65534"), std::string::npos) << serve.err;
}

}  // namespace
}  // namespace corral::testing
