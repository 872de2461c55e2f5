#include "api/wire.h"

#include <boost/json.hpp>
#include <chrono>

#include "proc/defaults.h"
#include "proc/signal_name.h"

namespace corral::api {
namespace json = boost::json;
namespace {

constexpr std::string_view kInvalidJson = "Request body must be valid JSON.";

// The kernel refuses to exec with any one argument or environment entry longer than this,
// terminating NUL included (MAX_ARG_STRLEN, 32 pages of 4 KiB), with E2BIG. The command is one
// argument of `sh -c`, so a longer one is the client's mistake: 400, not a failed spawn.
constexpr std::size_t kMaxArgumentBytes = 131072;

std::string ArgumentLimit() {
  return "the limit is " + std::to_string(kMaxArgumentBytes - 1) +
         " bytes (the kernel's MAX_ARG_STRLEN of " + std::to_string(kMaxArgumentBytes) +
         " bytes, terminating NUL included); pass long input through a file";
}

ApiError BadJson(std::string detail) { return {400, std::string(kInvalidJson), std::move(detail)}; }

ApiError WrongType(std::string_view field, std::string_view expected) {
  return BadJson("field \"" + std::string(field) + "\" must be " + std::string(expected));
}

// Parses the body as a JSON object; a top-level null is an empty object, as in Go.
std::variant<json::object, ApiError> ParseObject(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return BadJson(ec.message());
  if (v.is_null()) return json::object();
  if (!v.is_object()) return BadJson("the body must be a JSON object");
  return std::move(v.as_object());
}

// Reads an optional string field: absent or null leaves `out` untouched.
std::optional<ApiError> ReadString(const json::object& o, std::string_view key, std::string& out) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_string()) return WrongType(key, "a string");
  out.assign(v->get_string().data(), v->get_string().size());
  return std::nullopt;
}

// `timeout_ms` of a start (DESIGN §7.3): a whole number of milliseconds, 0 to
// proc::kMaxRunTimeout; absent, null or 0: no deadline. Not a number is a type error, as for
// every field; a number out of range or with a fraction is 400 "Invalid timeout_ms.".
std::optional<ApiError> ReadTimeout(const json::object& o, std::chrono::milliseconds& out) {
  const json::value* v = o.if_contains("timeout_ms");
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_number()) return WrongType("timeout_ms", "a number");
  boost::system::error_code ec;
  const auto ms = v->to_number<std::int64_t>(ec);
  if (ec || ms < 0 || ms > proc::kMaxRunTimeout.count()) {
    return ApiError{400, "Invalid timeout_ms.",
                    "timeout_ms must be a whole number of milliseconds from 0 (no deadline) to " +
                        std::to_string(proc::kMaxRunTimeout.count()) + " (7 days)"};
  }
  out = std::chrono::milliseconds(ms);
  return std::nullopt;
}

void PutExit(json::object& o, const proc::Process& p) {
  const auto& exit = p.exit_status();
  if (!exit) return;
  // A signalled shell reports -1, as Coder does, plus the signal's name.
  o["exit_code"] = exit->signaled ? -1 : exit->code;
  if (exit->signaled) o["exit_signal"] = proc::SignalName(exit->signal);
  if (auto ended_by = p.ended_by()) o["ended_by"] = proc::EndedByName(*ended_by);
}

void PutPorts(json::object& o, const ListeningPorts& ports) {
  if (!ports) return;
  json::array a;
  a.reserve(ports->size());
  for (std::uint16_t port : *ports) a.push_back(port);
  o["listening_ports"] = std::move(a);
}

// `stdin` and `tty` of a start (DESIGN §7.3).
std::optional<ApiError> DecodeInteraction(const json::object& o, proc::StartSpec& spec) {
  std::string stdin_mode;
  if (auto e = ReadString(o, "stdin", stdin_mode)) return e;
  if (stdin_mode == "pipe") {
    spec.stdin_mode = sys::StdinMode::kPipe;
  } else if (!stdin_mode.empty() && stdin_mode != "null") {
    return ApiError{400, "Invalid stdin.", "use \"null\" or \"pipe\" (or \"tty\": true)"};
  }
  const json::value* tty = o.if_contains("tty");
  if (!tty || tty->is_null() || (tty->is_bool() && !tty->get_bool())) return std::nullopt;
  if (!tty->is_bool()) {
    auto size = DecodeTerminalSize(*tty);
    if (auto* e = std::get_if<ApiError>(&size)) return std::move(*e);
    spec.tty_size = std::get<sys::WindowSize>(size);
  }
  if (spec.stdin_mode == sys::StdinMode::kPipe) {
    return ApiError{400, "Invalid stdin.",
                    "a command on a terminal reads the terminal: leave stdin out with tty"};
  }
  spec.stdin_mode = sys::StdinMode::kTty;
  return std::nullopt;
}

