#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
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
  // Sent as Idempotency-Key when not empty: a repeat with the same key and request answers with
  // the first process instead of starting another (DESIGN §7.4).
  std::string idempotency_key;
  // DESIGN §7.3. "pipe": stdin kept open for Input(); empty: the server's default ("null").
  std::string stdin_mode;
  // Run on a pseudo-terminal of this size (rows or cols 0: the server's default, 24x80).
  std::optional<std::pair<int, int>> tty;  // {rows, cols}
  // A run deadline, sent as timeout_ms (0: none): SIGTERM to the command, SIGKILL 5 s later.
  std::chrono::milliseconds deadline{0};
};

// A GET /{id}/read (DESIGN §7.2).
struct ReadArgs {
  enum class Wait { kNone, kOutput, kExit, kIdle, kListening };
  std::uint64_t offset = 0;
  std::size_t limit = 0;  // raw bytes; 0: the server's default (64 KiB); it clamps to 1 MiB
  Wait wait = Wait::kNone;
  // With `wait`: the most the server holds the request (sent as timeout_ms).
  std::chrono::milliseconds timeout{0};
  bool clean = false;  // view=clean
  // With Wait::kIdle: how long the output must stay quiet (sent as idle_ms; 0: the server's
  // default, 2 s). Such a read also ends when the command waits for input.
  std::chrono::milliseconds idle{0};
};

// How long a client gives the server. A server that stops answering (stopped, hung) is noticed
// within `answer` for a plain request and within `wait_slice + answer` while waiting.
struct Deadlines {
  // The most a request that does not wait may take, connecting included.
  std::chrono::milliseconds answer{10'000};
  // The longest wait asked of the server in one request; longer waits are re-asked in slices.
  std::chrono::milliseconds wait_slice{15'000};
  // The longest `read?wait=output` asked for while following output. It bounds how late a
  // follower sees that a process is done while leftovers of it (`cmd &`) hold its output open:
  // such a wait only ends at new output or its timeout.
  std::chrono::milliseconds follow_slice{5'000};
};

// The v0 API as calls. Each returns the server's JSON answer on success. On failure the Status
// carries the server's message (and detail, in parentheses), with a code after the HTTP status:
// 400 kInvalidArgument, 404 kNotFound, 409 kFailedPrecondition, 503 kResourceExhausted,
// other errors kInternal; kUnavailable when no server answers in time or a stop was requested.
class CorralClient {
 public:
  explicit CorralClient(HttpClient& http, Deadlines deadlines = {})
      : http_(http), deadlines_(deadlines) {}

  // `replayed`, when given, is set to whether the server answered an idempotent repeat (header
  // Idempotent-Replayed: true) rather than starting a process.
  base::Result<boost::json::object> Start(const StartArgs& args, bool* replayed = nullptr);
  // `limit`: how many to list (the server's default, 10, when not given).
  base::Result<boost::json::object> List(std::optional<int> limit = std::nullopt);
  // One GET output, without waiting; `clean`: view=clean.
  base::Result<boost::json::object> Output(const std::string& id, bool clean = false);
  base::Result<boost::json::object> Signal(const std::string& id, const std::string& signal);
  // POST /{id}/input: writes `data` to the command's stdin, then closes it when `close`.
  // 409 (kFailedPrecondition): not running, or no open stdin; 503 (kResourceExhausted): its
  // input queue is full (nothing was written).
  base::Result<boost::json::object> Input(const std::string& id, std::string_view data,
                                          bool close = false);
  // POST /{id}/resize of a command on a terminal; 409 when it has none.
  base::Result<boost::json::object> Resize(const std::string& id, int rows, int cols);

  // Waits until the process is done or `deadline` passes (none: no limit), asking the server in
  // slices of at most `Deadlines::wait_slice`; returns the last output answer (still running if
  // the deadline won). `after_slice` is called with each answer that is still running before the
  // next slice is asked for. When `stop` is requested, returns kUnavailable at once.
  base::Result<boost::json::object> WaitOutput(
      const std::string& id, std::optional<std::chrono::steady_clock::time_point> deadline,
      std::stop_token stop = {},
      const std::function<void(const boost::json::object&)>& after_slice = {}, bool clean = false);

  // GET /wait (DESIGN §7.5): waits until any (`all`: every one) of processes `ids` is done or
  // `deadline` passes (none: no limit), asking the server in slices of at most
  // Deadlines::wait_slice; returns the last answer ({"processes": [...]} in the order of
  // `ids`). When `stop` is requested, returns kUnavailable at once. 404: an unknown id.
  base::Result<boost::json::object> WaitProcesses(
      const std::vector<std::string>& ids, bool all,
      std::optional<std::chrono::steady_clock::time_point> deadline, std::stop_token stop = {},
      const std::function<void()>& after_slice = {});

  // One GET read. `args.timeout` is clamped to Deadlines::wait_slice. When `stop` is requested,
  // returns kUnavailable at once.
  base::Result<boost::json::object> Read(const std::string& id, const ReadArgs& args,
                                         std::stop_token stop = {});

  // Follows the output of process `id` from `*offset` as it comes (read?wait=output, in slices
  // of at most Deadlines::follow_slice), calling `chunk` with every read answer that carries
  // output or a `gap`, and moving `*offset` to its `next_offset`. Returns the last read answer
  // once the output is complete (`eof`), or once the process is done and what it wrote is read
  // (output that leftovers of it write later is not waited for): its exit fields are set. Also
  // returns the last answer (still running) when `deadline` passes. When `stop` is requested,
  // returns kUnavailable at once; `*offset` is where to resume.
  base::Result<boost::json::object> Follow(
      const std::string& id, std::uint64_t* offset, bool clean,
      std::optional<std::chrono::steady_clock::time_point> deadline, std::stop_token stop,
      const std::function<void(const boost::json::object&)>& chunk);

 private:
  base::Result<boost::json::object> Call(std::string_view method, const std::string& target,
                                         std::string_view body = {},
                                         std::chrono::milliseconds waits = {},
                                         std::stop_token stop = {}, const HttpHeaders& headers = {},
                                         HttpHeaders* answer_headers = nullptr);
  HttpClient& http_;
  Deadlines deadlines_;
};

// The read answer's `next_offset` (0 when absent).
std::uint64_t NextOffset(const boost::json::object& read);

// What a finished process's answer means as a shell exit status: its exit code, or 128+n for
// a process killed by signal n, as shells report it.
int ShellExitStatus(const boost::json::object& output);

}  // namespace corral::client
