#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/corral_client.h"

namespace corral::cli {

// What every client subcommand shares: how to reach the server and how to print.
struct ClientOptions {
  std::string server;      // --server / $CORRAL_SERVER; empty: the default socket
  std::string token_file;  // --token-file; else $CORRAL_TOKEN; else the default token file
  std::string chat_id;     // --chat-id / $CORRAL_CHAT_ID
  bool json = false;       // print the server's JSON answers as they are
};

struct RunOptions {
  std::vector<std::string> command;  // joined with spaces into one shell command line
  std::string workdir;
  std::vector<std::string> env;  // KEY=VALUE
  bool background = false;
  std::optional<std::chrono::milliseconds> timeout;
  std::string idempotency_key;  // sent as Idempotency-Key when not empty
};

// Each returns the process exit code for `corral`. Errors are printed to stderr.
int Run(const ClientOptions& c, const RunOptions& run);
int Ps(const ClientOptions& c, bool all);
int Output(const ClientOptions& c, const std::string& id, bool wait);
int Signal(const ClientOptions& c, const std::string& id, const std::string& signal);
// `corral mcp`: serves MCP on stdio against the server in `c`, or an embedded one (ephemeral
// unless given a state dir).
int Mcp(const ClientOptions& c, bool embedded, const std::string& workdir,
        const std::string& state_dir = {});

// The exit status of `corral run` when --timeout ran out with the command still running.
inline constexpr int kStillRunningExit = 124;

}  // namespace corral::cli
