#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace corral::client {

// Where a server listens, as a client names it.
struct Endpoint {
  bool is_unix = false;
  std::string path;  // is_unix
  std::string host;
  std::string port;
  // "unix:/path" or "http://host:port", for messages.
  std::string ToString() const;
};

// Parses "unix:/path", "/path" (a socket), "http://host:port" or "host:port".
base::Result<Endpoint> ParseEndpoint(std::string_view text);

struct HttpResponse {
  int status = 0;
  std::string body;
};

// A small synchronous HTTP/1.1 client for corral's API, over TCP or a Unix socket. Keeps one
// connection alive between requests. Not thread-safe.
class HttpClient {
 public:
  // `token` is sent as a bearer token on TCP (never on a Unix socket); `chat_id`, when not
  // empty, as Coder-Chat-Id.
  HttpClient(Endpoint endpoint, std::string token, std::string chat_id);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and reads the answer. Errors: kUnavailable when no server answers at the
  // endpoint (the message says so and how to start one), kInternal when the exchange fails
  // midway.
  // `headers` are added to the request (name, value).
  base::Result<HttpResponse> Send(
      std::string_view method, std::string_view target, std::string_view body = {},
      const std::vector<std::pair<std::string, std::string>>& headers = {});

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  struct Connection;
  Endpoint endpoint_;
  std::string token_;
  std::string chat_id_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace corral::client
