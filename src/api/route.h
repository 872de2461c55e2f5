#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace corral::api {

// The longest a `?wait=true` holds a request: a client wanting more asks again.
inline constexpr std::chrono::minutes kMaxWait{5};
// How many processes `list` shows: Coder's agent shows 10; `?limit=N` (a Corral extension) asks
// for up to kMaxListLimit, as many as the server remembers done processes by default.
inline constexpr std::size_t kDefaultListLimit = 10;
inline constexpr std::size_t kMaxListLimit = 1024;
// `read` (DESIGN §7.2): the defaults of limit, timeout_ms and idle_ms.
inline constexpr std::size_t kDefaultReadLimit = 65536;
inline constexpr std::chrono::milliseconds kDefaultReadTimeout{30000};
inline constexpr std::chrono::milliseconds kDefaultIdle{2000};
// `/wait` (DESIGN §7.5): at most this many ids in one request (as many as `list` can show).
inline constexpr std::size_t kMaxWaitIds = 1024;

// What a request asks for, from its method and target alone.
struct Route {
  enum class Kind {
    kStart,
    kList,
    kOutput,
    kSignal,
    kInput,   // POST /{id}/input
    kResize,  // POST /{id}/resize
    kRead,    // GET /{id}/read
    kStream,  // GET /{id}/stream
    kHealth,
    kWaitMany,          // GET /api/v0/processes/wait (DESIGN §7.5)
    kMetrics,           // GET /metrics
    kOpenApi,           // GET /api/v0/openapi.json
    kUi,                // GET /ui: the dashboard page, served without auth
    kNotFound,          // no such route
    kMethodNotAllowed,  // a route, but not with this method; `allow` says which
    kBadTarget,         // the target is not a valid origin-form URL
    kBadQuery,          // a query parameter has a bad value: `param` names it, `error` says why
  };
  enum class Wait {
    kNone,
    kOutput,
    kExit,
    kIdle,
    kListening,  // until the command listens on a TCP port (DESIGN §7.3)
  };
  Kind kind = Kind::kNotFound;
  // The route's template, as metrics and logs name it ("/api/v0/processes/{id}/output"); set
  // for every matched path, whatever the method or query; empty when no route matched.
  std::string_view name;
  std::string id;     // kOutput, kSignal, kInput, kResize, kRead, kStream: the path's id, decoded
  bool wait = false;  // kOutput: ?wait=true
  std::chrono::milliseconds timeout = kMaxWait;   // kOutput, kRead: ?timeout_ms, capped at kMaxWait
  bool clean = false;                             // kOutput, kRead: ?view=clean (else raw)
  std::size_t list_limit = kDefaultListLimit;     // kList: ?limit, capped at kMaxListLimit
  std::uint64_t offset = 0;                       // kRead, kStream: ?offset
  std::size_t limit = kDefaultReadLimit;          // kRead: ?limit, not clamped here
  Wait read_wait = Wait::kNone;                   // kRead: ?wait=output|exit|idle|listening
  std::chrono::milliseconds idle = kDefaultIdle;  // kRead: ?idle_ms
  std::vector<std::string> ids;                   // kWaitMany: ?ids, in their order, each once
  bool until_all = false;                         // kWaitMany: ?until=all (else any)
  std::string param;                              // kBadQuery: the parameter's name
  std::string allow;                              // kMethodNotAllowed
  std::string path;                               // the decoded path, for messages
  std::string error;                              // kBadTarget, kBadQuery
};

Route ParseRoute(std::string_view method, std::string_view target);

// Whether a request for this route is answered without a token: only the dashboard page, which
// holds no data (it asks for the token before it fetches any).
inline bool IsPublic(const Route& route) { return route.kind == Route::Kind::kUi; }

}  // namespace corral::api
