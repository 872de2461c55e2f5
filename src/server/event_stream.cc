#include "server/event_stream.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <string_view>

#include "api/cursor.h"
#include "base/log.h"

namespace corral::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace boost::asio::experimental::awaitable_operators;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> Sleep(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(kNoThrow);
}

template <typename Stream>
asio::awaitable<bool> WriteEvent(Stream& stream, bool chunked, std::string_view text,
                                 std::chrono::milliseconds timeout) {
  stream.expires_after(timeout);
  boost::system::error_code ec;
  if (chunked) {
    std::tie(ec, std::ignore) =
        co_await asio::async_write(stream, http::make_chunk(asio::buffer(text)), kNoThrow);
  } else {
    std::tie(ec, std::ignore) = co_await asio::async_write(stream, asio::buffer(text), kNoThrow);
  }
  stream.expires_never();
  co_return !ec;
}

template <typename Stream>
asio::awaitable<void> Send(Stream& stream, unsigned version, proc::ProcessTable& table,
                           std::shared_ptr<const proc::Process> p, std::uint64_t offset,
                           std::chrono::milliseconds write_timeout, api::ClientGone client_gone) {
  auto held = table.HoldWaiter();
  const bool chunked = version >= 11;
  http::response<http::empty_body> res{http::status::ok, version};
  res.set(http::field::server, "corral");
  res.set(http::field::content_type, "text/event-stream");
  res.set(http::field::cache_control, "no-cache");
  res.keep_alive(false);
  if (chunked) res.chunked(true);
  http::response_serializer<http::empty_body> serializer{res};
  stream.expires_after(write_timeout);
  auto [ec, n] = co_await http::async_write_header(stream, serializer, kNoThrow);
  stream.expires_never();
  if (ec) co_return;

  std::optional<bool> sent_state;  // the last waiting_for_input sent
  for (;;) {
    // Measured before the read: a command found waiting has its prompt taken in first, so the
    // read below sends the prompt before the state says it waits.
    const std::optional<bool> waiting = table.RefreshWaiting(*p);
    auto step = api::NextStreamStep(*p, &offset);
    if (!step.ok()) {
      base::LogWarning("stream of process " + p->id() + ": " + step.status().message());
      break;
    }
    using Kind = api::StreamStep::Kind;
    if (step->kind == Kind::kSend) {
      if (!co_await WriteEvent(stream, chunked, step->text, write_timeout)) co_return;
      continue;
    }
    if (step->kind == Kind::kEnd) {
      if (!co_await WriteEvent(stream, chunked, step->text, write_timeout)) co_return;
      break;
    }
    // Caught up with the output: its state, when it changed (and first of all, for a command
    // with a stdin pipe or terminal), comes after what the command wrote before it.
    if (waiting && waiting != sent_state) {
      if (!co_await WriteEvent(stream, chunked, api::StateEvent(*waiting), write_timeout)) {
        co_return;
      }
      sent_state = waiting;
      continue;
    }
    auto which = co_await (table.WaitOutput(p, /*counted=*/false) || table.WaitInputState(p) ||
                           Sleep(kKeepAliveInterval) || client_gone());
    if (which.index() == 3) co_return;
    if (which.index() == 2 &&
        !co_await WriteEvent(stream, chunked, api::kKeepAliveComment, write_timeout)) {
      co_return;
    }
  }
  if (chunked) {
    stream.expires_after(write_timeout);
    co_await asio::async_write(stream, http::make_chunk_last(), kNoThrow);
    stream.expires_never();
  }
}

}  // namespace

asio::awaitable<void> SendEventStream(beast::basic_stream<asio::ip::tcp>& stream, unsigned version,
                                      proc::ProcessTable& table,
                                      std::shared_ptr<const proc::Process> process,
                                      std::uint64_t offset, std::chrono::milliseconds write_timeout,
                                      api::ClientGone client_gone) {
  co_await Send(stream, version, table, std::move(process), offset, write_timeout,
                std::move(client_gone));
}

asio::awaitable<void> SendEventStream(beast::basic_stream<asio::local::stream_protocol>& stream,
                                      unsigned version, proc::ProcessTable& table,
                                      std::shared_ptr<const proc::Process> process,
                                      std::uint64_t offset, std::chrono::milliseconds write_timeout,
                                      api::ClientGone client_gone) {
  co_await Send(stream, version, table, std::move(process), offset, write_timeout,
                std::move(client_gone));
}

}  // namespace corral::server
