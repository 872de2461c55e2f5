#pragma once

#include <sys/types.h>

#include <csignal>

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace corral::testing {

// The child helper and corral binaries, as built.
inline const std::string kHelper = CORRAL_CHILD_HELPER;
inline const std::string kCorral = CORRAL_BINARY;

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  boost::json::value json;  // the body parsed, or null
};

// A TCP connection to the server speaking raw bytes, for tests that need exact control.
class RawConnection {
 public:
  RawConnection(const std::string& host, int port);
  // Connects to a Unix stream socket.
  explicit RawConnection(const std::string& unix_path);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool Send(std::string_view bytes);
  // Reads one HTTP response (headers, then Content-Length bytes); status 0 on EOF or timeout.
  HttpResult ReadResponse(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // True once the server has closed the connection (reads EOF within timeout).
  bool ClosedByPeer(std::chrono::milliseconds timeout);
  // Appends what comes to `got` until `text` is in it (true), or the peer closes or is silent
  // for 30 s (false).
  bool ReadUntil(std::string& got, std::string_view text);
  void Close();
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string pending_;
};

// The real corral binary, started on 127.0.0.1 port 0 for one test and stopped after it.
class Server {
 public:
  struct Options {
    std::vector<std::string> args;           // after `serve`; --ephemeral is added unless they name
                                             // --state-dir or --ephemeral
    std::map<std::string, std::string> env;  // added to the server's environment
    bool tcp_no_auth = true;                 // add --listen 127.0.0.1:0 --no-auth
  };
  Server();
  explicit Server(Options options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  // Every "listening on X" line the server printed.
  const std::vector<std::string>& listening() const { return listening_; }
  // What the server wrote to stderr so far.
  std::string Log() const;

  HttpResult Request(const std::string& method, const std::string& target,
                     const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {});
  HttpResult Get(const std::string& target, const std::map<std::string, std::string>& h = {}) {
    return Request("GET", target, "", h);
  }
  HttpResult Post(const std::string& target, const std::string& body,
                  const std::map<std::string, std::string>& h = {}) {
    return Request("POST", target, body, h);
  }

  // Starts a command; returns its id (fails the test on error).
  std::string Start(const std::string& command, const std::string& extra_json = "",
                    const std::map<std::string, std::string>& headers = {});
  // GET output?wait=true until the process is done (re-asking past the server's cap).
  boost::json::object WaitOutput(const std::string& id,
                                 const std::map<std::string, std::string>& headers = {});
  boost::json::object Health();

  // Sends `signal` (SIGTERM by default), then waits for exit; returns the wait status.
  int Stop(int signal = SIGTERM);
  // SIGKILL, as an OOM kill or a crash would end it; waits for it. Its commands live on.
  void Crash();

 private:
  pid_t pid_ = -1;
  std::string host_;
  int port_ = 0;
  std::vector<std::string> listening_;
  std::string log_path_;
};

// Options for a server on the state dir `dir` (not --ephemeral) with short shutdown and drain
// graces, `more` added after them.
Server::Options OnStateDir(const std::string& dir, std::vector<std::string> more = {});

// A process of the test's own, not started through Corral: `sleep 300`, killed when the test
// binary dies. The caller kills and reaps it.
pid_t SpawnOutsider();

// A connected Unix socket (the caller closes it), or -1.
int ConnectUnix(const std::string& path);

// What a run of a command-line program gave.
struct CommandResult {
  int exit_code = -1;  // 128+n for a signal, as a shell reports it
  std::string out;
  std::string err;
};

// A program (argv[0] a path) running in the background with `env` added to ours, stdin from
// /dev/null, stdout and stderr to files, SIGINT at its default disposition; killed by the
// destructor if still running.
class BackgroundProgram {
 public:
  explicit BackgroundProgram(const std::vector<std::string>& argv,
                             const std::map<std::string, std::string>& env = {});
  ~BackgroundProgram();
  BackgroundProgram(const BackgroundProgram&) = delete;
  BackgroundProgram& operator=(const BackgroundProgram&) = delete;

  // SIGINT, as a terminal's Ctrl-C.
  void Interrupt();
  // What it wrote to stdout so far.
  std::string Out() const;
  // True once it has exited (reaped).
  bool Exited();
  // Waits for it to exit, at most `limit` (then kills it and fails the test); its result.
  CommandResult Finish(std::chrono::seconds limit = std::chrono::seconds(60));

 private:
  std::string dir_;
  std::string name_;
  pid_t pid_ = -1;
  int status_ = 0;
};

// Runs argv (argv[0] a path) with `env` added to ours, stdin from /dev/null; waits at most
// `limit`, then kills it.
CommandResult RunProgram(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {},
                         std::chrono::seconds limit = std::chrono::seconds(60));

// A test driving its own server (default options) through the `corral` binary.
class CliTest : public ::testing::Test {
 protected:
  // `corral SUBCOMMAND --server ADDR ARGS...` against this test's server.
  std::vector<std::string> Argv(std::vector<std::string> args);
  // Runs Argv(args) with `env` added to ours.
  CommandResult Corral(std::vector<std::string> args,
                       const std::map<std::string, std::string>& env = {});

  Server server_;
  std::string address_ = "http://" + server_.host() + ":" + std::to_string(server_.port());
};

// Polls `condition` every 20 ms for up to `limit`; true once it holds.
bool Eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(15));

// JSON string of s.
std::string Quote(const std::string& s);

// A fresh temporary directory, removed at exit of the test binary.
std::string TempDir();

// The pid a command wrote into `path` (waiting up to 15 s for it to appear), or 0.
pid_t ReadPid(const std::string& path);

// True if pid names a live (non-zombie) process.
bool Alive(pid_t pid);

// Zombie children of pid.
std::vector<pid_t> ZombieChildren(pid_t pid);

}  // namespace corral::testing
