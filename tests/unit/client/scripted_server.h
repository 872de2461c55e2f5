// A scriptable HTTP server on a Unix socket, for the client's and the MCP server's unit tests.
#pragma once

#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/http_client.h"

namespace corral::testing {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using local = asio::local::stream_protocol;

// An HTTP server on a Unix socket in a fresh directory, on its own thread. `answer` gives the
// status and body for each request, or nothing to never answer it.
class ScriptedServer {
 public:
  using Answer = std::function<std::optional<std::pair<int, std::string>>(std::string_view)>;

  explicit ScriptedServer(Answer answer) : answer_(std::move(answer)) {
    char dir[] = "/tmp/corral-client-test-XXXXXX";
    dir_ = ::mkdtemp(dir);
    acceptor_.emplace(ioc_, local::endpoint(dir_ + "/s.sock"));
    asio::co_spawn(ioc_, Accept(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~ScriptedServer() {
    ioc_.stop();
    thread_.join();
    std::filesystem::remove_all(dir_);
  }

  client::Destination destination() const {
    return {{.is_unix = true, .path = dir_ + "/s.sock"}, "", ""};
  }
  std::vector<std::string> targets() {
    std::lock_guard lock(mutex_);
    return targets_;
  }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      local::socket s = co_await acceptor_->async_accept(asio::use_awaitable);
      asio::co_spawn(ioc_, Serve(std::move(s)), asio::detached);
    }
  }
  asio::awaitable<void> Serve(local::socket s) {
    boost::beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      co_await http::async_read(s, buffer, req, asio::use_awaitable);
      {
        std::lock_guard lock(mutex_);
        targets_.emplace_back(req.target());
      }
      auto answer = answer_(req.target());
      if (!answer) {
        asio::steady_timer never(ioc_, std::chrono::hours(1));
        co_await never.async_wait(asio::use_awaitable);
      }
      http::response<http::string_body> res{static_cast<http::status>(answer->first), 11};
      res.body() = answer->second;
      res.prepare_payload();
      co_await http::async_write(s, res, asio::use_awaitable);
    }
  }

  Answer answer_;
  std::string dir_;
  asio::io_context ioc_;
  std::optional<local::acceptor> acceptor_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> targets_;
};

}  // namespace corral::testing
