// Socket activation and readiness exactly as systemd does them: listening sockets passed as
// descriptors 3.. with LISTEN_FDS/LISTEN_PID, and sd_notify datagrams on NOTIFY_SOCKET.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "harness.h"

namespace corral::testing {
namespace {

int ListenTcp(int& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 16) != 0) return -1;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

int BindUnix(int type, const std::string& path) {
  int fd = ::socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  if (type == SOCK_STREAM && ::listen(fd, 16) != 0) return -1;
  return fd;
}

// The next datagram on `fd`, or "" after 15 s.
std::string ReceiveNotification(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 15000) != 1) return "";
  char buf[4096];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

HttpResult Ask(RawConnection& c, const std::string& method, const std::string& target,
               const std::string& extra_headers = "", const std::string& body = "") {
  c.Send(method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  return c.ReadResponse();
}

TEST(SocketActivation, ServesOnlyThePassedSocketsAndNotifiesSystemd) {
  const std::string dir = TempDir();
  int port = 0;
  const int tcp = ListenTcp(port);
  const std::string unix_path = dir + "/activated.sock";
  const int unix_fd = BindUnix(SOCK_STREAM, unix_path);
  const int notify = BindUnix(SOCK_DGRAM, dir + "/notify");
  ASSERT_GE(tcp, 0);
  ASSERT_GE(unix_fd, 0);
  ASSERT_GE(notify, 0);
  const std::string ignored_listen = dir + "/not-this.sock";
  const std::string token = "activation-test-token";

  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // What systemd does: the sockets at 3, 4, ... and LISTEN_PID naming the service itself.
    const int log = ::open((dir + "/server.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(log, 1);
    ::dup2(log, 2);
    const int t = ::dup(tcp), u = ::dup(unix_fd);
    ::dup2(t, 3);
    ::dup2(u, 4);
    ::setenv("LISTEN_FDS", "2", 1);
    ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
    ::setenv("NOTIFY_SOCKET", (dir + "/notify").c_str(), 1);
    ::setenv("CORRAL_TOKEN", token.c_str(), 1);
    ::setenv("XDG_RUNTIME_DIR", dir.c_str(), 1);
    const std::string listen = "unix:" + ignored_listen;
    ::execl(kCorral.c_str(), "corral", "serve", "--ephemeral", "--listen", listen.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(tcp);
  ::close(unix_fd);

  EXPECT_NE(ReceiveNotification(notify).find("READY=1"), std::string::npos);

  RawConnection over_tcp("127.0.0.1", port);
  ASSERT_GE(over_tcp.fd(), 0);
  EXPECT_EQ(Ask(over_tcp, "GET", "/api/v0/health").status, 401);
  RawConnection over_tcp_authed("127.0.0.1", port);
  EXPECT_EQ(Ask(over_tcp_authed, "GET", "/api/v0/health", "Authorization: Bearer " + token + "\r\n")
                .status,
            200);

  RawConnection over_unix(unix_path);
  ASSERT_GE(over_unix.fd(), 0);
  EXPECT_EQ(Ask(over_unix, "GET", "/api/v0/health").status, 200);
  // Commands inherit neither the activation variables nor systemd's notification socket.
  auto started = Ask(over_unix, "POST", "/api/v0/processes/start", "",
                     R"({"command":"env | grep -E '^(LISTEN_|NOTIFY_SOCKET)' ; echo end"})");
  ASSERT_EQ(started.status, 200) << started.body;
  const std::string id(started.json.at("id").as_string());
  auto output = Ask(over_unix, "GET", "/api/v0/processes/" + id + "/output?wait=true");
  ASSERT_EQ(output.status, 200);
  EXPECT_EQ(output.json.at("output").as_string(), "end\n");

  EXPECT_FALSE(std::filesystem::exists(ignored_listen));  // --listen is ignored when activated

  ::kill(pid, SIGTERM);
  EXPECT_NE(ReceiveNotification(notify).find("STOPPING=1"), std::string::npos);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(std::filesystem::exists(unix_path));  // systemd's socket file is not ours to remove
  ::close(notify);
}

}  // namespace
}  // namespace corral::testing
