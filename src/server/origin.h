#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace corral::server {

// Which browser-borne requests the server takes (DESIGN.md §7.6). A web page can make the
// user's browser send requests to the server: a cross-site "simple" POST needs no CORS
// preflight, and DNS rebinding makes a page's own name resolve to 127.0.0.1. Both are refused:
//   - `Host` must be an IP literal (IPv4, or IPv6 in brackets; a bare IPv6 address too, as a
//     non-browser client may send it), `localhost`, or a name given with --allow-host; each
//     with an optional port. A request without Host (HTTP/1.0) is not refused for it.
//   - `Origin`, when present, must be the server's own: `http://` or `https://` followed by
//     the Host the request was addressed to (scheme and host compared without regard to case,
//     default ports 80 and 443 implied), or one given with --allow-origin.
// Pure: no I/O, so it is unit-tested over every form.
class BrowserPolicy {
 public:
  enum class Verdict { kAllowed, kHostNotAllowed, kCrossOrigin };

  BrowserPolicy() = default;

  // Checks and normalises the flags. An --allow-host is a DNS name (letters, digits, '-',
  // '.', '_'; compared without regard to case and to the port); an --allow-origin is
  // `http://HOST[:PORT]` or `https://HOST[:PORT]` with nothing after it. A bad value is an
  // error naming it.
  static base::Result<BrowserPolicy> Make(const std::vector<std::string>& allowed_hosts,
                                          const std::vector<std::string>& allowed_origins);

  // The verdict on a request from its Host and Origin headers (nullopt: header absent). Host is
  // checked first.
  Verdict Check(std::optional<std::string_view> host, std::optional<std::string_view> origin) const;

 private:
  std::vector<std::string> hosts_;    // lower case
  std::vector<std::string> origins_;  // "scheme://host:port", lower case, port explicit
};

}  // namespace corral::server
