#include "client/corral_client.h"

#include <signal.h>
#include <string.h>

#include <boost/json.hpp>

namespace corral::client {
namespace json = boost::json;
using base::Code;
using base::Status;

namespace {

constexpr std::string_view kBase = "/api/v0/processes/";
// The server's cap on one wait.
constexpr std::chrono::minutes kMaxWait{5};

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

base::Result<json::object> CorralClient::Call(
    std::string_view method, const std::string& target, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  auto response = http_.Send(method, target, body, headers);
  if (!response.ok()) return response.status();
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

base::Result<json::object> CorralClient::Start(const StartArgs& args) {
  json::object body;
  body["command"] = args.command;
  if (!args.workdir.empty()) body["workdir"] = args.workdir;
  if (!args.env.empty()) {
    json::object env;
    for (const auto& [k, v] : args.env) env[k] = v;
    body["env"] = std::move(env);
  }
  if (args.background) body["background"] = true;
  if (args.idempotency_key.empty()) {
    return Call("POST", std::string(kBase) + "start", json::serialize(body));
  }
  return Call("POST", std::string(kBase) + "start", json::serialize(body),
              {{"Idempotency-Key", args.idempotency_key}});
}

base::Result<json::object> CorralClient::List() { return Call("GET", std::string(kBase) + "list"); }

base::Result<json::object> CorralClient::Output(const std::string& id, bool wait,
                                                std::optional<std::chrono::milliseconds> timeout) {
  std::string target = std::string(kBase) + EncodeSegment(id) + "/output";
  if (wait) {
    target += "?wait=true";
    if (timeout)
      target += "&timeout_ms=" + std::to_string(std::max<long long>(0, timeout->count()));
  }
  return Call("GET", target);
}

base::Result<json::object> CorralClient::Signal(const std::string& id, const std::string& signal) {
  json::object body;
  body["signal"] = signal;
  return Call("POST", std::string(kBase) + EncodeSegment(id) + "/signal", json::serialize(body));
}

base::Result<json::object> CorralClient::WaitOutput(
    const std::string& id, std::optional<std::chrono::steady_clock::time_point> deadline) {
  for (;;) {
    std::optional<std::chrono::milliseconds> timeout;
    if (deadline) {
      timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
          *deadline - std::chrono::steady_clock::now());
      if (timeout->count() < 0) timeout = std::chrono::milliseconds(0);
      if (*timeout > kMaxWait) timeout = kMaxWait;
    }
    auto out = Output(id, true, timeout);
    if (!out.ok()) return out;
    const json::value* running = out->if_contains("running");
    if (!running || !running->is_bool() || !running->as_bool()) return out;
    if (deadline && std::chrono::steady_clock::now() >= *deadline) return out;
  }
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
