#include "mcp/tools.h"

#include <boost/json.hpp>
#include <limits>

namespace corral::mcp {
namespace json = boost::json;
namespace {

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

// The line of state that ends the text a model reads for a process answer.
std::string StateLine(const json::object& o) {
  const std::string id(o.at("id").as_string());
  if (o.at("running").as_bool()) {
    std::string line = "[process " + id + " is still running; ";
    if (const auto* w = o.if_contains("waiting_for_input"); w && w->is_bool() && w->as_bool()) {
      line += "it is waiting for input: answer with send_input; ";
    }
    if (const auto* ports = o.if_contains("listening_ports");
        ports && ports->is_array() && !ports->as_array().empty()) {
      line += "it listens on TCP port(s) " + json::serialize(*ports) + "; ";
    }
    if (const auto* next = o.if_contains("next_offset")) {
      line += "call process_output with offset=" + json::serialize(*next) +
              " (and wait_ms to wait for it to finish) for what it prints next, or "
              "signal_process to stop it]";
    } else {
      line += "use process_output to read more or signal_process to stop it]";
    }
    return line;
  }
  if (auto* sig = o.if_contains("exit_signal")) {
    return "[process " + id + " was killed by " + std::string(sig->as_string()) + "]";
  }
  return "[process " + id + " exited with code " + std::to_string(o.at("exit_code").as_int64()) +
         "]";
}

// The text a model reads for a process answer: the output, then what else it should know.
std::string ProcessText(const json::object& o) {
  std::string text(o.at("output").as_string());
  if (!text.empty() && text.back() != '\n') text += '\n';
  if (auto* r = o.if_contains("replayed"); r && r->as_bool()) {
    text += "[replayed: this idempotency_key already started this process; nothing new ran]\n";
  }
  if (auto* gap = o.if_contains("gap"); gap && gap->is_object()) {
    const auto from = gap->as_object().at("from").to_number<std::uint64_t>();
    const auto to = gap->as_object().at("to").to_number<std::uint64_t>();
    text += "[" + std::to_string(to - from) + " bytes at offsets " + std::to_string(from) + " to " +
            std::to_string(to) +
            " were not kept by the server (its output spool limit); the output above starts "
            "at offset " +
            std::to_string(to) + "]\n";
  }
  if (auto* remaining = o.if_contains("remaining_bytes");
      remaining && remaining->to_number<std::uint64_t>() > 0) {
    text += "[" + json::serialize(*remaining) + " more bytes are already there after offset " +
            json::serialize(o.at("next_offset")) +
            ": call process_output with that offset to read on]\n";
  }
  text += StateLine(o);
  if (auto* t = o.if_contains("truncated")) {
    text += "\n[output truncated: " + json::serialize(*t) +
            "; process_output with offset=0 reads all of it, 16 KiB per call]";
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

// A process answer for a model: the server's answer with the id added.
json::object ProcessResult(const std::string& id, json::object output) {
  output["id"] = id;
  output.erase("command");
  std::string text = ProcessText(output);
  return ToolResult(std::move(text), std::move(output));
}

// How many bytes process `id` has written so far (a read's `total_bytes`).
base::Result<std::uint64_t> TotalBytes(client::CorralClient& api, const std::string& id) {
  auto read = api.Read(id, {.offset = 0, .limit = 1});
  if (!read.ok()) return read.status();
  return read->at("total_bytes").to_number<std::uint64_t>();
}

// The output answer of process `id` with `next_offset`: the count of output bytes it covers,
// where a read continues it. The count is taken before and after the answer, again while it
// changes (up to kTries times), so that it is exact unless the command writes without pause;
// then it is the count before, and a read from it may repeat a few bytes, never miss one.
base::Result<json::object> OutputWithCursor(client::CorralClient& api, const std::string& id,
                                            bool clean) {
  constexpr int kTries = 3;
  for (int attempt = 1;; ++attempt) {
    auto before = TotalBytes(api, id);
    if (!before.ok()) return before.status();
    auto out = api.Output(id, clean);
    if (!out.ok()) return out;
    auto after = TotalBytes(api, id);
    if (!after.ok()) return after.status();
    if (*before == *after || attempt == kTries) {
      (*out)["next_offset"] = *before;
      return out;
    }
  }
}

// What process `id` wrote after `offset`, at most kMaxReadBytes, for a model.
json::object ReadResult(client::CorralClient& api, const std::string& id, std::uint64_t offset,
                        bool clean) {
  auto read = api.Read(id, {.offset = offset, .limit = kMaxReadBytes, .clean = clean});
  if (!read.ok()) return ToolFailure(read.status());
  json::object o = std::move(*read);
  const std::uint64_t next = client::NextOffset(o);
  const auto total = o.at("total_bytes").to_number<std::uint64_t>();
  json::value data = std::move(o.at("data"));
  o.erase("data");
  o["output"] = std::move(data);
  o["remaining_bytes"] = total > next ? total - next : 0;
  return ProcessResult(id, std::move(o));
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

// Waits for process `id` to finish until `wait` has passed or `stop` is requested; then
// answers with its state: the output from `offset` when given, else the head+tail view.
json::object WaitResult(client::CorralClient& api, const std::string& id,
                        std::chrono::milliseconds wait, std::optional<std::uint64_t> offset,
                        bool clean, std::stop_token stop, const WaitProgress& progress,
                        bool replayed = false) {
  const auto begin = std::chrono::steady_clock::now();
  if (wait.count() > 0) {
    auto waited = api.WaitOutput(id, begin + wait, stop, [&](const json::object&) {
      if (progress) {
        progress(std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - begin));
      }
    });
    if (!waited.ok() && !stop.stop_requested()) return ToolFailure(waited.status());
  }
  if (offset) return ReadResult(api, id, *offset, clean);
  auto out = OutputWithCursor(api, id, clean);
  if (!out.ok()) return ToolFailure(out.status());
  if (replayed) (*out)["replayed"] = true;
  return ProcessResult(id, std::move(*out));
}

// Waits for process `id` to answer: until it is done, or it waits for input with its output
// quiet for kQuiet, or `wait` passes, or `stop` is requested; following its output from `from`
// (which the result reads from: an answer is what it printed after that). Throttled `progress`.
base::Status WaitForReply(client::CorralClient& api, const std::string& id, std::uint64_t from,
                          std::chrono::milliseconds wait, std::stop_token stop,
                          const WaitProgress& progress) {
  using std::chrono::milliseconds;
  using std::chrono::steady_clock;
  // The quiet that, with waiting_for_input, says the command is done answering: a prompt is
  // written before the read that waits, so a short one suffices.
  constexpr milliseconds kQuiet{100};
  const auto begin = steady_clock::now();
  auto reported = begin;
  std::uint64_t offset = from;
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(begin + wait - steady_clock::now());
    if (left.count() <= 0) return base::Status();
    auto read = api.Read(id,
                         {.offset = offset,
                          .limit = 1024 * 1024,
                          .wait = client::ReadArgs::Wait::kOutput,
                          .timeout = std::min(left, kQuiet)},
                         stop);
    if (!read.ok()) return stop.stop_requested() ? base::Status() : read.status();
    const std::uint64_t next = client::NextOffset(*read);
    const bool quiet = next == offset && !read->contains("gap");
    offset = next;
    if (!read->at("running").as_bool()) return base::Status();
    const auto* waiting = read->if_contains("waiting_for_input");
    if (quiet && waiting && waiting->is_bool() && waiting->as_bool()) return base::Status();
    if (progress && steady_clock::now() - reported >= std::chrono::seconds(1)) {
      reported = steady_clock::now();
      progress(std::chrono::duration_cast<milliseconds>(reported - begin));
    }
  }
}

}  // namespace

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
      // timeout_ms was how long to wait before DESIGN §7.3; it is a deadline now, and the wait
      // is yield_ms.
      call.wait = std::chrono::milliseconds(
          Integer(args, "yield_ms", 0, kMaxYield.count()).value_or(kDefaultWait.count()));
      if (auto deadline = Integer(args, "timeout_ms", 0, std::int64_t{7} * 24 * 3'600'000)) {
        call.start.deadline = std::chrono::milliseconds(*deadline);
      }
      const std::string stdin_mode = String(args, "stdin", false);
      if (stdin_mode == "tty") {
        call.start.tty = std::pair(0, 0);
      } else if (stdin_mode == "pipe") {
        call.start.stdin_mode = "pipe";
      } else if (!stdin_mode.empty() && stdin_mode != "null") {
        throw BadParams{"\"stdin\" must be \"null\", \"pipe\" or \"tty\""};
      }
      call.start.idempotency_key = String(args, "idempotency_key", false);
    } else if (tool == "process_output") {
      call.tool = Tool::kProcessOutput;
      call.id = String(args, "id", true);
      call.wait = Milliseconds(args, "wait_ms");
      if (auto offset = Integer(args, "offset", 0, std::numeric_limits<std::int64_t>::max())) {
        call.offset = static_cast<std::uint64_t>(*offset);
      }
      if (auto* clean = args.if_contains("clean"); clean && !clean->is_null()) {
        if (!clean->is_bool()) throw BadParams{"\"clean\" must be a boolean"};
        call.clean = clean->as_bool();
      }
    } else if (tool == "send_input") {
      call.tool = Tool::kSendInput;
      call.id = String(args, "id", true);
      call.text = String(args, "text", false);
      if (auto* close = args.if_contains("close"); close && !close->is_null()) {
        if (!close->is_bool()) throw BadParams{"\"close\" must be a boolean"};
        call.close = close->as_bool();
      }
      call.wait = std::chrono::milliseconds(
          Integer(args, "yield_ms", 0, kMaxYield.count()).value_or(kDefaultInputYield.count()));
    } else if (tool == "wait_processes") {
      call.tool = Tool::kWaitProcesses;
      const json::value* ids = args.if_contains("ids");
      if (!ids || !ids->is_array() || ids->as_array().empty()) {
        throw BadParams{"\"ids\" must be a non-empty array of process ids"};
      }
      for (const auto& id : ids->as_array()) {
        if (!id.is_string()) throw BadParams{"\"ids\" must be an array of strings"};
        call.ids.emplace_back(id.as_string());
      }
      if (auto* all = args.if_contains("all"); all && !all->is_null()) {
        if (!all->is_bool()) throw BadParams{"\"all\" must be a boolean"};
        call.all = all->as_bool();
      }
      call.wait = Milliseconds(args, "timeout_ms").value_or(std::chrono::milliseconds(30'000));
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
        bool replayed = false;
        auto started = api.Start(call.start, &replayed);
        if (!started.ok()) return ToolFailure(started.status());
        const std::string id(started->at("id").as_string());
        if (call.start.background) {
          json::object o{{"id", id}, {"running", true}, {"next_offset", 0}};
          if (replayed) o["replayed"] = true;
          return ToolResult((replayed ? "Replayed: this idempotency_key already started process "
                                      : "Started process ") +
                                id +
                                " in the background; call process_output with offset=0 to "
                                "read its output as it comes.",
                            std::move(o));
        }
        if (!call.start.stdin_mode.empty() || call.start.tty) {
          // It may wait for input rather than end: answer then, as send_input does.
          auto waited = WaitForReply(api, id, 0, *call.wait, stop, progress);
          if (!waited.ok()) return ToolFailure(waited);
          return WaitResult(api, id, {}, std::nullopt, /*clean=*/false, stop, {}, replayed);
        }
        return WaitResult(api, id, *call.wait, std::nullopt, /*clean=*/false, stop, progress,
                          replayed);
      }
      case Tool::kSendInput: {
        // Where its output ends before the write: the answer is what comes after.
        auto from = TotalBytes(api, call.id);
        if (!from.ok()) return ToolFailure(from.status());
        auto sent = api.Input(call.id, call.text, call.close);
        if (!sent.ok()) return ToolFailure(sent.status());
        auto waited = WaitForReply(api, call.id, *from, *call.wait, stop, progress);
        if (!waited.ok()) return ToolFailure(waited);
        return ReadResult(api, call.id, *from, /*clean=*/false);
      }
      case Tool::kProcessOutput:
        return WaitResult(api, call.id, call.wait.value_or(std::chrono::milliseconds(0)),
                          call.offset, call.clean, stop, progress);
      case Tool::kWaitProcesses: {
        const auto begin = std::chrono::steady_clock::now();
        auto waited = api.WaitProcesses(call.ids, call.all, begin + *call.wait, stop, [&] {
          if (progress) {
            progress(std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - begin));
          }
        });
        if (!waited.ok() && stop.stop_requested()) {
          // Cancelled: their state now.
          waited = api.WaitProcesses(call.ids, call.all, begin);
        }
        if (!waited.ok()) return ToolFailure(waited.status());
        std::string text = ListText(*waited);
        return ToolResult(std::move(text), std::move(*waited));
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
