#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api/answer_cache.h"
#include "api/metrics.h"
#include "api/route.h"
#include "proc/process_table.h"

namespace corral::api {

// A request as the router needs it; the server fills it from the wire.
struct Request {
  std::string_view method;   // "GET", "POST", ...
  std::string_view target;   // origin-form: path and query
  std::string_view chat_id;  // the Coder-Chat-Id header, raw
  std::string_view body;
  std::string_view last_event_id;  // the Last-Event-ID header (a stream's resume point), raw
  std::optional<std::string_view> idempotency_key;  // the Idempotency-Key header, if sent
};

struct Response {
  int status = 200;
  std::string body;                                // JSON
  std::shared_ptr<const std::string> shared_body;  // sent instead of body when set
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;  // the client is gone: send nothing, drop the connection
  // Set for a `stream` accepted: instead of a body the server sends the event stream of this
  // process from stream_offset (see NextStreamStep).
  std::shared_ptr<const proc::Process> stream;
  std::uint64_t stream_offset = 0;
};

// The bound on the bytes of cached answers: 8 MiB holds the output answers (at most ~33 KB each)
// of the 250 processes read most recently.
inline constexpr std::size_t kMaxCachedAnswerBytes = 8 * 1024 * 1024;

// Completes when the client has gone away; the server provides it per connection.
using ClientGone = std::function<boost::asio::awaitable<void>()>;

// What the health and metrics routes report about the server around the table.
struct ServerCounters {
  std::function<std::size_t()> connections;
  std::function<std::uint64_t()> spool_bytes;  // bytes of spooled output on disk; unset: 0
};

// The routes of DESIGN.md §1 and §7.7 (and /api/v0/health): decodes, checks chat visibility,
// calls the process table, encodes. Counts spawn latency in `metrics` and renders them.
class Router {
 public:
  Router(proc::ProcessTable& table, ServerCounters counters, Metrics& metrics)
      : table_(table), counters_(std::move(counters)), metrics_(metrics) {}

  boost::asio::awaitable<Response> Handle(const Request& request, ClientGone client_gone);
  // The same, for a request whose route the caller parsed already (ParseRoute of its method and
  // target).
  boost::asio::awaitable<Response> Handle(const Request& request, const Route& route,
                                          ClientGone client_gone);

  proc::ProcessTable& table() { return table_; }

 private:
  Response Start(const Request& request, const std::string& chat);
  Response List(const std::string& chat, std::size_t limit);
  boost::asio::awaitable<Response> Output(const Route& route, const std::string& chat,
                                          ClientGone client_gone);
  boost::asio::awaitable<Response> Read(const Route& route, const std::string& chat,
                                        ClientGone client_gone);
  Response Stream(const Route& route, const std::string& chat, std::string_view last_event_id);
  Response Signal(std::string_view id, const std::string& chat, std::string_view body);
  // Talking to a running command (DESIGN §7.3).
  Response Input(std::string_view id, const std::string& chat, std::string_view body);
  Response Resize(std::string_view id, const std::string& chat, std::string_view body);
  // GET /wait (DESIGN §7.5).
  boost::asio::awaitable<Response> WaitMany(const Route& route, const std::string& chat,
                                            ClientGone client_gone);
  Response Health();
  Response RenderMetrics();

  proc::ProcessTable& table_;
  ServerCounters counters_;
  Metrics& metrics_;
  // Answers clients poll: the list per chat (for one table generation), the output per process
  // (while its size and state are unchanged).
  AnswerCache cache_{kMaxCachedAnswerBytes};
};

}  // namespace corral::api
