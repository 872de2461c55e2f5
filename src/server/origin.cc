#include "server/origin.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace corral::server {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsIpv4(const std::string& s) {
  in_addr a;
  return ::inet_pton(AF_INET, s.c_str(), &a) == 1;  // dotted quad only: no "127.1", no hex
}

bool IsIpv6(const std::string& s) {
  in6_addr a;
  return ::inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

// The host and port of an authority (a Host header, or an origin after "scheme://").
struct Authority {
  std::string host;  // lower case; an IPv6 literal keeps its brackets
  std::optional<int> port;
  bool ip_literal = false;
};

std::optional<int> ParsePort(std::string_view s) {
  int port = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  if (s.empty() || s.size() > 5 || ec != std::errc{} || end != s.data() + s.size() || port < 0 ||
      port > 65535) {
    return std::nullopt;
  }
  return port;
}

std::optional<Authority> ParseAuthority(std::string_view text, bool allow_bare_ipv6) {
  Authority a;
  std::string_view port;
  bool has_port = false;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string inside = Lower(text.substr(1, close - 1));
    if (!IsIpv6(inside)) return std::nullopt;
    a.host = "[" + inside + "]";
    a.ip_literal = true;
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      has_port = true;
    }
  } else if (std::count(text.begin(), text.end(), ':') >= 2) {
    // Only an IPv6 address has two colons; a client that forgot the brackets sent it bare.
    const std::string bare = Lower(text);
    if (!allow_bare_ipv6 || !IsIpv6(bare)) return std::nullopt;
    a.host = "[" + bare + "]";
    a.ip_literal = true;
  } else {
    const std::size_t colon = text.find(':');
    a.host = Lower(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = text.substr(colon + 1);
      has_port = true;
    }
    if (a.host.empty()) return std::nullopt;
    for (char c : a.host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') {
        return std::nullopt;
      }
    }
    a.ip_literal = IsIpv4(a.host);
  }
  if (has_port) {
    a.port = ParsePort(port);
    if (!a.port) return std::nullopt;
  }
  return a;
}

struct Origin {
  std::string scheme;  // "http" or "https"
  Authority authority;
  int port;  // explicit, or the scheme's default
  bool default_port;
  std::string Normal() const {
    return scheme + "://" + authority.host + ":" + std::to_string(port);
  }
};

std::optional<Origin> ParseOrigin(std::string_view text) {
  const std::size_t sep = text.find("://");
  if (sep == std::string_view::npos) return std::nullopt;  // "null", or not an origin at all
  Origin o;
  o.scheme = Lower(text.substr(0, sep));
  if (o.scheme != "http" && o.scheme != "https") return std::nullopt;
  auto authority = ParseAuthority(text.substr(sep + 3), false);
  if (!authority) return std::nullopt;  // also any path, query or user info after the host
  o.authority = std::move(*authority);
  const int default_port = o.scheme == "http" ? 80 : 443;
  o.port = o.authority.port.value_or(default_port);
  o.default_port = o.port == default_port;
  return o;
}

// Whether `origin` is `http://` or `https://` followed by `host`: a Host without a port
// names the scheme's default port, whichever scheme.
bool SameAsHost(const Origin& origin, const Authority& host) {
  if (origin.authority.host != host.host) return false;
  return host.port ? origin.port == *host.port : origin.default_port;
}

}  // namespace

base::Result<BrowserPolicy> BrowserPolicy::Make(const std::vector<std::string>& allowed_hosts,
                                                const std::vector<std::string>& allowed_origins) {
  BrowserPolicy policy;
  for (const auto& name : allowed_hosts) {
    auto a = ParseAuthority(name, false);
    if (!a || a->port || a->ip_literal || name.starts_with('[')) {
      return base::Status(base::Code::kInvalidArgument,
                          "--allow-host \"" + name + "\": give a host name without a port");
    }
    policy.hosts_.push_back(a->host);
  }
  for (const auto& text : allowed_origins) {
    auto o = ParseOrigin(text);
    if (!o) {
      return base::Status(base::Code::kInvalidArgument,
                          "--allow-origin \"" + text +
                              "\": give http://HOST[:PORT] or https://HOST[:PORT], no path");
    }
    policy.origins_.push_back(o->Normal());
  }
  return policy;
}

BrowserPolicy::Verdict BrowserPolicy::Check(std::optional<std::string_view> host_header,
                                            std::optional<std::string_view> origin_header) const {
  std::optional<Authority> host;
  if (host_header && !host_header->empty()) {
    host = ParseAuthority(*host_header, true);
    const bool allowed =
        host && (host->ip_literal || host->host == "localhost" ||
                 std::find(hosts_.begin(), hosts_.end(), host->host) != hosts_.end());
    if (!allowed) return Verdict::kHostNotAllowed;
  }
  if (!origin_header) return Verdict::kAllowed;
  const auto origin = ParseOrigin(*origin_header);
  if (!origin) return Verdict::kCrossOrigin;
  if (host && SameAsHost(*origin, *host)) return Verdict::kAllowed;
  if (std::find(origins_.begin(), origins_.end(), origin->Normal()) != origins_.end()) {
    return Verdict::kAllowed;
  }
  return Verdict::kCrossOrigin;
}

}  // namespace corral::server
