#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace corral::api {

// The longest a `?wait=true` holds a request: a client wanting more asks again.
inline constexpr std::chrono::minutes kMaxWait{5};
// `read` (DESIGN §7.2): the defaults of limit, timeout_ms and idle_ms.
inline constexpr std::size_t kDefaultReadLimit = 65536;
inline constexpr std::chrono::milliseconds kDefaultReadTimeout{30000};
inline constexpr std::chrono::milliseconds kDefaultIdle{2000};

// What a request asks for, from its method and target alone.
struct Route {
  enum class Kind {
    kStart,
    kList,
    kOutput,
    kSignal,
    kRead,    // GET /{id}/read
    kStream,  // GET /{id}/stream
    kHealth,
    kNotFound,          // no such route
    kMethodNotAllowed,  // a route, but not with this method; `allow` says which
    kBadTarget,         // the target is not a valid origin-form URL
    kBadQuery,          // a query parameter has a bad value: `param` names it, `error` says why
  };
  // What a `read` waits for before it answers.
  enum class Wait { kNone, kOutput, kExit, kIdle };
  Kind kind = Kind::kNotFound;
  std::string id;     // kOutput, kSignal, kRead, kStream: the path's id, percent-decoded
  bool wait = false;  // kOutput: ?wait=true
  std::chrono::milliseconds timeout = kMaxWait;   // kOutput, kRead: ?timeout_ms, capped at kMaxWait
  bool clean = false;                             // kOutput, kRead: ?view=clean (else raw)
  std::uint64_t offset = 0;                       // kRead, kStream: ?offset
  std::size_t limit = kDefaultReadLimit;          // kRead: ?limit, not clamped here
  Wait read_wait = Wait::kNone;                   // kRead: ?wait=output|exit|idle
  std::chrono::milliseconds idle = kDefaultIdle;  // kRead: ?idle_ms
  std::string param;                              // kBadQuery: the parameter's name
  std::string allow;                              // kMethodNotAllowed
  std::string path;                               // the decoded path, for messages
  std::string error;                              // kBadTarget, kBadQuery
};

Route ParseRoute(std::string_view method, std::string_view target);

}  // namespace corral::api