// `stdin` while running only: once done it no longer applies (the journal keeps it all the same,
// and a done process answers the same before and after a restart of the server, DESIGN §7.4).
void PutInteraction(json::object& o, const proc::Process& p) {
  if (auto mode = p.stdin_mode(); mode && p.running()) o["stdin"] = proc::StdinName(*mode);
  if (auto waiting = p.waiting_for_input()) o["waiting_for_input"] = *waiting;
}

}  // namespace

std::variant<sys::WindowSize, ApiError> DecodeTerminalSize(const json::value& v) {
  const std::string limits =
      "rows and cols are whole numbers from 1 to " + std::to_string(kMaxTerminalCells);
  if (!v.is_object()) return ApiError{400, "Invalid tty.", limits};
  sys::WindowSize size;
  for (auto [key, out] : {std::pair{"rows", &size.rows}, std::pair{"cols", &size.cols}}) {
    const json::value* n = v.get_object().if_contains(key);
    // JSON integers that fit are int64; anything else (a fraction, a string, 2^63) is invalid.
    if (!n || !n->is_int64() || n->get_int64() < 1 || n->get_int64() > kMaxTerminalCells) {
      return ApiError{400, "Invalid tty.", limits};
    }
    *out = static_cast<unsigned short>(n->get_int64());
  }
  return size;
}

