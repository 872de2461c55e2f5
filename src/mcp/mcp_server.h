#pragma once

#include <cstddef>
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "client/corral_client.h"
#include "client/http_client.h"

namespace corral::mcp {

// The MCP revision this server speaks first; older ones it also accepts are listed in the .cc.
inline constexpr std::string_view kProtocolVersion = "2025-06-18";

// A Model Context Protocol server (JSON-RPC 2.0, one message per line) exposing corral's
// operations as tools: run_command, process_output, list_processes, signal_process. It talks
// to the corral server at `destination`, one connection per tool call. A malformed message gets
// a JSON-RPC error; nothing a client sends ends the server.
class McpServer {
 public:
  struct Limits {
    std::size_t max_calls_in_flight = 64;  // past it, a tool call is answered with a tool error
    client::Deadlines deadlines;
  };

  explicit McpServer(client::Destination destination) : McpServer(std::move(destination), {}) {}
  McpServer(client::Destination destination, Limits limits)
      : destination_(std::move(destination)), limits_(limits) {}

  // Handles one line to its end on this thread, a tool call included; returns the answer, if
  // any (notifications get none; no progress notification is sent).
  std::optional<std::string> HandleLine(std::string_view line) const;

  // Serves `in` until end of file, answering on `out`. Each tool call runs on its own thread,
  // so that other messages (ping, other calls, notifications/cancelled) are answered while it
  // waits; a call cancelled before it is answered is not answered. A call whose request carries
  // `_meta.progressToken` may wait up to kMaxWait and gets notifications/progress while it
  // does; others wait at most kMaxWaitWithoutProgress. At end of file, waits in progress end
  // at once and are answered with the state of their process; returns when all is answered.
  void Run(std::istream& in, std::ostream& out) const;

 private:
  struct Message;
  Message Classify(std::string_view line) const;

  client::Destination destination_;
  Limits limits_;
};

}  // namespace corral::mcp
