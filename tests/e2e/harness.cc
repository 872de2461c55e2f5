#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

extern char** environ;

namespace corral::testing {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

RawConnection::RawConnection(const std::string& host, int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

RawConnection::RawConnection(const std::string& unix_path) {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", unix_path.c_str());
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

RawConnection::~RawConnection() { Close(); }

void RawConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawConnection::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

HttpResult RawConnection::ReadResponse(std::chrono::milliseconds timeout) {
  HttpResult r;
  if (fd_ < 0) return r;  // never connected (the server is gone): nothing will come
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto fill = [&]() -> bool {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<size_t>(n));
    return true;
  };
  std::size_t end;
  while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return r;
  }
  std::istringstream head(pending_.substr(0, end));
  pending_.erase(0, end + 4);
  std::string line;
  std::getline(head, line);
  if (line.size() >= 12) r.status = std::atoi(line.c_str() + 9);
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    r.headers[Lower(line.substr(0, colon))] = value;
  }
  std::size_t length = 0;
  if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
    length = std::stoull(it->second);
  }
  if (r.status == 100) return ReadResponse(timeout);
  while (pending_.size() < length) {
    if (!fill()) {
      r.status = 0;
      return r;
    }
  }
  r.body = pending_.substr(0, length);
  pending_.erase(0, length);
  boost::system::error_code ec;
  r.json = json::parse(r.body, ec);
  if (ec) r.json = nullptr;
  return r;
}

bool RawConnection::ClosedByPeer(std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN;
  }
}

bool RawConnection::ReadUntil(std::string& got, std::string_view text) {
  char buf[65536];
  while (got.find(text) == std::string::npos) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0) return false;
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) return false;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

Server::Server() : Server(Options{}) {}

Server::Server(Options options) {
  log_path_ = TempDir() + "/server.log";
  std::vector<std::string> args = {kCorral, "serve"};
  if (options.tcp_no_auth) {
    args.insert(args.end(), {"--listen", "127.0.0.1:0", "--no-auth"});
  }
  args.insert(args.end(), options.args.begin(), options.args.end());
  // Tests never share or litter a state dir: nothing is kept unless a test asks for a dir.
  if (std::find(args.begin(), args.end(), "--state-dir") == args.end() &&
      std::find(args.begin(), args.end(), "--ephemeral") == args.end()) {
    args.push_back("--ephemeral");
  }

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test must not leave servers behind
    for (const auto& [k, v] : options.env) ::setenv(k.c_str(), v.c_str(), 1);
    ::dup2(out[1], 1);
    int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(log, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(out[1]);
  // Read "listening on ..." lines until one per listener has come, or stdout goes quiet.
  std::string text;
  std::size_t expected = 0;
  for (std::size_t i = 0; i < args.size(); ++i) expected += args[i] == "--listen";
  if (expected == 0) expected = 1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (listening_.size() < expected && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[512];
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
    std::size_t nl;
    while ((nl = text.find('\n')) != std::string::npos) {
      std::string line = text.substr(0, nl);
      text.erase(0, nl + 1);
      if (line.starts_with("listening on ")) listening_.push_back(line.substr(13));
    }
  }
  ::close(out[0]);
  for (const auto& l : listening_) {
    if (l.starts_with("unix:") || port_ != 0) continue;
    auto colon = l.rfind(':');
    host_ = l.substr(0, colon);
    port_ = std::atoi(l.c_str() + colon + 1);
  }
  if (listening_.empty()) {
    ADD_FAILURE() << "server did not start; log:\n" << Log();
  }
}

Server::~Server() {
  if (pid_ <= 0) return;
  // A clean exit is part of every test: a sanitizer report or a crash makes it non-zero.
  const int status = Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the server did not exit cleanly (status " << status << "); its log:\n"
      << Log();
}

std::string Server::Log() const { return ReadFileText(log_path_); }

int Server::Stop(int signal) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal);
  int status = 0;
  // Bounded: a server that will not stop is killed, and the test sees a non-zero status.
  for (int i = 0; i < 1500; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  ADD_FAILURE() << "server did not stop within 30 s of signal " << signal;
  return status;
}

void Server::Crash() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

HttpResult Server::Request(const std::string& method, const std::string& target,
                           const std::string& body,
                           const std::map<std::string, std::string>& headers) {
  RawConnection c(host_, port_);
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + host_ + ":" +
                    std::to_string(port_) + "\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST") {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  c.Send(req);  // the server may answer (413) before taking it all: read the answer regardless
  return c.ReadResponse(std::chrono::minutes(6));
}