std::variant<InputRequest, ApiError> DecodeInput(std::string_view body) {
  auto parsed = ParseObject(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return std::move(*e);
  const auto& o = std::get<json::object>(parsed);
  InputRequest input;
  if (auto e = ReadString(o, "data", input.data)) return std::move(*e);
  if (const json::value* v = o.if_contains("close"); v && !v->is_null()) {
    if (!v->is_bool()) return WrongType("close", "a boolean");
    input.close = v->get_bool();
  }
  return input;
}

std::variant<sys::WindowSize, ApiError> DecodeResize(std::string_view body) {
  auto parsed = ParseObject(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return std::move(*e);
  auto size = DecodeTerminalSize(std::get<json::object>(parsed));
  if (auto* e = std::get_if<ApiError>(&size)) {
    e->message = "Invalid size.";
    return std::move(*e);
  }
  return size;
}

std::variant<proc::StartSpec, ApiError> DecodeStart(std::string_view body) {
  auto parsed = ParseObject(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return std::move(*e);
  const auto& o = std::get<json::object>(parsed);

  proc::StartSpec spec;
  if (auto e = ReadString(o, "command", spec.command)) return std::move(*e);
  std::string workdir;
  if (auto e = ReadString(o, "workdir", workdir)) return std::move(*e);
  if (!workdir.empty()) spec.workdir = std::move(workdir);
  if (const json::value* v = o.if_contains("background"); v && !v->is_null()) {
    if (!v->is_bool()) return WrongType("background", "a boolean");
    spec.background = v->get_bool();
  }
  if (const json::value* v = o.if_contains("env"); v && !v->is_null()) {
    if (!v->is_object()) return WrongType("env", "an object of strings");
    for (const auto& [key, value] : v->get_object()) {
      if (!value.is_string() && !value.is_null()) return WrongType("env", "an object of strings");
      if (key.empty() || key.find('=') != json::string_view::npos ||
          key.find('\0') != json::string_view::npos) {
        return ApiError{400, "Invalid environment variable name.",
                        "\"" + std::string(key) + "\" is empty or contains '=' or NUL"};
      }
      std::string text = value.is_string() ? std::string(value.get_string()) : std::string();
      if (text.find('\0') != std::string::npos) {
        return ApiError{400, "Invalid environment variable value.",
                        "the value of \"" + std::string(key) + "\" contains NUL"};
      }
      if (key.size() + 1 + text.size() + 1 > kMaxArgumentBytes) {
        return ApiError{400, "Environment variable is too long.",
                        "\"" + std::string(key) + "\": " + ArgumentLimit() + " for KEY=VALUE"};
      }
      spec.env.emplace_back(std::string(key), std::move(text));
    }
  }
  if (auto e = ReadTimeout(o, spec.timeout)) return std::move(*e);
  if (auto e = DecodeInteraction(o, spec)) return std::move(*e);
  if (spec.command.empty()) return ApiError{400, "Command is required.", ""};
  if (spec.command.size() + 1 > kMaxArgumentBytes) {
    return ApiError{400, "Command is too long.", ArgumentLimit()};
  }
  if (spec.command.find('\0') != std::string::npos) {
    return ApiError{400, "Command must not contain NUL bytes.", ""};
  }
  if (spec.workdir && spec.workdir->find('\0') != std::string::npos) {
    return ApiError{400, "Workdir must not contain NUL bytes.", ""};
  }
  return spec;
}

std::variant<std::string, ApiError> DecodeSignal(std::string_view body) {
  auto parsed = ParseObject(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return std::move(*e);
  std::string signal;
  if (auto e = ReadString(std::get<json::object>(parsed), "signal", signal)) return std::move(*e);
  return signal;
}

std::string EncodeError(std::string_view message, std::string_view detail) {
  json::object o;
  o["message"] = message;
  if (!detail.empty()) o["detail"] = detail;
  return json::serialize(o);
}

std::string EncodeMessage(std::string_view message) {
  json::object o;
  o["message"] = message;
  return json::serialize(o);
}

std::string EncodeStarted(const proc::Process& process) {
  json::object o;
  o["id"] = process.id();
  o["started"] = true;
  return json::serialize(o);
}

std::string EncodeList(const std::vector<std::shared_ptr<const proc::Process>>& processes,
                       std::span<const ListeningPorts> ports) {
  json::array list;
  list.reserve(processes.size());
  for (std::size_t i = 0; i < processes.size(); ++i) {
    const auto& p = processes[i];
    json::object o;
    o["id"] = p->id();
    o["command"] = p->command();
    if (!p->workdir().empty()) o["workdir"] = p->workdir();
    o["background"] = p->background();
    o["running"] = p->running();
    PutExit(o, *p);
    PutInteraction(o, *p);
    o["started_at_unix"] = p->started_at_unix();
    if (!p->running()) o["exited_at_unix"] = p->exited_at_unix();
    if (p->timeout().count() > 0) o["timeout_ms"] = p->timeout().count();
    if (i < ports.size()) PutPorts(o, ports[i]);
    list.push_back(std::move(o));
  }
  json::object body;
  body["processes"] = std::move(list);
  return json::serialize(body);
}

std::string EncodeOutput(const proc::Process& process, proc::RenderedOutput rendered,
                         const ListeningPorts& ports) {
  json::object o;
  o["output"] = std::move(rendered.text);
  if (const auto& t = rendered.truncation) {
    json::object info;
    info["original_bytes"] = t->original_bytes;
    info["retained_bytes"] = t->retained_bytes;
    info["omitted_bytes"] = t->omitted_bytes;
    info["lines_truncated"] = t->lines_truncated;
    info["strategy"] = "head_tail";
    o["truncated"] = std::move(info);
  }
  o["running"] = process.running();
  PutExit(o, process);
  PutInteraction(o, process);
  o["command"] = process.command();
  PutPorts(o, ports);
  if (std::string error = process.spool_error(); !error.empty()) o["spool_error"] = error;
  return json::serialize(o);
}

std::string EncodeRead(const proc::Process& process, const proc::OutputRead& read,
                       const ListeningPorts& ports) {
  json::object o;
  o["data"] = read.data;
  o["offset"] = read.offset;
  o["next_offset"] = read.next_offset;
  o["total_bytes"] = process.total_bytes();
  o["eof"] = read.eof;
  o["running"] = process.running();
  PutExit(o, process);
  PutInteraction(o, process);
  if (read.gap) {
    json::object gap;
    gap["from"] = read.gap->from;
    gap["to"] = read.gap->to;
    o["gap"] = std::move(gap);
  }
  PutPorts(o, ports);
  if (std::string error = process.spool_error(); !error.empty()) o["spool_error"] = error;
  return json::serialize(o);
}

std::string EncodeWritten(std::size_t bytes) {
  json::object o;
  o["written"] = bytes;
  return json::serialize(o);
}

std::string EncodeSize(sys::WindowSize size) {
  json::object o;
  o["rows"] = size.rows;
  o["cols"] = size.cols;
  return json::serialize(o);
}

std::string EncodeHealth(const Health& h) {
  json::object o;
  o["status"] = h.closing ? "closing" : "ok";
  o["processes"] = h.processes;
  o["running"] = h.running;
  o["waiters"] = h.waiters;
  o["connections"] = h.connections;
  o["max_tasks_per_command"] = h.max_tasks_per_command;
  o["tracking"] = h.tracking;
  return json::serialize(o);
}

}  // namespace corral::api
