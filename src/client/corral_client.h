#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "client/http_client.h"

namespace corral::client {

struct StartArgs {
  std::string command;
  std::string workdir;  // empty: the server's default
  std::vector<std::pair<std::string, std::string>> env;
  bool background = false;
  std::string idempotency_key;  // sent as Idempotency-Key when not empty
};

// The v0 API as calls. Each returns the server's JSON answer on success. On failure the Status
// carries the server's message (and detail, in parentheses), with a code after the HTTP status:
// 400 kInvalidArgument, 404 kNotFound, 409 kFailedPrecondition, 503 kResourceExhausted,
// other errors kInternal; kUnavailable when no server answers.
class CorralClient {
 public:
  explicit CorralClient(HttpClient& http) : http_(http) {}

  base::Result<boost::json::object> Start(const StartArgs& args);
  base::Result<boost::json::object> List();
  // One GET output; with `wait`, the server holds it until done or `timeout` (capped by the
  // server at 5 minutes).
  base::Result<boost::json::object> Output(const std::string& id, bool wait,
                                           std::optional<std::chrono::milliseconds> timeout = {});
  base::Result<boost::json::object> Signal(const std::string& id, const std::string& signal);

  // Waits until the process is done, re-asking as often as the server's cap needs, or until
  // `deadline` passes; returns the last output answer (still running if the deadline won).
  base::Result<boost::json::object> WaitOutput(
      const std::string& id, std::optional<std::chrono::steady_clock::time_point> deadline);

 private:
  base::Result<boost::json::object> Call(
      std::string_view method, const std::string& target, std::string_view body = {},
      const std::vector<std::pair<std::string, std::string>>& headers = {});
  HttpClient& http_;
};

// What a finished process's answer means as a shell exit status: its exit code, or 128+n for
// a process killed by signal n, as shells report it.
int ShellExitStatus(const boost::json::object& output);

}  // namespace corral::client
