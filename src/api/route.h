#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace corral::api {

// The longest a `?wait=true` holds a request: a client wanting more asks again.
inline constexpr std::chrono::minutes kMaxWait{5};
// How many processes `list` shows: Coder's agent shows 10; `?limit=N` (a Corral extension) asks
// for up to kMaxListLimit, as many as the server remembers done processes by default.
inline constexpr std::size_t kDefaultListLimit = 10;
inline constexpr std::size_t kMaxListLimit = 1024;

// What a request asks for, from its method and target alone.
struct Route {
  enum class Kind {
    kStart,
    kList,
    kOutput,
    kSignal,
    kHealth,
    kMetrics,           // GET /metrics
    kOpenApi,           // GET /api/v0/openapi.json
    kUi,                // GET /ui: the dashboard page, served without auth
    kNotFound,          // no such route
    kMethodNotAllowed,  // a route, but not with this method; `allow` says which
    kBadTarget,         // the target is not a valid origin-form URL
    kBadQuery,          // a query parameter has a bad value: `bad_query` names it, `error` says why
  };
  Kind kind = Kind::kNotFound;
  // The route's template, as metrics and logs name it ("/api/v0/processes/{id}/output"); set
  // for every matched path, whatever the method or query; empty when no route matched.
  std::string_view name;
  std::string id;                                // kOutput, kSignal: the path's id, percent-decoded
  bool wait = false;                             // kOutput: ?wait=true
  std::chrono::milliseconds timeout = kMaxWait;  // kOutput: ?timeout_ms, capped at kMaxWait
  std::size_t limit = kDefaultListLimit;         // kList: ?limit, capped at kMaxListLimit
  std::string_view bad_query;                    // kBadQuery: "timeout_ms" or "limit"
  std::string allow;                             // kMethodNotAllowed
  std::string path;                              // the decoded path, for messages
  std::string error;                             // kBadTarget, kBadQuery
};

Route ParseRoute(std::string_view method, std::string_view target);

// Whether a request for this route is answered without a token: only the dashboard page, which
// holds no data (it asks for the token before it fetches any).
inline bool IsPublic(const Route& route) { return route.kind == Route::Kind::kUi; }

}  // namespace corral::api
