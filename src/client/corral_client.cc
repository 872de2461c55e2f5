#include "client/corral_client.h"

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

namespace corral::client {
namespace json = boost::json;
using base::Code;
using base::Status;

namespace {

constexpr std::string_view kBase = "/api/v0/processes/";

// Percent-encodes everything but RFC 3986's unreserved characters, for a path segment.
std::string EncodeSegment(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Code CodeFor(int http_status) {
  switch (http_status) {
    case 400:
      return Code::kInvalidArgument;
    case 404:
      return Code::kNotFound;
    case 409:
      return Code::kFailedPrecondition;
    case 503:
      return Code::kResourceExhausted;
    default:
      return Code::kInternal;
  }
}

}  // namespace

base::Result<json::object> CorralClient::Call(std::string_view method, const std::string& target,
                                              std::string_view body,
                                              std::chrono::milliseconds waits, std::stop_token stop,
                                              const HttpHeaders& headers,
                                              HttpHeaders* answer_headers) {
  auto response =
      http_.Send(method, target, body, waits + deadlines_.answer, std::move(stop), headers);
  if (!response.ok()) return response.status();
  if (answer_headers) *answer_headers = response->headers;
  boost::system::error_code ec;
  json::value v = json::parse(response->body, ec);
  const json::object* o = (!ec && v.is_object()) ? &v.as_object() : nullptr;
  if (response->status >= 200 && response->status < 300) {
    if (!o) return Status(Code::kInternal, "the server's answer is not a JSON object");
    return *o;
  }
  std::string message = "HTTP " + std::to_string(response->status);
  if (o) {
    if (auto* m = o->if_contains("message"); m && m->is_string()) message = m->as_string().c_str();
    if (auto* d = o->if_contains("detail"); d && d->is_string() && !d->as_string().empty()) {
      message += " (";
      message += d->as_string().c_str();
      message += ")";
    }
  }
  return Status(CodeFor(response->status), message);
}

base::Result<json::object> CorralClient::Start(const StartArgs& args, bool* replayed) {
  json::object body;
  body["command"] = args.command;
  if (!args.workdir.empty()) body["workdir"] = args.workdir;
  if (!args.env.empty()) {
    json::object env;
    for (const auto& [k, v] : args.env) env[k] = v;
    body["env"] = std::move(env);
  }
  if (args.background) body["background"] = true;
  if (!args.stdin_mode.empty()) body["stdin"] = args.stdin_mode;
  if (args.tty) {
    if (args.tty->first > 0 && args.tty->second > 0) {
      body["tty"] = {{"rows", args.tty->first}, {"cols", args.tty->second}};
    } else {
      body["tty"] = true;
    }
  }
  if (args.deadline.count() > 0) body["timeout_ms"] = args.deadline.count();
  HttpHeaders headers;
  if (!args.idempotency_key.empty()) headers.emplace_back("Idempotency-Key", args.idempotency_key);
  HttpHeaders answer_headers;
  auto started = Call("POST", std::string(kBase) + "start", json::serialize(body), {}, {}, headers,
                      &answer_headers);
  if (replayed) {
    *replayed = started.ok() && FindHeader(answer_headers, "Idempotent-Replayed") == "true";
  }
  return started;
}

base::Result<json::object> CorralClient::List(std::optional<int> limit) {
  std::string target = std::string(kBase) + "list";
  if (limit) target += "?limit=" + std::to_string(*limit);
  return Call("GET", target);
}

base::Result<json::object> CorralClient::Output(const std::string& id, bool clean) {
  return Call("GET",
              std::string(kBase) + EncodeSegment(id) + "/output" + (clean ? "?view=clean" : ""));
}

base::Result<json::object> CorralClient::Signal(const std::string& id, const std::string& signal) {
  json::object body;
  body["signal"] = signal;
  return Call("POST", std::string(kBase) + EncodeSegment(id) + "/signal", json::serialize(body));
}

base::Result<json::object> CorralClient::Input(const std::string& id, std::string_view data,
                                               bool close) {
  json::object body;
  body["data"] = data;
  if (close) body["close"] = true;
  return Call("POST", std::string(kBase) + EncodeSegment(id) + "/input", json::serialize(body));
}

base::Result<json::object> CorralClient::Resize(const std::string& id, int rows, int cols) {
  json::object body;
  body["rows"] = rows;
  body["cols"] = cols;
  return Call("POST", std::string(kBase) + EncodeSegment(id) + "/resize", json::serialize(body));
}

namespace {

// One wait of at most `slice`, cut short so that it ends by `deadline` (if any).
std::chrono::milliseconds SliceUntil(std::optional<std::chrono::steady_clock::time_point> deadline,
                                     std::chrono::milliseconds slice) {
  if (!deadline) return slice;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      *deadline - std::chrono::steady_clock::now());
  return std::clamp(left, std::chrono::milliseconds(0), slice);
}

}  // namespace

base::Result<json::object> CorralClient::WaitOutput(
    const std::string& id, std::optional<std::chrono::steady_clock::time_point> deadline,
    std::stop_token stop, const std::function<void(const json::object&)>& after_slice, bool clean) {
  using std::chrono::milliseconds;
  const std::string target =
      std::string(kBase) + EncodeSegment(id) + "/output?wait=true" + (clean ? "&view=clean" : "");
  for (;;) {
    const milliseconds slice = SliceUntil(deadline, deadlines_.wait_slice);
    auto out =
        Call("GET", target + "&timeout_ms=" + std::to_string(slice.count()), {}, slice, stop);
    if (!out.ok()) return out;
    const json::value* running = out->if_contains("running");
    if (!running || !running->is_bool() || !running->as_bool()) return out;
    if (deadline && std::chrono::steady_clock::now() >= *deadline) return out;
    if (after_slice) after_slice(*out);
  }
}

base::Result<json::object> CorralClient::WaitProcesses(
    const std::vector<std::string>& ids, bool all,
    std::optional<std::chrono::steady_clock::time_point> deadline, std::stop_token stop,
    const std::function<void()>& after_slice) {
  using std::chrono::milliseconds;
  std::string target = std::string(kBase) + "wait?ids=";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) target += ',';
    target += EncodeSegment(ids[i]);
  }
  target += all ? "&until=all" : "&until=any";
  for (;;) {
    const milliseconds slice = SliceUntil(deadline, deadlines_.wait_slice);
    auto answer =
        Call("GET", target + "&timeout_ms=" + std::to_string(slice.count()), {}, slice, stop);
    if (!answer.ok()) return answer;
    const auto* processes = answer->if_contains("processes");
    if (!processes || !processes->is_array()) {
      return Status(Code::kInternal, "the server's wait answer has no processes");
    }
    std::size_t done = 0;
    for (const auto& p : processes->as_array()) {
      const auto* running = p.is_object() ? p.as_object().if_contains("running") : nullptr;
      if (running && running->is_bool() && !running->as_bool()) ++done;
    }
    if (all ? done == processes->as_array().size() : done > 0) return answer;
    if (deadline && std::chrono::steady_clock::now() >= *deadline) return answer;
    if (after_slice) after_slice();
  }
}

