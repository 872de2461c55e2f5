#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "proc/defaults.h"
#include "proc/process_table.h"

namespace corral::server {

struct ServeOptions {
  std::vector<std::string> listen;  // "unix:/path" or "HOST:PORT"; empty: the default socket
  bool no_auth = false;             // TCP without a bearer token
  std::string token_file;           // else CORRAL_TOKEN, else generated next to the socket
  // Browsers (DESIGN.md §7.6): names besides IP literals and localhost that requests may be
  // addressed to, and origins besides the server's own that they may come from.
  std::vector<std::string> allow_hosts;
  std::vector<std::string> allow_origins;
  std::string workdir;   // default working directory of commands
  std::string env_file;  // KEY=VALUE lines, or an executable that prints them
  // Give commands the agent-friendly environment defaults (proc::AgentEnvironment);
  // `--no-agent-env` turns them off.
  bool agent_env = true;
  std::chrono::milliseconds drain_grace = proc::kDrainGrace;
  std::chrono::milliseconds shutdown_grace = proc::kShutdownGrace;
  std::chrono::milliseconds retention = proc::kDoneRetention;  // done processes are then forgotten
  // A request must arrive whole within this (so must the next one on an idle connection).
  std::chrono::milliseconds request_timeout{30000};
  std::size_t max_processes = proc::kMaxLive;
  std::size_t max_done = proc::kMaxRetainedDone;  // done processes remembered at once
  std::size_t max_connections = 1024;
  // A cgroup pids limit per command; 0: none. Off by default: on cgroup v1 each start then
  // pays two cgroup migrations (milliseconds each, on the loop thread); see docs/security.md.
  int max_tasks_per_command = 0;
  // Each command's output spool: its bound (clamped to at least proc::kMinSpoolMaxForRender)
  // and the bound on all spools together (DESIGN §7.1).
  std::uint64_t spool_max = store::kDefaultSpoolMaxBytes;
  std::uint64_t spool_total = proc::kDefaultSpoolTotalBytes;
  bool announce = true;       // print "listening on ADDR" lines on stdout
  bool log_commands = false;  // command text in process_start log lines (it may hold secrets)
  // The state directory (DESIGN §7.4): the journal and the spools. Empty: the default,
  // store::DefaultStateDir(). `ephemeral`: a private temporary directory removed at exit and no
  // journal, so nothing survives the server; both set is a usage error.
  std::string state_dir;
  bool ephemeral = false;
};

// Runs `corral serve` until SIGTERM, SIGINT or SIGHUP; returns the process exit code. `on_ready`,
// if set, is called once every listener is bound, before any request is served.
int Serve(const ServeOptions& options, const std::function<void()>& on_ready = {});

}  // namespace corral::server
