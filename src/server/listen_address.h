#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace corral::server {

// Where to listen: a Unix socket path, or a TCP host and port.
struct ListenAddress {
  bool is_unix = false;
  std::string path;  // is_unix
  std::string host;  // numeric IPv4/IPv6, or "localhost"
  std::uint16_t port = 0;
};

// Parses "unix:/path", "HOST:PORT", "[IPV6]:PORT" or ":PORT" (all interfaces); nullopt with
// `error` set when malformed.
std::optional<ListenAddress> ParseListenAddress(std::string_view text, std::string& error);

}  // namespace corral::server
