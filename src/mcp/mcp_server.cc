#include "mcp/mcp_server.h"

#include <boost/json.hpp>
#include <chrono>

namespace corral::mcp {
namespace json = boost::json;
namespace {

// JSON-RPC 2.0 error codes.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;

// How long run_command waits in the foreground by default, and at most.
constexpr std::int64_t kDefaultTimeoutMs = 10'000;
constexpr std::int64_t kMaxTimeoutMs = 10 * 60 * 1000;

constexpr std::string_view kSupportedVersions[] = {"2025-06-18", "2025-03-26", "2024-11-05"};

constexpr std::string_view kInstructions =
    "Runs shell commands on this machine through corral. Commands run as `sh -c COMMAND` in "
    "their own process group and keep running after a tool call returns. Output is the first "
    "and last 16 KiB of stdout+stderr; long lines are cut.";

// The tool definitions: names, descriptions written for a model, input and output schemas.
json::array Tools() {
  static const json::array tools = [] {
    const json::value process_result = json::parse(R"({
      "type": "object",
      "properties": {
        "id": {"type": "string"},
        "output": {"type": "string"},
        "running": {"type": "boolean"},
        "exit_code": {"type": "integer"},
        "exit_signal": {"type": "string"},
        "truncated": {"type": "object"}
      },
      "required": ["id", "running"]
    })");
    json::array t;
    t.push_back({{"name", "run_command"},
                 {"title", "Run a shell command"},
                 {"description",
                  "Run a shell command (sh -c) and return its output and exit code. Waits up to "
                  "timeout_ms (default 10000) for it to finish. If it is still running then, "
                  "the partial output is returned with running=true and the process id; the "
                  "process is NOT stopped: read more later with process_output, or stop it "
                  "with signal_process. With background=true, returns the id at once."},
                 {"inputSchema", json::parse(R"({
                    "type": "object",
                    "properties": {
                      "command": {"type": "string", "minLength": 1,
                                  "description": "Shell command line, run as sh -c COMMAND."},
                      "workdir": {"type": "string",
                                  "description": "Working directory; defaults to the server's."},
                      "env": {"type": "object", "additionalProperties": {"type": "string"},
                              "description": "Extra environment variables."},
                      "background": {"type": "boolean",
                                     "description": "Return at once without waiting."},
                      "timeout_ms": {"type": "integer", "minimum": 0, "maximum": 600000,
                                     "description": "How long to wait for the command to finish (default 10000). Does not kill it."},
                      "key": {"type": "string", "minLength": 1, "maxLength": 255,
                              "description": "Idempotency key: a retried call with the same key and arguments returns the first call's process instead of running the command again."}
                    },
                    "required": ["command"]
                  })")},
                 {"outputSchema", process_result}});
    t.push_back({{"name", "process_output"},
                 {"title", "Read a process's output"},
                 {"description",
                  "Return the output so far, running state and exit code of a process started "
                  "by run_command. With wait_ms, first waits up to that long for it to finish "
                  "(waiting never stops the process)."},
                 {"inputSchema", json::parse(R"({
                    "type": "object",
                    "properties": {
                      "id": {"type": "string", "description": "The process id."},
                      "wait_ms": {"type": "integer", "minimum": 0, "maximum": 600000,
                                  "description": "Wait up to this long for the process to finish."}
                    },
                    "required": ["id"]
                  })")},
                 {"outputSchema", process_result}});
    t.push_back({{"name", "list_processes"},
                 {"title", "List processes"},
                 {"description",
                  "List recent processes (running first, then newest; at most 10) with their "
                  "ids, commands, running state and exit codes."},
                 {"inputSchema", {{"type", "object"}, {"properties", json::object()}}},
                 {"outputSchema", json::parse(R"({
                    "type": "object",
                    "properties": {"processes": {"type": "array", "items": {"type": "object"}}},
                    "required": ["processes"]
                  })")}});
    t.push_back({{"name", "signal_process"},
                 {"title", "Stop a process"},
                 {"description",
                  "Send a signal to a process and everything it started (its process group): "
                  "terminate (SIGTERM, lets it clean up) or kill (SIGKILL, immediate)."},
                 {"inputSchema", json::parse(R"({
                    "type": "object",
                    "properties": {
                      "id": {"type": "string", "description": "The process id."},
                      "signal": {"type": "string", "enum": ["terminate", "kill"]}
                    },
                    "required": ["id", "signal"]
                  })")},
                 {"outputSchema", json::parse(R"({
                    "type": "object",
                    "properties": {"message": {"type": "string"}},
                    "required": ["message"]
                  })")}});
    return t;
  }();
  return tools;
}

std::string Reply(const json::value& id, json::value result) {
  return json::serialize(
      json::object{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}});
}

std::string Error(const json::value& id, int code, std::string_view message,
                  std::string_view data = {}) {
  json::object error{{"code", code}, {"message", message}};
  if (!data.empty()) error["data"] = data;
  return json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}});
}

// A failed argument check, reported as JSON-RPC invalid params.
struct BadParams {
  std::string why;
};

const json::object& Arguments(const json::object& params) {
  static const json::object kEmpty;
  const json::value* args = params.if_contains("arguments");
  if (!args || args->is_null()) return kEmpty;
  if (!args->is_object()) throw BadParams{"arguments must be an object"};
  return args->as_object();
}

std::string String(const json::object& args, std::string_view key, bool required) {
  const json::value* v = args.if_contains(key);
  if (!v || v->is_null()) {
    if (required) throw BadParams{"missing required argument \"" + std::string(key) + "\""};
    return {};
  }
  if (!v->is_string()) throw BadParams{"\"" + std::string(key) + "\" must be a string"};
  return std::string(v->as_string());
}

std::optional<std::int64_t> Milliseconds(const json::object& args, std::string_view key) {
  const json::value* v = args.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  std::int64_t ms;
  if (v->is_int64()) {
    ms = v->as_int64();
  } else if (v->is_uint64()) {
    ms = kMaxTimeoutMs;
  } else if (v->is_double() &&
             v->as_double() == static_cast<double>(static_cast<std::int64_t>(v->as_double()))) {
    ms = static_cast<std::int64_t>(v->as_double());  // 5000.0 is an integer in JSON Schema
  } else {
    throw BadParams{"\"" + std::string(key) + "\" must be an integer"};
  }
  if (ms < 0) throw BadParams{"\"" + std::string(key) + "\" must be >= 0"};
  return std::min(ms, kMaxTimeoutMs);
}

// The text a model reads for a process answer: the output, then one line of state.
std::string ProcessText(const json::object& o) {
  std::string text(o.at("output").as_string());
  if (!text.empty() && text.back() != '\n') text += '\n';
  const std::string id(o.at("id").as_string());
  if (o.at("running").as_bool()) {
    text += "[process " + id + " is still running; use process_output to read more or " +
            "signal_process to stop it]";
  } else if (auto* sig = o.if_contains("exit_signal")) {
    text += "[process " + id + " was killed by " + std::string(sig->as_string()) + "]";
  } else {
    text += "[process " + id + " exited with code " + std::to_string(o.at("exit_code").as_int64()) +
            "]";
  }
  if (auto* t = o.if_contains("truncated")) {
    text += "\n[output truncated: " + json::serialize(*t) + "]";
  }
  return text;
}

json::object ToolResult(std::string text, json::object structured) {
  return {{"content", json::array{json::object{{"type", "text"}, {"text", std::move(text)}}}},
          {"structuredContent", std::move(structured)},
          {"isError", false}};
}

json::object ToolFailure(const base::Status& status) {
  return {{"content", json::array{json::object{{"type", "text"}, {"text", status.message()}}}},
          {"isError", true}};
}

// A process answer for a model: the server's output answer with the id added.
json::object ProcessResult(const std::string& id, json::object output) {
  output["id"] = id;
  output.erase("command");
  std::string text = ProcessText(output);
  return ToolResult(std::move(text), std::move(output));
}

}  // namespace

