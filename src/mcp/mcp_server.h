#pragma once

#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "client/corral_client.h"

namespace corral::mcp {

// The MCP revision this server speaks first; older ones it also accepts are listed in the .cc.
inline constexpr std::string_view kProtocolVersion = "2025-06-18";

// A Model Context Protocol server (JSON-RPC 2.0, one message per line) exposing corral's
// operations as tools: run_command, process_output, list_processes, signal_process. It talks
// to a corral server through `client`. A malformed message gets a JSON-RPC error; nothing a
// client sends ends the server.
class McpServer {
 public:
  explicit McpServer(client::CorralClient& client) : client_(client) {}

  // Handles one line; returns the line to answer with, if any (notifications get none).
  std::optional<std::string> HandleLine(std::string_view line);

  // Serves `in` until end of file, answering on `out`.
  void Run(std::istream& in, std::ostream& out);

 private:
  client::CorralClient& client_;
};

}  // namespace corral::mcp
