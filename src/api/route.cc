#include "api/route.h"

#include <boost/url/parse.hpp>
#include <charconv>

namespace corral::api {
namespace {

constexpr std::string_view kPrefix = "/api/v0/processes";

bool Truthy(std::string_view v) { return v == "true" || v == "1" || v == "True" || v == "TRUE"; }

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
  if (rest == "list") return only(get, Kind::kList, "GET");
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
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
    if (ec != std::errc{} || end != v.data() + v.size() || ms < 0) {
      route.kind = Kind::kBadQuery;
      route.error = "timeout_ms must be a whole number of milliseconds, >= 0";
      return route;
    }
    route.timeout = std::min(route.timeout, std::chrono::milliseconds(ms));
  }
  return route;
}

}  // namespace corral::api
