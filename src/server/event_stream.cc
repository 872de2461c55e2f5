#include "server/event_stream.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <string_view>
#include <variant>

#include "api/cursor.h"
#include "base/log.h"

namespace corral::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace boost::asio::experimental::awaitable_operators;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

bool Cancelled(const asio::cancellation_state& state) {
  return state.cancelled() != asio::cancellation_type::none;
}

// Until cancelled.
asio::awaitable<void> Forever() {
  asio::steady_timer timer(co_await asio::this_coro::executor,
                           asio::steady_timer::time_point::max());
  co_await timer.async_wait(kNoThrow);
}

// What a stream waits on when it has nothing to send. `timer` expires when a keep-alive is due
// and is cancelled by the watchers below when there may be something to send (`news`: set even
// while the stream is busy writing, so that it looks again before waiting). One per stream for
// its whole life: a wake costs no allocation.
struct Wake {
  explicit Wake(const asio::any_io_executor& ex) : timer(ex) {}
  void Notify() {
    news = true;
    timer.cancel();
  }
  asio::steady_timer timer;
  bool news = false;
};

// Wakes the stream on each output of the process (an append, its end of file, its end), as long
// as more can come.
asio::awaitable<void> WatchOutput(proc::ProcessTable& table, std::shared_ptr<const proc::Process> p,
                                  Wake& wake) {
  const auto state = co_await asio::this_coro::cancellation_state;
  while (!p->output_complete()) {
    co_await table.WaitOutput(p, /*counted=*/false);
    if (Cancelled(state)) co_return;
    wake.Notify();
  }
  co_await Forever();
}

// Wakes the stream on each change of the command's waiting_for_input, as long as it has one.
asio::awaitable<void> WatchInputState(proc::ProcessTable& table,
                                      std::shared_ptr<const proc::Process> p, Wake& wake) {
  const auto state = co_await asio::this_coro::cancellation_state;
  while (p->waiting_for_input()) {
    co_await table.WaitInputState(p);
    if (Cancelled(state)) co_return;
    wake.Notify();
  }
  co_await Forever();
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

// The stream's events, until the exit event was sent, the output could not be read (both: true,
// the body is to be ended), a write failed or it was cancelled (false).
template <typename Stream>
asio::awaitable<bool> Pump(Stream& stream, bool chunked, proc::ProcessTable& table,
                           std::shared_ptr<const proc::Process> p, std::uint64_t offset,
                           std::chrono::milliseconds write_timeout, Wake& wake) {
  const auto state = co_await asio::this_coro::cancellation_state;
  wake.timer.expires_after(kKeepAliveInterval);
  std::optional<bool> sent_state;  // the last waiting_for_input sent
  for (;;) {
    if (Cancelled(state)) co_return false;
    wake.news = false;  // what comes from now on is looked at by the next step
    // Measured before the read: a command found waiting has its prompt taken in first, so the
    // read below sends the prompt before the state says it waits.
    const std::optional<bool> waiting = table.RefreshWaiting(*p);
    auto step = api::NextStreamStep(*p, &offset);
    if (!step.ok()) {
      base::LogWarning("stream of process " + p->id() + ": " + step.status().message());
      co_return true;
    }
    using Kind = api::StreamStep::Kind;
    if (step->kind != Kind::kWait) {
      if (!co_await WriteEvent(stream, chunked, *step->text, write_timeout)) co_return false;
      if (step->kind == Kind::kEnd) co_return true;
      wake.timer.expires_after(kKeepAliveInterval);
      continue;
    }
    // Caught up with the output: its state, when it changed (and first of all, for a command
    // with a stdin pipe or terminal), comes after what the command wrote before it.
    if (waiting && waiting != sent_state) {
      if (!co_await WriteEvent(stream, chunked, api::StateEvent(*waiting), write_timeout)) {
        co_return false;
      }
      sent_state = waiting;
      wake.timer.expires_after(kKeepAliveInterval);
      continue;
    }
    if (wake.news) continue;
    auto [ec] = co_await wake.timer.async_wait(kNoThrow);
    if (ec) continue;  // woken (or cancelled: the loop's first check ends it)
    if (!co_await WriteEvent(stream, chunked, api::kKeepAliveComment, write_timeout)) {
      co_return false;
    }
    wake.timer.expires_after(kKeepAliveInterval);
  }
}

// Which branch of the stream's wait ended it: the pump (with its result), or another.
using Ended = std::variant<bool, std::monostate, std::monostate, std::monostate>;
Ended Widen(const std::variant<bool, std::monostate, std::monostate>& v) {
  if (v.index() == 0) return Ended(std::in_place_index<0>, std::get<0>(v));
  return Ended(std::in_place_index<1>);
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

  // The watchers and the client's end live as long as the stream, not one wait: a wake costs
  // neither a timer nor a group of waits.
  Wake wake(stream.get_executor());
  // A command without a stdin pipe or terminal has no state to watch: one wait less to hold.
  const auto ended =
      p->waiting_for_input()
          ? co_await (Pump(stream, chunked, table, p, offset, write_timeout, wake) ||
                      WatchOutput(table, p, wake) || WatchInputState(table, p, wake) ||
                      client_gone())
          : Widen(co_await (Pump(stream, chunked, table, p, offset, write_timeout, wake) ||
                            WatchOutput(table, p, wake) || client_gone()));
  if (ended.index() != 0 || !std::get<0>(ended)) co_return;
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
