#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace corral::server {

struct ServeOptions {
  std::vector<std::string> listen;  // "unix:/path" or "HOST:PORT"; empty: the default socket
  bool no_auth = false;             // TCP without a bearer token
  std::string token_file;           // else CORRAL_TOKEN, else generated next to the socket
  std::string workdir;              // default working directory of commands
  std::string env_file;             // KEY=VALUE lines, or an executable that prints them
  std::chrono::milliseconds drain_grace{5000};
  std::chrono::milliseconds shutdown_grace{3000};
  std::chrono::milliseconds retention{5 * 60 * 1000};  // done processes are forgotten after it
  // A request must arrive whole within this (so must the next one on an idle connection).
  std::chrono::milliseconds request_timeout{30000};
  std::size_t max_processes = 1024;
  std::size_t max_connections = 1024;
  // A cgroup pids limit per command; 0: none. Off by default: on cgroup v1 each start then
  // pays two cgroup migrations (milliseconds each, on the loop thread); see docs/security.md.
  int max_tasks_per_command = 0;
  bool announce = true;       // print "listening on ADDR" lines on stdout
  bool log_commands = false;  // command text in process_start log lines (it may hold secrets)
};

// Runs `corral serve` until SIGTERM or SIGINT; returns the process exit code. `on_ready`, if
// set, is called once every listener is bound, before any request is served.
int Serve(const ServeOptions& options, const std::function<void()>& on_ready = {});

}  // namespace corral::server
