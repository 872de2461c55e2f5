#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <variant>
#include <vector>

#include "client/corral_client.h"

namespace corral::mcp {

// How long run_command waits when not told (yield_ms), and the most it waits.
inline constexpr std::chrono::milliseconds kDefaultWait{10'000};
inline constexpr std::chrono::milliseconds kMaxYield{30'000};
// How long send_input waits for what the command prints when not told.
inline constexpr std::chrono::milliseconds kDefaultInputYield{2'000};
// The most any tool waits.
inline constexpr std::chrono::milliseconds kMaxWait{10 * 60 * 1000};
// The most a tool waits for a client that did not ask for progress notifications: the official
// SDKs give up on a request after 60 s by default, and a late answer is lost.
inline constexpr std::chrono::milliseconds kMaxWaitWithoutProgress{50'000};
// The most output process_output returns from an offset in one call (raw bytes; the read
// never cuts a character): about 4,000 tokens, a size a model takes without crowding out its
// context. What is left is counted and read by the next call.
inline constexpr std::size_t kMaxReadBytes = 16 * 1024;

// The tool definitions for tools/list: names, descriptions written for a model, schemas.
const boost::json::array& ToolDefinitions();

// A tools/call whose arguments were checked.
struct ToolCall {
  enum class Tool {
    kRunCommand,
    kProcessOutput,
    kListProcesses,
    kSignalProcess,
    kSendInput,
    kWaitProcesses
  };
  Tool tool = Tool::kListProcesses;
  // kRunCommand (idempotency_key, stdin, tty and the deadline included)
  client::StartArgs start;
  std::string id;  // kProcessOutput, kSignalProcess, kSendInput
  // kProcessOutput: read from this raw byte offset of the output (at most kMaxReadBytes) rather
  // than render the head+tail view.
  std::optional<std::uint64_t> offset;
  bool clean = false;  // kProcessOutput: the clean view (DESIGN §7.3)
  // kRunCommand, kSendInput: how long to wait, yield_ms (always set); kProcessOutput: wait_ms,
  // if given; kWaitProcesses: timeout_ms (always set).
  std::optional<std::chrono::milliseconds> wait;
  std::vector<std::string> ids;  // kWaitProcesses
  bool all = false;              // kWaitProcesses: until every one is done
  std::string text;              // kSendInput
  bool close = false;            // kSendInput: close stdin after the text
  std::string signal;            // kSignalProcess: "terminate" or "kill"
  std::optional<int> limit;      // kListProcesses
};

// Why a tools/call cannot run, as a JSON-RPC invalid-params error says it.
struct InvalidCall {
  std::string message;  // "Unknown tool: X" or "Invalid params"
  std::string data;     // what is wrong, for "Invalid params"
};

// Checks the params of a tools/call ({"name", "arguments"}) against the tool's input schema.
std::variant<ToolCall, InvalidCall> ParseToolCall(const boost::json::object& params);

// Called while a tool waits, after each slice of the wait, with the time waited so far.
using WaitProgress = std::function<void(std::chrono::milliseconds waited)>;

// Runs a checked call through `api`; returns its CallToolResult (a failure of the server or of
// the command is a result with isError, never an exception). When `stop` is requested, a wait
// ends at once and the result gives the process's state at that moment.
boost::json::object RunTool(const ToolCall& call, client::CorralClient& api,
                            std::stop_token stop = {}, const WaitProgress& progress = {});

}  // namespace corral::mcp
