#include "server/listen_address.h"

#include <charconv>

namespace corral::server {

std::optional<ListenAddress> ParseListenAddress(std::string_view text, std::string& error) {
  ListenAddress a;
  if (text.starts_with("unix:")) {
    a.is_unix = true;
    a.path = std::string(text.substr(5));
    if (a.path.empty()) {
      error = "empty socket path in \"" + std::string(text) + "\"";
      return std::nullopt;
    }
    return a;
  }
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    error = "\"" + std::string(text) + "\" is neither unix:/path nor HOST:PORT";
    return std::nullopt;
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value > 65535) {
    error = "bad port in \"" + std::string(text) + "\"";
    return std::nullopt;
  }
  a.host = host.empty() ? "0.0.0.0" : std::string(host);
  a.port = static_cast<std::uint16_t>(value);
  return a;
}

}  // namespace corral::server