std::string Server::Start(const std::string& command, const std::string& extra_json,
                          const std::map<std::string, std::string>& headers) {
  std::string body = "{\"command\":" + Quote(command);
  if (!extra_json.empty()) body += "," + extra_json;
  body += "}";
  HttpResult r = Post("/api/v0/processes/start", body, headers);
  EXPECT_EQ(r.status, 200) << r.body;
  if (r.status != 200 || !r.json.is_object()) return "";
  return std::string(r.json.at("id").as_string());
}

json::object Server::WaitOutput(const std::string& id,
                                const std::map<std::string, std::string>& headers) {
  for (int i = 0; i < 10; ++i) {
    HttpResult r = Get("/api/v0/processes/" + id + "/output?wait=true", headers);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200 || !r.json.is_object()) return {};
    if (!r.json.at("running").as_bool()) return r.json.as_object();
  }
  ADD_FAILURE() << "process " << id << " still running";
  return {};
}

json::object Server::Health() {
  HttpResult r = Get("/api/v0/health");
  EXPECT_EQ(r.status, 200);
  return r.json.is_object() ? r.json.as_object() : json::object();
}

int ConnectUnix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

BackgroundProgram::BackgroundProgram(const std::vector<std::string>& argv,
                                     const std::map<std::string, std::string>& env)
    : dir_(TempDir()), name_(argv.at(0)) {
  const std::string out_path = dir_ + "/out", err_path = dir_ + "/err";
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::signal(SIGINT, SIG_DFL);  // whatever the test runner's is: Interrupt() acts as Ctrl-C
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
}

BackgroundProgram::~BackgroundProgram() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void BackgroundProgram::Interrupt() {
  if (pid_ > 0) ::kill(pid_, SIGINT);
}

std::string BackgroundProgram::Out() const { return ReadFileText(dir_ + "/out"); }

bool BackgroundProgram::Exited() {
  if (pid_ <= 0) return true;
  if (::waitpid(pid_, &status_, WNOHANG) != pid_) return false;
  pid_ = -1;
  return true;
}

CommandResult BackgroundProgram::Finish(std::chrono::seconds limit) {
  CommandResult r;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!Exited()) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << name_ << " did not finish in time";
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
      pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.exit_code = WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  r.out = Out();
  r.err = ReadFileText(dir_ + "/err");
  return r;
}

CommandResult RunProgram(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env,
                         std::chrono::seconds limit) {
  return BackgroundProgram(argv, env).Finish(limit);
}

bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string Quote(const std::string& s) { return json::serialize(json::string(s)); }

std::string TempDir() {
  // Owns the root of this binary's temporary directories and removes it at exit.
  struct Root {
    std::string path;
    Root() : path((fs::temp_directory_path() / "corral-test-XXXXXX").string()) {
      if (!::mkdtemp(path.data())) throw std::runtime_error("mkdtemp");
    }
    ~Root() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static const Root root;
  static int n = 0;
  std::string dir = root.path + "/" + std::to_string(++n);
  fs::create_directories(dir);
  return dir;
}

pid_t ReadPid(const std::string& path) {
  pid_t pid = 0;
  Eventually([&] {
    std::ifstream in(path);
    return static_cast<bool>(in >> pid);
  });
  return pid;
}

bool Alive(pid_t pid) {
  std::string stat = ReadFileText("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return false;
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

std::vector<pid_t> ZombieChildren(pid_t pid) {
  std::vector<pid_t> zombies;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = ReadFileText(entry.path() / "stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state;
    pid_t ppid;
    rest >> state >> ppid;
    if (ppid == pid && state == 'Z') zombies.push_back(std::stoi(name));
  }
  return zombies;
}

Server::Options OnStateDir(const std::string& dir, std::vector<std::string> more) {
  Server::Options o{
      .args = {"--state-dir", dir, "--shutdown-grace", "300ms", "--drain-grace", "300ms"}};
  o.args.insert(o.args.end(), more.begin(), more.end());
  return o;
}

pid_t SpawnOutsider() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::execl("/bin/sleep", "sleep", "300", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

std::vector<std::string> CliTest::Argv(std::vector<std::string> args) {
  args.insert(args.begin() + 1, {"--server", address_});
  args.insert(args.begin(), kCorral);
  return args;
}

CommandResult CliTest::Corral(std::vector<std::string> args,
                              const std::map<std::string, std::string>& env) {
  return RunProgram(Argv(std::move(args)), env);
}

}  // namespace corral::testing
