#include "client/http_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <variant>

namespace corral::client {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;
using base::Code;
using base::Status;

namespace {

// The server holds a ?wait=true for at most 5 minutes: a read may take that long, and no more.
constexpr std::chrono::seconds kReadTimeout{5 * 60 + 30};
// The server drops idle connections after its request timeout (30 s by default); a connection
// idle longer than this is replaced before use rather than found dead midway.
constexpr std::chrono::seconds kMaxIdle{10};

void SetTimeouts(int fd) {
  timeval tv{};
  tv.tv_sec = kReadTimeout.count();
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

std::string Endpoint::ToString() const {
  return is_unix ? "unix:" + path : "http://" + host + ":" + port;
}

base::Result<Endpoint> ParseEndpoint(std::string_view text) {
  Endpoint e;
  if (text.starts_with("unix:")) text.remove_prefix(5);
  if (text.starts_with("/")) {
    e.is_unix = true;
    e.path = std::string(text);
    return e;
  }
  if (text.starts_with("http://")) text.remove_prefix(7);
  while (text.ends_with("/")) text.remove_suffix(1);
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return Status(Code::kInvalidArgument,
                  "bad server address \"" + std::string(text) +
                      "\": use unix:/path/to/corral.sock or http://host:port");
  }
  e.host = std::string(text.substr(0, colon));
  if (e.host.size() >= 2 && e.host.front() == '[' && e.host.back() == ']') {
    e.host = e.host.substr(1, e.host.size() - 2);
  }
  e.port = std::string(text.substr(colon + 1));
  return e;
}

struct HttpClient::Connection {
  asio::io_context ioc;
  std::variant<std::monostate, tcp::socket, local::socket> socket;
  boost::beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point last_used;
};

HttpClient::HttpClient(Endpoint endpoint, std::string token, std::string chat_id)
    : endpoint_(std::move(endpoint)),
      token_(std::move(token)),
      chat_id_(std::move(chat_id)),
      connection_(std::make_unique<Connection>()) {}

HttpClient::~HttpClient() = default;

base::Result<HttpResponse> HttpClient::Send(
    std::string_view method, std::string_view target, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  Connection& c = *connection_;
  const auto now = std::chrono::steady_clock::now();
  if (now - c.last_used > kMaxIdle) c.socket = std::monostate{};

  boost::system::error_code ec;
  if (std::holds_alternative<std::monostate>(c.socket)) {
    c.buffer.clear();
    if (endpoint_.is_unix) {
      local::socket s(c.ioc);
      s.connect(local::endpoint(endpoint_.path), ec);
      if (!ec) SetTimeouts(s.native_handle());
      if (!ec) c.socket = std::move(s);
    } else {
      tcp::resolver resolver(c.ioc);
      auto endpoints = resolver.resolve(endpoint_.host, endpoint_.port, ec);
      tcp::socket s(c.ioc);
      if (!ec) asio::connect(s, endpoints, ec);
      if (!ec) SetTimeouts(s.native_handle());
      if (!ec) c.socket = std::move(s);
    }
    if (ec) {
      return Status(Code::kUnavailable, "no corral server is answering at " + endpoint_.ToString() +
                                            " (" + ec.message() +
                                            "); start one with `corral serve`");
    }
  }

  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, endpoint_.is_unix ? "localhost" : endpoint_.host);
  req.set(http::field::user_agent, "corral-client");
  if (!body.empty() || method == "POST") {
    req.set(http::field::content_type, "application/json");
    req.body() = std::string(body);
  }
  if (!endpoint_.is_unix && !token_.empty()) {
    req.set(http::field::authorization, "Bearer " + token_);
  }
  if (!chat_id_.empty()) req.set("Coder-Chat-Id", chat_id_);
  for (const auto& [name, value] : headers) req.set(name, value);
  req.keep_alive(true);
  req.prepare_payload();

  http::response<http::string_body> res;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  std::visit(
      [&](auto& s) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(s)>, std::monostate>) {
          http::write(s, req, ec);
          if (!ec) http::read(s, c.buffer, parser, ec);
        }
      },
      c.socket);
  if (ec) {
    c.socket = std::monostate{};
    return Status(Code::kInternal,
                  "the exchange with " + endpoint_.ToString() + " failed: " + ec.message());
  }
  c.last_used = std::chrono::steady_clock::now();
  res = parser.release();
  if (!res.keep_alive()) c.socket = std::monostate{};
  return HttpResponse{static_cast<int>(res.result_int()), std::move(res.body())};
}

}  // namespace corral::client
