#include "api/route.h"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <cctype>
#include <charconv>

namespace corral::api {
namespace {

constexpr std::string_view kPrefix = "/api/v0/processes";

// `1`, or `true` in any case (Coder takes only `true`).
bool Truthy(std::string_view v) {
  if (v == "1") return true;
  constexpr std::string_view kTrue = "true";
  if (v.size() != kTrue.size()) return false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(v[i])) != kTrue[i]) return false;
  }
  return true;
}

// A query value that must be a non-negative integer; false when it is not.
bool ParseCount(std::string_view v, std::uint64_t& out) {
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc{} && end == v.data() + v.size() && !v.empty();
}

Route BadQuery(Route route, std::string_view param, std::string_view why) {
  route.kind = Route::Kind::kBadQuery;
  route.param = param;
  route.error = why;
  return route;
}

// ?view=raw|clean; false when another value.
bool ParseView(const boost::urls::params_view& params, bool& clean) {
  auto it = params.find("view");
  if (it == params.end()) return true;
  const std::string v = (*it).value;
  clean = v == "clean";
  return clean || v == "raw";
}

// The query of `read` and `stream`.
Route ParseCursorQuery(Route route, const boost::urls::params_view& params) {
  using Wait = Route::Wait;
  constexpr std::string_view kCount = "must be a whole number, >= 0";
  std::uint64_t n = 0;
  if (auto it = params.find("offset"); it != params.end()) {
    if (!ParseCount((*it).value, n)) return BadQuery(std::move(route), "offset", kCount);
    route.offset = n;
  }
  if (route.kind == Route::Kind::kStream) return route;
  if (auto it = params.find("limit"); it != params.end()) {
    if (!ParseCount((*it).value, n)) return BadQuery(std::move(route), "limit", kCount);
    route.limit = n > SIZE_MAX ? SIZE_MAX : static_cast<std::size_t>(n);
  }
  route.timeout = kDefaultReadTimeout;
  if (auto it = params.find("timeout_ms"); it != params.end()) {
    if (!ParseCount((*it).value, n)) return BadQuery(std::move(route), "timeout_ms", kCount);
    route.timeout = n > static_cast<std::uint64_t>(std::chrono::milliseconds(kMaxWait).count())
                        ? kMaxWait
                        : std::chrono::milliseconds(n);
  }
  if (auto it = params.find("idle_ms"); it != params.end()) {
    if (!ParseCount((*it).value, n)) return BadQuery(std::move(route), "idle_ms", kCount);
    route.idle = n > static_cast<std::uint64_t>(std::chrono::milliseconds(kMaxWait).count())
                     ? kMaxWait
                     : std::chrono::milliseconds(n);
  }
  if (auto it = params.find("wait"); it != params.end()) {
    const std::string v = (*it).value;
    if (v == "output") {
      route.read_wait = Wait::kOutput;
    } else if (v == "exit") {
      route.read_wait = Wait::kExit;
    } else if (v == "idle") {
      route.read_wait = Wait::kIdle;
    } else if (v == "listening") {
      route.read_wait = Wait::kListening;
    } else {
      return BadQuery(std::move(route), "wait", "use output, exit, idle or listening");
    }
  }
  if (!ParseView(params, route.clean))
    return BadQuery(std::move(route), "view", "use raw or clean");
  return route;
}

// The query of `/wait`: ids=a,b,c (required), until=any|all, timeout_ms.
Route ParseWaitManyQuery(Route route, const boost::urls::params_view& params) {
  auto it = params.find("ids");
  if (it == params.end() || (*it).value.empty()) {
    return BadQuery(std::move(route), "ids", "give the ids to wait for, comma-separated");
  }
  const std::string ids = (*it).value;
  for (std::size_t at = 0;;) {
    const std::size_t comma = std::min(ids.find(',', at), ids.size());
    std::string id = ids.substr(at, comma - at);
    if (id.empty()) return BadQuery(std::move(route), "ids", "an id is empty");
    if (std::find(route.ids.begin(), route.ids.end(), id) != route.ids.end()) {
      return BadQuery(std::move(route), "ids", "\"" + id + "\" is listed twice");
    }
    if (route.ids.size() == kMaxWaitIds) {
      return BadQuery(std::move(route), "ids",
                      "at most " + std::to_string(kMaxWaitIds) + " ids in one request");
    }
    route.ids.push_back(std::move(id));
    if (comma == ids.size()) break;
    at = comma + 1;
  }
  if (auto u = params.find("until"); u != params.end()) {
    const std::string v = (*u).value;
    if (v != "any" && v != "all") return BadQuery(std::move(route), "until", "use any or all");
    route.until_all = v == "all";
  }
  route.timeout = kDefaultReadTimeout;
  if (auto t = params.find("timeout_ms"); t != params.end()) {
    std::uint64_t n = 0;
    if (!ParseCount((*t).value, n)) {
      return BadQuery(std::move(route), "timeout_ms", "must be a whole number, >= 0");
    }
    route.timeout = n > static_cast<std::uint64_t>(std::chrono::milliseconds(kMaxWait).count())
                        ? kMaxWait
                        : std::chrono::milliseconds(n);
  }
  return route;
}

