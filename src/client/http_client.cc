#include "client/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <variant>

namespace corral::client {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;
using base::Code;
using base::Status;
using Clock = std::chrono::steady_clock;

namespace {

// The server drops idle connections after its request timeout (30 s by default); a connection
// idle longer than this is replaced before use rather than found dead midway.
constexpr std::chrono::seconds kMaxIdle{10};
// Largest answer read: the server's answers are a few tens of KiB.
constexpr std::uint64_t kBodyLimit = 64 * 1024 * 1024;

}  // namespace

std::string_view FindHeader(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (boost::beast::iequals(key, name)) return value;
  }
  return {};
}

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

// Every operation is asynchronous on a private io_context that only the calling thread runs, so
// that a deadline or a stop can abandon it: Asio's synchronous calls cannot be interrupted.
struct HttpClient::Connection {
  enum class Outcome { kDone, kTimedOut, kStopped };

  asio::io_context ioc;
  std::variant<std::monostate, tcp::socket, local::socket> socket;
  boost::beast::flat_buffer buffer;
  Clock::time_point last_used;

  void Drop() {
    std::visit(
        [](auto& s) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(s)>, std::monostate>) {
            boost::system::error_code ignored;
            s.close(ignored);
          }
        },
        socket);
    socket = std::monostate{};
    buffer.clear();
  }

  // Runs the operation `start` begins (it calls its handler with an error_code) until it
  // completes, `deadline` passes or `stop` is requested; in the last two cases the socket is
  // closed, which aborts the operation, and the handler is run to completion before returning.
  template <typename Start>
  Outcome Run(Start start, Clock::time_point deadline, const std::stop_token& stop,
              boost::system::error_code& ec) {
    bool done = false;
    ioc.restart();
    start([&](boost::system::error_code e, auto&&...) {
      ec = e;
      done = true;
    });
    // io_context::stop is safe from any thread: it makes run_for return at once.
    std::stop_callback on_stop(stop, [this] { ioc.stop(); });
    Outcome outcome = Outcome::kDone;
    while (!done) {
      if (stop.stop_requested()) {
        outcome = Outcome::kStopped;
      } else if (Clock::now() >= deadline) {
        outcome = Outcome::kTimedOut;
      } else {
        ioc.run_for(deadline - Clock::now());
        if (ioc.stopped()) ioc.restart();
        continue;
      }
      Drop();
      ioc.restart();
      ioc.run();  // the aborted operation's handler
      break;
    }
    return outcome;
  }
};

HttpClient::HttpClient(Destination destination)
    : destination_(std::move(destination)), connection_(std::make_unique<Connection>()) {}

HttpClient::~HttpClient() = default;

base::Result<HttpResponse> HttpClient::Send(std::string_view method, std::string_view target,
                                            std::string_view body,
                                            std::chrono::milliseconds timeout, std::stop_token stop,
                                            const HttpHeaders& headers) {
  using Outcome = Connection::Outcome;
  const Endpoint& endpoint = destination_.endpoint;
  const auto deadline = Clock::now() + timeout;
  Connection& c = *connection_;
  if (Clock::now() - c.last_used > kMaxIdle) c.Drop();

  auto failed = [&](Outcome outcome, std::string_view doing) -> Status {
    c.Drop();
    if (outcome == Outcome::kStopped) return Status(Code::kUnavailable, "interrupted");
    const auto seconds = std::chrono::duration_cast<std::chrono::duration<double>>(timeout);
    char limit[32];
    std::snprintf(limit, sizeof limit, "%.3g s", seconds.count());
    return Status(Code::kUnavailable, "the corral server at " + endpoint.ToString() +
                                          " stopped answering: no answer within " + limit +
                                          " while " + std::string(doing) +
                                          " (is it stopped or overloaded?)");
  };

  boost::system::error_code ec;
  if (std::holds_alternative<std::monostate>(c.socket)) {
    Outcome outcome;
    if (endpoint.is_unix) {
      auto& s = c.socket.emplace<local::socket>(c.ioc);
      outcome =
          c.Run([&](auto handler) { s.async_connect(local::endpoint(endpoint.path), handler); },
                deadline, stop, ec);
    } else {
      tcp::resolver resolver(c.ioc);
      tcp::resolver::results_type endpoints;
      outcome = c.Run(
          [&](auto handler) {
            resolver.async_resolve(endpoint.host, endpoint.port,
                                   [&endpoints, handler](boost::system::error_code e,
                                                         tcp::resolver::results_type r) mutable {
                                     endpoints = std::move(r);
                                     handler(e);
                                   });
          },
          deadline, stop, ec);
      if (outcome == Outcome::kDone && !ec) {
        auto& s = c.socket.emplace<tcp::socket>(c.ioc);
        outcome = c.Run([&](auto handler) { asio::async_connect(s, endpoints, handler); }, deadline,
                        stop, ec);
      }
    }
    if (outcome != Outcome::kDone) return failed(outcome, "connecting");
    if (ec) {
      c.Drop();
      return Status(Code::kUnavailable, "no corral server is answering at " + endpoint.ToString() +
                                            " (" + ec.message() +
                                            "); start one with `corral serve`");
    }
  }

  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, endpoint.is_unix ? "localhost" : endpoint.host);
  req.set(http::field::user_agent, "corral-client");
  if (!body.empty() || method == "POST") {
    req.set(http::field::content_type, "application/json");
    req.body() = std::string(body);
  }
  if (!endpoint.is_unix && !destination_.token.empty()) {
    req.set(http::field::authorization, "Bearer " + destination_.token);
  }
  if (!destination_.chat_id.empty()) req.set("Coder-Chat-Id", destination_.chat_id);
  for (const auto& [name, value] : headers) req.set(name, value);
  req.keep_alive(true);
  req.prepare_payload();

  http::response_parser<http::string_body> parser;
  parser.body_limit(kBodyLimit);
  Outcome outcome = Outcome::kDone;
  std::visit(
      [&](auto& s) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(s)>, std::monostate>) {
          outcome =
              c.Run([&](auto handler) { http::async_write(s, req, handler); }, deadline, stop, ec);
          if (outcome == Outcome::kDone && !ec) {
            outcome = c.Run([&](auto handler) { http::async_read(s, c.buffer, parser, handler); },
                            deadline, stop, ec);
          }
        }
      },
      c.socket);
  if (outcome != Outcome::kDone) return failed(outcome, "waiting for its answer");
  if (ec) {
    c.Drop();
    return Status(Code::kInternal,
                  "the exchange with " + endpoint.ToString() + " failed: " + ec.message());
  }
  c.last_used = Clock::now();
  auto res = parser.release();
  if (!res.keep_alive()) c.Drop();
  HttpResponse response{static_cast<int>(res.result_int()), std::move(res.body()), {}};
  for (const auto& field : res) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return response;
}

}  // namespace corral::client
