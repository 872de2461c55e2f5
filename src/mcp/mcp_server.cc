#include "mcp/mcp_server.h"

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "mcp/tools.h"

namespace corral::mcp {
namespace json = boost::json;
namespace {

// JSON-RPC 2.0 error codes.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;

constexpr std::string_view kSupportedVersions[] = {"2025-06-18", "2025-03-26", "2024-11-05"};

constexpr std::string_view kInstructions =
    "Runs shell commands on this machine through corral. Commands run as `sh -c COMMAND` in "
    "their own process group and keep running after a tool call returns. Output is shown as the "
    "first and last 16 KiB of stdout+stderr (long lines cut); every result carries next_offset, "
    "and process_output with that offset returns only what came after it, 16 KiB at most per "
    "call, so a long build can be followed without missing or repeating a byte.";

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

std::string Progress(const json::value& token, std::chrono::milliseconds waited,
                     std::chrono::milliseconds total) {
  json::object params{{"progressToken", token},
                      {"progress", waited.count()},
                      {"total", total.count()},
                      {"message", "waiting for the process to finish"}};
  return json::serialize(json::object{
      {"jsonrpc", "2.0"}, {"method", "notifications/progress"}, {"params", std::move(params)}});
}

bool IsId(const json::value& v) { return v.is_string() || v.is_int64() || v.is_uint64(); }

}  // namespace

// What one line asks for: an answer now, the cancellation of a call in flight, or a tool call
// to run (its arguments already checked).
struct McpServer::Message {
  std::optional<std::string> reply;
  std::optional<json::value> cancel;  // notifications/cancelled: the request id
  struct Call {
    json::value id;
    ToolCall call;
    std::optional<json::value> progress_token;
  };
  std::optional<Call> call;
};

McpServer::Message McpServer::Classify(std::string_view line) const {
  Message result;
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return result;
  boost::system::error_code ec;
  json::value message = json::parse(line, ec);
  if (ec) {
    result.reply = Error(nullptr, kParseError, "Parse error", ec.message());
    return result;
  }
  if (!message.is_object()) {
    result.reply =
        Error(nullptr, kInvalidRequest, "Invalid Request", "a message must be a JSON object");
    return result;
  }
  const json::object& m = message.as_object();
  const json::value* id = m.if_contains("id");
  const json::value* method = m.if_contains("method");
  // A response to us: we send no requests, so there is nothing to match it with.
  if (!method && (m.contains("result") || m.contains("error"))) return result;
  const bool valid_id = id && IsId(*id);
  const json::value& reply_id = valid_id ? *id : json::value(nullptr);
  if (m.if_contains("jsonrpc") == nullptr || m.at("jsonrpc") != "2.0" || !method ||
      !method->is_string() || (id && !valid_id)) {
    result.reply = Error(reply_id, kInvalidRequest, "Invalid Request",
                         "expected jsonrpc \"2.0\", a string method and a string or integer id");
    return result;
  }
  const std::string_view name = method->as_string();
  static const json::object kNoParams;
  const json::value* params_value = m.if_contains("params");
  const bool params_ok = !params_value || params_value->is_object() || params_value->is_null();
  const json::object& params =
      params_value && params_value->is_object() ? params_value->as_object() : kNoParams;

  if (!id) {  // a notification: never answered
    if (name == "notifications/cancelled") {
      if (auto* request = params.if_contains("requestId"); request && IsId(*request)) {
        result.cancel = *request;
      }
    }
    return result;
  }
  if (!params_ok) {
    result.reply = Error(reply_id, kInvalidParams, "Invalid params", "params must be an object");
  } else if (name == "initialize") {
    std::string version(kProtocolVersion);
    if (auto* v = params.if_contains("protocolVersion"); v && v->is_string()) {
      for (auto supported : kSupportedVersions) {
        if (v->as_string() == supported) version = supported;
      }
    }
    result.reply =
        Reply(reply_id, json::object{{"protocolVersion", version},
                                     {"capabilities", {{"tools", {{"listChanged", false}}}}},
                                     {"serverInfo", {{"name", "corral"}, {"version", "0.1.0"}}},
                                     {"instructions", kInstructions}});
  } else if (name == "ping") {
    result.reply = Reply(reply_id, json::object());
  } else if (name == "tools/list") {
    result.reply = Reply(reply_id, json::object{{"tools", ToolDefinitions()}});
  } else if (name != "tools/call") {
    result.reply = Error(reply_id, kMethodNotFound, "Method not found", name);
  } else {
    auto parsed = ParseToolCall(params);
    if (auto* invalid = std::get_if<InvalidCall>(&parsed)) {
      result.reply = Error(reply_id, kInvalidParams, invalid->message, invalid->data);
      return result;
    }
    Message::Call call{reply_id, std::move(std::get<ToolCall>(parsed)), std::nullopt};
    if (auto* meta = params.if_contains("_meta"); meta && meta->is_object()) {
      if (auto* token = meta->as_object().if_contains("progressToken"); token && IsId(*token)) {
        call.progress_token = *token;
      }
    }
    if (call.call.wait && !call.progress_token) {
      call.call.wait = std::min(*call.call.wait, kMaxWaitWithoutProgress);
    }
    result.call = std::move(call);
  }
  return result;
}

std::optional<std::string> McpServer::HandleLine(std::string_view line) const {
  Message message = Classify(line);
  if (!message.call) return message.reply;
  client::HttpClient http(destination_);
  client::CorralClient api(http, limits_.deadlines);
  return Reply(message.call->id, RunTool(message.call->call, api));
}

void McpServer::Run(std::istream& in, std::ostream& out) const {
  std::mutex out_mutex;
  auto send = [&](const std::string& line) {
    std::lock_guard lock(out_mutex);
    out << line << '\n';
    out.flush();
  };
  // A tool call in flight. Only this thread adds, looks up and removes them; the call's thread
  // reads `silent` and sets `done`.
  struct InFlight {
    std::string id;  // the request id, serialized
    std::atomic<bool> silent{false};
    std::atomic<bool> done{false};
    std::jthread thread;  // its stop token ends the wait early
  };
  std::list<std::unique_ptr<InFlight>> calls;

  std::string line;
  while (std::getline(in, line)) {
    calls.remove_if([](const auto& c) { return c->done.load(); });  // joins them
    Message message = Classify(line);
    if (message.reply) send(*message.reply);
    if (message.cancel) {
      const std::string id = json::serialize(*message.cancel);
      for (auto& c : calls) {
        if (c->id == id && !c->done) {
          c->silent = true;
          c->thread.request_stop();
        }
      }
    }
    if (!message.call) continue;
    if (calls.size() >= limits_.max_calls_in_flight) {
      send(Reply(message.call->id,
                 json::object{{"content", json::array{json::object{
                                              {"type", "text"},
                                              {"text", "Too many tool calls at once (" +
                                                           std::to_string(calls.size()) +
                                                           "); retry when one has answered."}}}},
                              {"isError", true}}));
      continue;
    }
    auto& c = *calls.emplace_back(std::make_unique<InFlight>());
    c.id = json::serialize(message.call->id);
    c.thread =
        std::jthread([this, &c, &send, call = std::move(*message.call)](std::stop_token stop) {
          WaitProgress progress;
          std::chrono::milliseconds reported{0};
          if (call.progress_token) {
            progress = [&](std::chrono::milliseconds waited) {
              if (waited <= reported) return;  // MCP: progress must grow with each notification
              reported = waited;
              send(Progress(*call.progress_token, waited, *call.call.wait));
            };
          }
          client::HttpClient http(destination_);
          client::CorralClient api(http, limits_.deadlines);
          json::object result = RunTool(call.call, api, stop, progress);
          if (!c.silent) send(Reply(call.id, std::move(result)));
          c.done = true;
        });
  }
  for (auto& c : calls) c->thread.request_stop();
  calls.clear();  // joins every call: each answers at once with its process's state
}

}  // namespace corral::mcp