std::string_view TemplateOf(Route::Kind kind) {
  using Kind = Route::Kind;
  switch (kind) {
    case Kind::kStart:
      return "/api/v0/processes/start";
    case Kind::kList:
      return "/api/v0/processes/list";
    case Kind::kOutput:
      return "/api/v0/processes/{id}/output";
    case Kind::kSignal:
      return "/api/v0/processes/{id}/signal";
    case Kind::kInput:
      return "/api/v0/processes/{id}/input";
    case Kind::kResize:
      return "/api/v0/processes/{id}/resize";
    case Kind::kRead:
      return "/api/v0/processes/{id}/read";
    case Kind::kStream:
      return "/api/v0/processes/{id}/stream";
    case Kind::kHealth:
      return "/api/v0/health";
    case Kind::kWaitMany:
      return "/api/v0/processes/wait";
    case Kind::kMetrics:
      return "/metrics";
    case Kind::kOpenApi:
      return "/api/v0/openapi.json";
    case Kind::kUi:
      return "/ui";
    case Kind::kNotFound:
    case Kind::kMethodNotAllowed:
    case Kind::kBadTarget:
    case Kind::kBadQuery:
      break;
  }
  return {};
}

}  // namespace

Route ParseRoute(std::string_view method, std::string_view target) {
  using Kind = Route::Kind;
  Route route;
  auto url = boost::urls::parse_origin_form(target);
  if (!url) {
    route.kind = Kind::kBadTarget;
    route.error = url.error().message();
    return route;
  }
  route.path = url->path();
  const bool get = method == "GET";
  const bool post = method == "POST";
  auto only = [&](bool ok, Kind kind, std::string_view allowed) {
    route.name = TemplateOf(kind);
    route.kind = ok ? kind : Kind::kMethodNotAllowed;
    if (!ok) route.allow = allowed;
    return route;
  };

  if (route.path == "/api/v0/health") return only(get, Kind::kHealth, "GET");
  if (route.path == "/api/v0/openapi.json") return only(get, Kind::kOpenApi, "GET");
  if (route.path == "/metrics") return only(get, Kind::kMetrics, "GET");
  if (route.path == "/ui" || route.path == "/ui/") return only(get, Kind::kUi, "GET");
  std::string_view path = route.path;
  if (!path.starts_with(kPrefix) || path.size() <= kPrefix.size() || path[kPrefix.size()] != '/') {
    return route;
  }
  std::string_view rest = path.substr(kPrefix.size() + 1);
  if (rest == "start") return only(post, Kind::kStart, "POST");
  if (rest == "wait") {  // a fixed word, never an {id}: ids are UUIDs and stand before an action
    if (!get) return only(false, Kind::kWaitMany, "GET");
    route.kind = Kind::kWaitMany;
    route.name = TemplateOf(Kind::kWaitMany);
    return ParseWaitManyQuery(std::move(route), url->params());
  }
  if (rest == "list") {
    if (!get) return only(false, Kind::kList, "GET");
    route.kind = Kind::kList;
    route.name = TemplateOf(Kind::kList);
    if (auto it = url->params().find("limit"); it != url->params().end()) {
      std::uint64_t n = 0;
      if (!ParseCount((*it).value, n) || n == 0) {
        return BadQuery(std::move(route), "limit", "limit must be a whole number >= 1");
      }
      route.list_limit = static_cast<std::size_t>(std::min<std::uint64_t>(kMaxListLimit, n));
    }
    return route;
  }
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return route;
  route.id = std::string(rest.substr(0, slash));
  const std::string_view action = rest.substr(slash + 1);
  if (action == "signal") return only(post, Kind::kSignal, "POST");
  if (action == "input") return only(post, Kind::kInput, "POST");
  if (action == "resize") return only(post, Kind::kResize, "POST");
  if (action == "read" || action == "stream") {
    const Kind kind = action == "read" ? Kind::kRead : Kind::kStream;
    if (!get) return only(false, kind, "GET");
    route.kind = kind;
    route.name = TemplateOf(kind);
    return ParseCursorQuery(std::move(route), url->params());
  }
  if (action != "output") {
    route.id.clear();
    return route;
  }
  if (!get) return only(false, Kind::kOutput, "GET");
  route.kind = Kind::kOutput;
  route.name = TemplateOf(Kind::kOutput);
  if (auto it = url->params().find("wait"); it != url->params().end()) {
    route.wait = Truthy((*it).value);
  }
  if (auto it = url->params().find("timeout_ms"); it != url->params().end()) {
    const std::string v = (*it).value;
    std::uint64_t ms = 0;
    if (!ParseCount(v, ms)) {
      return BadQuery(std::move(route), "timeout_ms",
                      "timeout_ms must be a whole number of milliseconds, >= 0");
    }
    route.timeout = ms > static_cast<std::uint64_t>(std::chrono::milliseconds(kMaxWait).count())
                        ? kMaxWait
                        : std::chrono::milliseconds(ms);
  }
  if (!ParseView(url->params(), route.clean)) {
    return BadQuery(std::move(route), "view", "use raw or clean");
  }
  return route;
}

}  // namespace corral::api
