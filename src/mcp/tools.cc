#include "mcp/tools.h"

#include <boost/json.hpp>
#include <limits>

namespace corral::mcp {
namespace json = boost::json;
namespace {

// The tool definitions: names, descriptions written for a model, input and output schemas.
const json::array& Definitions() {
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
                  "timeout_ms (default 10000; at most 50000 unless the request asks for "
                  "progress notifications) for it to finish. If it is still running then, "
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
                                     "description": "How long to wait for the command to finish (default 10000). Does not kill it."}
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
                                  "description": "Wait up to this long for the process to finish (at most 50000 unless the request asks for progress notifications)."}
                    },
                    "required": ["id"]
                  })")},
                 {"outputSchema", process_result}});
    t.push_back({{"name", "list_processes"},
                 {"title", "List processes"},
                 {"description",
                  "List recent processes (running first, then newest; at most `limit`, default "
                  "10) with their ids, commands, running state and exit codes."},
                 {"inputSchema", json::parse(R"({
                    "type": "object",
                    "properties": {
                      "limit": {"type": "integer", "minimum": 1,
                                "description": "How many to list (default 10; the server lists at most 1024)."}
                    }
                  })")},
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

// An integer argument, at least `min`; values above `max` are taken as `max`.
std::optional<std::int64_t> Integer(const json::object& args, std::string_view key,
                                    std::int64_t min, std::int64_t max) {
  const json::value* v = args.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  std::int64_t n;
  if (v->is_int64()) {
    n = v->as_int64();
  } else if (v->is_uint64()) {
    n = max;
  } else if (v->is_double() && v->as_double() >= -9e18 && v->as_double() <= 9e18 &&
             v->as_double() == static_cast<double>(static_cast<std::int64_t>(v->as_double()))) {
    n = static_cast<std::int64_t>(v->as_double());  // 5000.0 is an integer in JSON Schema
  } else {
    throw BadParams{"\"" + std::string(key) + "\" must be an integer"};
  }
  if (n < min) {
    throw BadParams{"\"" + std::string(key) + "\" must be >= " + std::to_string(min)};
  }
  return std::min(n, max);
}

std::optional<std::chrono::milliseconds> Milliseconds(const json::object& args,
                                                      std::string_view key) {
  auto ms = Integer(args, key, 0, kMaxWait.count());
  if (!ms) return std::nullopt;
  return std::chrono::milliseconds(*ms);
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

// A list answer for a model: one line per process.
std::string ListText(const json::object& list) {
  std::string text;
  for (const auto& p : list.at("processes").as_array()) {
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
  return text.empty() ? "No processes." : text;
}

// Waits for process `id` until `wait` has passed or `stop` is requested, then answers with its
// state.
json::object WaitResult(client::CorralClient& api, const std::string& id,
                        std::chrono::milliseconds wait, std::stop_token stop,
                        const WaitProgress& progress) {
  const auto begin = std::chrono::steady_clock::now();
  auto out = api.WaitOutput(id, begin + wait, stop, [&](const json::object&) {
    if (progress) {
      progress(std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - begin));
    }
  });
  if (!out.ok() && stop.stop_requested()) out = api.Output(id);
  if (!out.ok()) return ToolFailure(out.status());
  return ProcessResult(id, std::move(*out));
}

}  // namespace

const json::array& ToolDefinitions() { return Definitions(); }

std::variant<ToolCall, InvalidCall> ParseToolCall(const json::object& params) {
  using Tool = ToolCall::Tool;
  ToolCall call;
  try {
    const std::string tool = String(params, "name", true);
    const json::object& args = Arguments(params);
    if (tool == "run_command") {
      call.tool = Tool::kRunCommand;
      call.start.command = String(args, "command", true);
      if (call.start.command.empty()) throw BadParams{"\"command\" must not be empty"};
      call.start.workdir = String(args, "workdir", false);
      if (auto* env = args.if_contains("env"); env && !env->is_null()) {
        if (!env->is_object()) throw BadParams{"\"env\" must be an object of strings"};
        for (const auto& [k, v] : env->as_object()) {
          if (!v.is_string()) throw BadParams{"\"env\" must be an object of strings"};
          call.start.env.emplace_back(std::string(k), std::string(v.as_string()));
        }
      }
      if (auto* bg = args.if_contains("background"); bg && !bg->is_null()) {
        if (!bg->is_bool()) throw BadParams{"\"background\" must be a boolean"};
        call.start.background = bg->as_bool();
      }
      call.wait = Milliseconds(args, "timeout_ms").value_or(kDefaultWait);
    } else if (tool == "process_output") {
      call.tool = Tool::kProcessOutput;
      call.id = String(args, "id", true);
      call.wait = Milliseconds(args, "wait_ms");
    } else if (tool == "list_processes") {
      call.tool = Tool::kListProcesses;
      // The server caps it.
      if (auto limit = Integer(args, "limit", 1, std::numeric_limits<int>::max())) {
        call.limit = static_cast<int>(*limit);
      }
    } else if (tool == "signal_process") {
      call.tool = Tool::kSignalProcess;
      call.id = String(args, "id", true);
      call.signal = String(args, "signal", true);
      if (call.signal != "terminate" && call.signal != "kill") {
        throw BadParams{"\"signal\" must be \"terminate\" or \"kill\""};
      }
    } else {
      return InvalidCall{"Unknown tool: " + tool, {}};
    }
  } catch (const BadParams& bad) {
    return InvalidCall{"Invalid params", bad.why};
  }
  return call;
}

json::object RunTool(const ToolCall& call, client::CorralClient& api, std::stop_token stop,
                     const WaitProgress& progress) {
  using Tool = ToolCall::Tool;
  try {
    switch (call.tool) {
      case Tool::kRunCommand: {
        auto started = api.Start(call.start);
        if (!started.ok()) return ToolFailure(started.status());
        const std::string id(started->at("id").as_string());
        if (call.start.background) {
          return ToolResult("Started process " + id + " in the background.",
                            {{"id", id}, {"running", true}});
        }
        return WaitResult(api, id, *call.wait, stop, progress);
      }
      case Tool::kProcessOutput: {
        if (call.wait) return WaitResult(api, call.id, *call.wait, stop, progress);
        auto out = api.Output(call.id);
        if (!out.ok()) return ToolFailure(out.status());
        return ProcessResult(call.id, std::move(*out));
      }
      case Tool::kListProcesses: {
        auto list = api.List(call.limit);
        if (!list.ok()) return ToolFailure(list.status());
        std::string text = ListText(*list);
        return ToolResult(std::move(text), std::move(*list));
      }
      case Tool::kSignalProcess: {
        auto sent = api.Signal(call.id, call.signal);
        if (!sent.ok()) return ToolFailure(sent.status());
        std::string text(sent->at("message").as_string());
        return ToolResult(std::move(text), std::move(*sent));
      }
    }
  } catch (const std::exception& e) {
    // A server answer of an unexpected shape: report it, keep serving.
    return ToolFailure(base::Status(base::Code::kInternal, e.what()));
  }
  return ToolFailure(base::Status(base::Code::kInternal, "unknown tool"));
}

}  // namespace corral::mcp
