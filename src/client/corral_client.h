#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
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
};

// How long a client gives the server. A server that stops answering (stopped, hung) is noticed
// within `answer` for a plain request and within `wait_slice + answer` while waiting.
struct Deadlines {
  // The most a request that does not wait may take, connecting included.
  std::chrono::milliseconds answer{10'000};
  // The longest wait asked of the server in one request; longer waits are re-asked in slices.
  std::chrono::milliseconds wait_slice{15'000};
};

// The v0 API as calls. Each returns the server's JSON answer on success. On failure the Status
// carries the server's message (and detail, in parentheses), with a code after the HTTP status:
// 400 kInvalidArgument, 404 kNotFound, 409 kFailedPrecondition, 503 kResourceExhausted,
// other errors kInternal; kUnavailable when no server answers in time or a stop was requested.
class CorralClient {
 public:
  explicit CorralClient(HttpClient& http, Deadlines deadlines = {})
      : http_(http), deadlines_(deadlines) {}

  base::Result<boost::json::object> Start(const StartArgs& args);
  // `limit`: how many to list (the server's default, 10, when not given).
  base::Result<boost::json::object> List(std::optional<int> limit = std::nullopt);
  // One GET output, without waiting.
  base::Result<boost::json::object> Output(const std::string& id);
  base::Result<boost::json::object> Signal(const std::string& id, const std::string& signal);

  // Waits until the process is done or `deadline` passes (none: no limit), asking the server in
  // slices of at most `Deadlines::wait_slice`; returns the last output answer (still running if
  // the deadline won). `after_slice` is called with each answer that is still running before the
  // next slice is asked for. When `stop` is requested, returns kUnavailable at once.
  base::Result<boost::json::object> WaitOutput(
      const std::string& id, std::optional<std::chrono::steady_clock::time_point> deadline,
      std::stop_token stop = {},
      const std::function<void(const boost::json::object&)>& after_slice = {});

 private:
  base::Result<boost::json::object> Call(std::string_view method, const std::string& target,
                                         std::string_view body = {},
                                         std::chrono::milliseconds waits = {},
                                         std::stop_token stop = {});
  HttpClient& http_;
  Deadlines deadlines_;
};

// What a finished process's answer means as a shell exit status: its exit code, or 128+n for
// a process killed by signal n, as shells report it.
int ShellExitStatus(const boost::json::object& output);

}  // namespace corral::client
