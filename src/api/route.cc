#include "api/route.h"

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

// A whole non-negative number, all of `v`.
bool ParseCount(std::string_view v, long long& n) {
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  return ec == std::errc{} && end == v.data() + v.size() && n >= 0;
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
    case Kind::kHealth:
      return "/api/v0/health";
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
  if (rest == "list") {
    if (!get) return only(false, Kind::kList, "GET");
    route.kind = Kind::kList;
    route.name = TemplateOf(Kind::kList);
    if (auto it = url->params().find("limit"); it != url->params().end()) {
      long long n = 0;
      if (!ParseCount((*it).value, n) || n == 0) {
        route.kind = Kind::kBadQuery;
        route.bad_query = "limit";
        route.error = "limit must be a whole number >= 1";
        return route;
      }
      route.limit = std::min(kMaxListLimit, static_cast<std::size_t>(n));
    }
    return route;
  }
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return route;
  route.id = std::string(rest.substr(0, slash));
  const std::string_view action = rest.substr(slash + 1);
  if (action == "signal") return only(post, Kind::kSignal, "POST");
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
    long long ms = 0;
    if (!ParseCount(v, ms)) {
      route.kind = Kind::kBadQuery;
      route.bad_query = "timeout_ms";
      route.error = "timeout_ms must be a whole number of milliseconds, >= 0";
      return route;
    }
    route.timeout = std::min(route.timeout, std::chrono::milliseconds(ms));
  }
  return route;
}

}  // namespace corral::api