std::optional<std::string> McpServer::HandleLine(std::string_view line) {
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return std::nullopt;
  boost::system::error_code ec;
  json::value message = json::parse(line, ec);
  if (ec) return Error(nullptr, kParseError, "Parse error", ec.message());
  if (!message.is_object()) {
    return Error(nullptr, kInvalidRequest, "Invalid Request", "a message must be a JSON object");
  }
  const json::object& m = message.as_object();
  const json::value* id = m.if_contains("id");
  const json::value* method = m.if_contains("method");
  if (!method) return std::nullopt;  // a response to us: we send no requests, so ignore it
  const bool valid_id = id && (id->is_string() || id->is_int64() || id->is_uint64());
  const json::value& reply_id = valid_id ? *id : json::value(nullptr);
  if (m.if_contains("jsonrpc") == nullptr || m.at("jsonrpc") != "2.0" || !method->is_string() ||
      (id && !valid_id)) {
    return Error(reply_id, kInvalidRequest, "Invalid Request",
                 "expected jsonrpc \"2.0\", a string method and a string or integer id");
  }
  const std::string name(method->as_string());
  if (!id) return std::nullopt;  // notifications (initialized, cancelled) need no answer

  static const json::object kNoParams;
  const json::value* params_value = m.if_contains("params");
  if (params_value && !params_value->is_object() && !params_value->is_null()) {
    return Error(reply_id, kInvalidParams, "Invalid params", "params must be an object");
  }
  const json::object& params =
      params_value && params_value->is_object() ? params_value->as_object() : kNoParams;

  if (name == "initialize") {
    std::string version(kProtocolVersion);
    if (auto* v = params.if_contains("protocolVersion"); v && v->is_string()) {
      for (auto supported : kSupportedVersions) {
        if (v->as_string() == supported) version = supported;
      }
    }
    return Reply(reply_id, json::object{{"protocolVersion", version},
                                        {"capabilities", {{"tools", {{"listChanged", false}}}}},
                                        {"serverInfo", {{"name", "corral"}, {"version", "0.1.0"}}},
                                        {"instructions", kInstructions}});
  }
  if (name == "ping") return Reply(reply_id, json::object());
  if (name == "tools/list") return Reply(reply_id, json::object{{"tools", Tools()}});
  if (name != "tools/call") return Error(reply_id, kMethodNotFound, "Method not found", name);

  try {
    const std::string tool = String(params, "name", true);
    const json::object& args = Arguments(params);
    if (tool == "run_command") {
      client::StartArgs start;
      start.command = String(args, "command", true);
      if (start.command.empty()) throw BadParams{"\"command\" must not be empty"};
      start.workdir = String(args, "workdir", false);
      if (auto* env = args.if_contains("env"); env && !env->is_null()) {
        if (!env->is_object()) throw BadParams{"\"env\" must be an object of strings"};
        for (const auto& [k, v] : env->as_object()) {
          if (!v.is_string()) throw BadParams{"\"env\" must be an object of strings"};
          start.env.emplace_back(std::string(k), std::string(v.as_string()));
        }
      }
      if (auto* bg = args.if_contains("background"); bg && !bg->is_null()) {
        if (!bg->is_bool()) throw BadParams{"\"background\" must be a boolean"};
        start.background = bg->as_bool();
      }
      start.idempotency_key = String(args, "key", false);
      const auto timeout = Milliseconds(args, "timeout_ms").value_or(kDefaultTimeoutMs);
      auto started = client_.Start(start);
      if (!started.ok()) return Reply(reply_id, ToolFailure(started.status()));
      const std::string pid(started->at("id").as_string());
      if (start.background) {
        return Reply(reply_id, ToolResult("Started process " + pid + " in the background.",
                                          {{"id", pid}, {"running", true}}));
      }
      auto out = client_.WaitOutput(
          pid, std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout));
      if (!out.ok()) return Reply(reply_id, ToolFailure(out.status()));
      return Reply(reply_id, ProcessResult(pid, std::move(*out)));
    }
    if (tool == "process_output") {
      const std::string pid = String(args, "id", true);
      const auto wait = Milliseconds(args, "wait_ms");
      auto out = wait ? client_.WaitOutput(pid, std::chrono::steady_clock::now() +
                                                    std::chrono::milliseconds(*wait))
                      : client_.Output(pid, false);
      if (!out.ok()) return Reply(reply_id, ToolFailure(out.status()));
      return Reply(reply_id, ProcessResult(pid, std::move(*out)));
    }
    if (tool == "list_processes") {
      auto list = client_.List();
      if (!list.ok()) return Reply(reply_id, ToolFailure(list.status()));
      std::string text;
      for (const auto& p : list->at("processes").as_array()) {
        const auto& o = p.as_object();
        text += std::string(o.at("id").as_string()) + "  ";
        if (o.at("running").as_bool()) {
          text += "running";
        } else if (auto* sig = o.if_contains("exit_signal")) {
          text += "killed by " + std::string(sig->as_string());
        } else {
          text += "exited " + std::to_string(o.at("exit_code").as_int64());
        }
        text += "  " + std::string(o.at("command").as_string()) + "\n";
      }
      if (text.empty()) text = "No processes.";
      return Reply(reply_id, ToolResult(std::move(text), std::move(*list)));
    }
    if (tool == "signal_process") {
      const std::string pid = String(args, "id", true);
      const std::string signal = String(args, "signal", true);
      if (signal != "terminate" && signal != "kill") {
        throw BadParams{"\"signal\" must be \"terminate\" or \"kill\""};
      }
      auto sent = client_.Signal(pid, signal);
      if (!sent.ok()) return Reply(reply_id, ToolFailure(sent.status()));
      std::string text(sent->at("message").as_string());
      return Reply(reply_id, ToolResult(std::move(text), std::move(*sent)));
    }
    return Error(reply_id, kInvalidParams, "Unknown tool: " + tool);
  } catch (const BadParams& bad) {
    return Error(reply_id, kInvalidParams, "Invalid params", bad.why);
  } catch (const std::exception& e) {
    // A server answer of an unexpected shape: report it, keep serving.
    return Reply(reply_id, ToolFailure(base::Status(base::Code::kInternal, e.what())));
  }
}

void McpServer::Run(std::istream& in, std::ostream& out) {
  std::string line;
  while (std::getline(in, line)) {
    if (auto reply = HandleLine(line)) {
      out << *reply << '\n';
      out.flush();
    }
  }
}

}  // namespace corral::mcp
