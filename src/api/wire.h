#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "proc/process.h"
#include "proc/process_ports.h"
#include "proc/process_table.h"
#include "proc/spool_text.h"
#include "sys/pty.h"

namespace corral::api {

// An error answer: the HTTP status and the {"message", "detail"?} body.
struct ApiError {
  int status;
  std::string message;
  std::string detail;
};

// JSON bodies of the v0 protocol. Decoders follow Go's encoding/json as Coder's agent uses it:
// unknown fields are ignored, null counts as absent, a wrong type is an error.

// POST /start. The chat id is not part of the body; the caller sets it.
std::variant<proc::StartSpec, ApiError> DecodeStart(std::string_view body);
// POST /{id}/signal: the "signal" field, empty when absent or null.
std::variant<std::string, ApiError> DecodeSignal(std::string_view body);

// Talking to a running command (DESIGN §7.3).
// A terminal is at most this many rows and columns: programs size their screens by it.
inline constexpr int kMaxTerminalCells = 1000;
// POST /{id}/input.
struct InputRequest {
  std::string data;
  bool close = false;
};
std::variant<InputRequest, ApiError> DecodeInput(std::string_view body);
// POST /{id}/resize: {"rows", "cols"}; 400 "Invalid size." unless both are 1 to kMaxTerminalCells.
std::variant<sys::WindowSize, ApiError> DecodeResize(std::string_view body);
// {"written": n}, and a terminal's {"rows", "cols"}.
std::string EncodeWritten(std::size_t bytes);
std::string EncodeSize(sys::WindowSize size);
// A start's `tty` object, or a resize's body: 400 "Invalid tty." as for DecodeResize.
std::variant<sys::WindowSize, ApiError> DecodeTerminalSize(const boost::json::value& v);

std::string EncodeError(std::string_view message, std::string_view detail);
std::string EncodeMessage(std::string_view message);
std::string EncodeStarted(const proc::Process& process);
// A command's `listening_ports` (DESIGN §7.3, proc::PortScan): nullopt leaves the field out.
using ListeningPorts = std::optional<proc::Ports>;
// `list` and `/wait`: `ports[i]` is the listening_ports of processes[i] (none when `ports` is
// shorter).
std::string EncodeList(const std::vector<std::shared_ptr<const proc::Process>>& processes,
                       std::span<const ListeningPorts> ports = {});
// `output`: the rendering (proc::Process::RenderOutput) and the process's state.
std::string EncodeOutput(const proc::Process& process, proc::RenderedOutput rendered,
                         const ListeningPorts& ports = std::nullopt);
// `read` (DESIGN §7.2): one cursor read and the process's state.
std::string EncodeRead(const proc::Process& process, const proc::OutputRead& read,
                       const ListeningPorts& ports = std::nullopt);

struct Health {
  bool closing;
  std::size_t processes;  // in the table, running or done
  std::size_t running;
  std::size_t waiters;        // requests blocked in ?wait=true
  std::size_t connections;    // open client connections
  int max_tasks_per_command;  // the per-command process limit in force; 0: none
  std::string_view tracking;  // how a command's processes are found: "cgroup", "process-group"
};
std::string EncodeHealth(const Health& health);

}  // namespace corral::api
