#include "cli/embedded.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>

namespace corral::cli {
namespace {

// Set while the embedded server runs; cleared by the destructor before it stops the server, so
// that the server thread knows whether a stop came from us or from outside.
std::atomic<bool> g_owner_alive{false};
std::atomic<bool> g_server_running{false};

}  // namespace

base::Result<std::unique_ptr<EmbeddedServer>> EmbeddedServer::Start(server::ServeOptions options) {
  std::string dir = (std::filesystem::temp_directory_path() / "corral-mcp-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) {
    return base::Status(base::Code::kInternal, "mkdtemp: " + std::string(std::strerror(errno)));
  }
  std::unique_ptr<EmbeddedServer> self(new EmbeddedServer);
  self->dir_ = dir;
  self->endpoint_.is_unix = true;
  self->endpoint_.path = dir + "/corral.sock";
  options.listen = {"unix:" + self->endpoint_.path};
  options.announce = false;  // stdout belongs to the MCP client

  auto ready = std::make_shared<std::promise<bool>>();
  g_owner_alive = true;
  g_server_running = true;
  self->thread_ = std::thread([options, ready] {
    bool announced = false;
    const int code = server::Serve(options, [&] {
      announced = true;
      ready->set_value(true);
    });
    g_server_running = false;
    if (!announced) {
      ready->set_value(false);
      return;
    }
    if (g_owner_alive) {
      // Stopped from outside: everything it ran is ended; the process has nothing left to do.
      std::fflush(stdout);
      ::_exit(code);
    }
  });
  // Signals for the server (SIGCHLD above all) must go to its thread: here they would only
  // interrupt the MCP thread's blocking socket calls with EINTR.
  sigset_t server_signals;
  sigemptyset(&server_signals);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT}) sigaddset(&server_signals, sig);
  ::pthread_sigmask(SIG_BLOCK, &server_signals, nullptr);
  if (!ready->get_future().get()) {
    self->thread_.join();
    g_owner_alive = false;
    std::filesystem::remove_all(dir);
    return base::Status(base::Code::kInternal, "the embedded server could not start");
  }
  return self;
}

EmbeddedServer::~EmbeddedServer() {
  g_owner_alive = false;
  // The server's own signal handling does the graceful shutdown: the same path as a SIGTERM
  // from outside, and safe to trigger from this thread.
  if (g_server_running) ::kill(::getpid(), SIGTERM);
  if (thread_.joinable()) thread_.join();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace corral::cli
