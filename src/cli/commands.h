#pragma once

#include <chrono>
#include <cstdint>
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
  std::string chat_id;     // --chat-id / $CORRAL_CHAT_ID; must be a UUID when not empty
  bool json = false;       // print the server's JSON answers as they are
};

struct RunOptions {
  std::vector<std::string> command;  // one word: a command line; several: quoted words
  std::string workdir;               // empty: the caller's cwd on a local server, else its default
  std::vector<std::string> env;      // KEY=VALUE
  bool background = false;
  bool detach_on_interrupt = false;  // Ctrl-C leaves the command running instead of ending it
  std::optional<std::chrono::milliseconds> timeout;
  std::string idempotency_key;  // sent as Idempotency-Key when not empty
  // A run deadline (DESIGN §7.3, sent as timeout_ms): the server ends the command after it.
  std::optional<std::chrono::milliseconds> deadline;
  // -i: local stdin forwarded to the command's stdin (a pipe), its EOF closing it.
  bool interactive = false;
  // --tty: the command on a terminal of the local terminal's size; a terminal session
  // (session.h): raw mode, keystrokes and size forwarded. Excludes `interactive`.
  bool tty = false;
};

// The exit statuses of `corral` that are not a command's own. Each subcommand returns one of
// these or, for `run` and `output --wait`, the command's exit status (128+n for signal n).
inline constexpr int kUsageExit = 2;           // bad arguments
inline constexpr int kStillRunningExit = 124;  // run --timeout ran out, the command still runs
inline constexpr int kCorralFailedExit = 125;  // no server, a server error, no answer in time
inline constexpr int kInterruptedExit = 130;   // Ctrl-C during a foreground run

// Each returns the process exit code for `corral`. Errors are printed to stderr.
int Run(const ClientOptions& c, const RunOptions& run);
int Ps(const ClientOptions& c, bool all, std::optional<int> limit);
// `clean`: the clean view (DESIGN §7.3).
int Output(const ClientOptions& c, const std::string& id, bool wait, bool clean = false);

struct LogsOptions {
  std::string id;
  std::uint64_t from = 0;  // the raw byte offset to start at
  bool follow = false;     // keep printing until the process is done and its output read
  bool clean = false;      // the clean view (DESIGN §7.3)
};
// `corral logs`: the output from `from` on, exactly (chained `read` calls, their `data` printed
// as it is; with --json, each read answer on a line). Returns 0, or kCorralFailedExit (an
// unknown id included).
int Logs(const ClientOptions& c, const LogsOptions& logs);
int Signal(const ClientOptions& c, const std::string& id, const std::string& signal);
// `corral wait`: waits until any (`all`: every one) of processes `ids` is done, or `timeout`
// passes; prints their state as `corral ps` does. Returns the command's exit status for one id;
// for several, 0 when every one that is done exited 0, else 1; kStillRunningExit when the
// timeout passed first (none done, or with `all` not all), kInterruptedExit after Ctrl-C.
int Wait(const ClientOptions& c, const std::vector<std::string>& ids, bool all,
         std::optional<std::chrono::milliseconds> timeout);
// `corral send`: writes `text` to process `id`'s stdin, then closes it when `close`. Returns 0,
// or kCorralFailedExit with the server's message (not running, no open stdin, queue full).
int Send(const ClientOptions& c, const std::string& id, const std::string& text, bool close);
// `corral attach`: a terminal session (session.h) on running process `id`, which must run on a
// terminal, from its output's current end. Exit statuses as TerminalSession's.
int Attach(const ClientOptions& c, const std::string& id);
// `corral mcp`: serves MCP on stdio against the server in `c`, or an embedded one (ephemeral
// unless given a state dir).
int Mcp(const ClientOptions& c, bool embedded, const std::string& workdir,
        const std::string& state_dir = {});

}  // namespace corral::cli
