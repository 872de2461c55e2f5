#pragma once

#include <chrono>
#include <memory>
#include <stop_token>
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

// Everything a client needs to reach a server and speak for a chat.
struct Destination {
  Endpoint endpoint;
  std::string token;    // sent as a bearer token on TCP (never on a Unix socket)
  std::string chat_id;  // sent as Coder-Chat-Id when not empty
};

// Header fields as (name, value) pairs.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// The value of header `name` in `headers` (compared without regard to case), or "" when absent.
std::string_view FindHeader(const HttpHeaders& headers, std::string_view name);

struct HttpResponse {
  int status = 0;
  std::string body;
  HttpHeaders headers;
};

// A small HTTP/1.1 client for corral's API, over TCP or a Unix socket, with a deadline on every
// exchange. Keeps one connection alive between requests. Not thread-safe: one thread uses it at
// a time (a stop may be requested from any thread).
class HttpClient {
 public:
  explicit HttpClient(Destination destination);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and reads the answer, all of it (connecting included) within `timeout`.
  // Errors, all kUnavailable except the last: no server answers at the endpoint (the message
  // says so and how to start one); the answer did not come within `timeout` (the message says
  // the server stopped answering); `stop` was requested (the exchange is abandoned at once and
  // the connection dropped; the caller knows from `stop` why); kInternal: the exchange failed
  // midway. `headers` are added to the request.
  base::Result<HttpResponse> Send(std::string_view method, std::string_view target,
                                  std::string_view body, std::chrono::milliseconds timeout,
                                  std::stop_token stop = {}, const HttpHeaders& headers = {});

  const Endpoint& endpoint() const { return destination_.endpoint; }

 private:
  struct Connection;
  Destination destination_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace corral::client