base::Result<json::object> CorralClient::Read(const std::string& id, const ReadArgs& args,
                                              std::stop_token stop) {
  using Wait = ReadArgs::Wait;
  std::string target =
      std::string(kBase) + EncodeSegment(id) + "/read?offset=" + std::to_string(args.offset);
  if (args.limit > 0) target += "&limit=" + std::to_string(args.limit);
  if (args.clean) target += "&view=clean";
  std::chrono::milliseconds waits{0};
  if (args.wait != Wait::kNone) {
    waits = std::clamp(args.timeout, std::chrono::milliseconds(0), deadlines_.wait_slice);
    switch (args.wait) {
      case Wait::kOutput:
        target += "&wait=output";
        break;
      case Wait::kExit:
        target += "&wait=exit";
        break;
      case Wait::kIdle:
        target += "&wait=idle";
        if (args.idle.count() > 0) target += "&idle_ms=" + std::to_string(args.idle.count());
        break;
      case Wait::kListening:
        target += "&wait=listening";
        break;
      case Wait::kNone:
        break;
    }
    target += "&timeout_ms=" + std::to_string(waits.count());
  }
  return Call("GET", target, {}, waits, std::move(stop));
}

base::Result<json::object> CorralClient::Follow(
    const std::string& id, std::uint64_t* offset, bool clean,
    std::optional<std::chrono::steady_clock::time_point> deadline, std::stop_token stop,
    const std::function<void(const json::object&)>& chunk) {
  using std::chrono::milliseconds;
  // The largest read the server makes: fewer requests for a loud command.
  constexpr std::size_t kChunk = 1024 * 1024;
  for (;;) {
    const milliseconds slice = SliceUntil(deadline, deadlines_.follow_slice);
    const std::uint64_t from = *offset;
    auto read = Read(id,
                     {.offset = from,
                      .limit = kChunk,
                      .wait = ReadArgs::Wait::kOutput,
                      .timeout = slice,
                      .clean = clean},
                     stop);
    if (!read.ok()) return read;
    const std::uint64_t next = NextOffset(*read);
    const bool gap = read->contains("gap");
    if (next != from || gap) {
      *offset = next;
      if (chunk) chunk(*read);
    }
    const auto* eof = read->if_contains("eof");
    if (eof && eof->is_bool() && eof->as_bool()) return read;
    const auto* running = read->if_contains("running");
    if (!running || !running->is_bool() || !running->as_bool()) {
      // Done: what it wrote is read, or a whole slice brought nothing complete (leftovers
      // holding the pipe with a partial character).
      const auto* total = read->if_contains("total_bytes");
      boost::system::error_code ec;
      const bool caught_up =
          total && total->is_number() && next >= total->to_number<std::uint64_t>(ec) && !ec;
      if (caught_up || (next == from && !gap)) return read;
      continue;
    }
    if (deadline && std::chrono::steady_clock::now() >= *deadline) return read;
  }
}

std::uint64_t NextOffset(const json::object& read) {
  const auto* next = read.if_contains("next_offset");
  if (!next || !next->is_number()) return 0;
  boost::system::error_code ec;
  const auto n = next->to_number<std::uint64_t>(ec);
  return ec ? 0 : n;
}

int ShellExitStatus(const json::object& output) {
  if (const auto* sig = output.if_contains("exit_signal"); sig && sig->is_string()) {
    const std::string name(sig->as_string());
    for (int n = 1; n < NSIG; ++n) {
      const char* abbrev = ::sigabbrev_np(n);
      if (abbrev && name == std::string("SIG") + abbrev) return 128 + n;
    }
    return 255;
  }
  if (const auto* code = output.if_contains("exit_code"); code && code->is_int64()) {
    const auto c = code->as_int64();
    return c < 0 ? 255 : static_cast<int>(c & 0xFF);
  }
  return 255;
}

}  // namespace corral::client
