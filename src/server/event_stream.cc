#include "server/event_stream.h"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

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

// A stream the output watcher of its process pokes when there may be something to send.
class Pokeable {
 public:
  virtual void Poke() = 0;

 protected:
  ~Pokeable() = default;
};

// The streams following one process, and the one watcher that pokes them all on each output (an
// append, its end of file, its end) as long as more can come: a line written to 1,000 followers
// is one wait and one walk over them, not 1,000 waits each resumed. Lives while it has followers
// (and its watcher, cancelled when the last one leaves, until it ends). Of the loop's thread.
class Fanout {
 public:
  // Makes `f` a follower of `p` until the returned handle is dropped.
  static std::shared_ptr<void> Join(proc::ProcessTable& table,
                                    std::shared_ptr<const proc::Process> p, Pokeable* f,
                                    const asio::any_io_executor& ex) {
    auto& registry = Registry();
    std::shared_ptr<Fanout> fanout = registry[p.get()].lock();
    if (!fanout) {
      fanout = std::make_shared<Fanout>(p);
      registry[p.get()] = fanout;
      if (!p->output_complete()) {
        asio::co_spawn(ex, Watch(table, fanout),
                       asio::bind_cancellation_slot(fanout->stop_.slot(), asio::detached));
      }
    }
    fanout->followers_.push_back(f);
    return std::shared_ptr<void>(nullptr, [fanout, f](void*) { fanout->Leave(f); });
  }

  explicit Fanout(std::shared_ptr<const proc::Process> p) : p_(std::move(p)) {}

 private:
  static std::unordered_map<const proc::Process*, std::weak_ptr<Fanout>>& Registry() {
    thread_local std::unordered_map<const proc::Process*, std::weak_ptr<Fanout>> registry;
    return registry;
  }

  static asio::awaitable<void> Watch(proc::ProcessTable& table, std::shared_ptr<Fanout> self) {
    const auto state = co_await asio::this_coro::cancellation_state;
    while (!self->p_->output_complete()) {
      co_await table.WaitOutput(self->p_, /*counted=*/false);
      if (Cancelled(state)) co_return;
      for (Pokeable* f : self->followers_) f->Poke();  // a poke neither joins nor leaves
    }
  }

  void Leave(Pokeable* f) {
    std::erase(followers_, f);
    if (!followers_.empty()) return;
    // The next follower gets a fanout (and a watcher) of its own.
    auto& registry = Registry();
    if (auto it = registry.find(p_.get());
        it != registry.end() && it->second.lock().get() == this) {
      registry.erase(it);
    }
    stop_.emit(asio::cancellation_type::terminal);
  }

  std::shared_ptr<const proc::Process> p_;
  std::vector<Pokeable*> followers_;
  asio::cancellation_signal stop_;  // ends the watcher
};

// One stream's state, shared by its pump and the watchers that poke it (its process's Fanout, and
// WatchInputState for a command with a stdin pipe or terminal). While the pump is parked (caught
// up, waiting for news or for its keep-alive), a watcher that sees new output sends what there is
// itself, with non-blocking writes: a follower that keeps up costs one write per event and no
// resumption of its pump, no timer and no handler. Only what does not fit in the socket's buffer
// (a slow reader) goes to the pump's timed asynchronous write, so such a reader is cut off by the
// same rule as before: each write must complete within the write timeout.
template <typename Stream>
struct Follower final : Pokeable {
  using Buffers = std::array<asio::const_buffer, 3>;
  enum class Progress {
    kCaughtUp,  // nothing to send until news
    kBlocked,   // the event being written waits for the reader: the pump writes the rest
    kDone,      // `result` says how it ended
  };

  Follower(Stream& s, bool c, proc::ProcessTable& t, const proc::Process& pr, std::uint64_t o)
      : stream(s), chunked(c), table(t), p(pr), offset(o), timer(s.get_executor()) {}

  // Starts writing `text` (kept alive by `held`, which may be null for a constant).
  // A `state` event, and the state it says as the last sent.
  void BeginState(bool waiting) {
    sent_state = waiting;
    auto text = std::make_shared<const std::string>(api::StateEvent(waiting));
    std::string_view view = *text;
    Begin(std::move(text), view, false);
  }

  void Begin(std::shared_ptr<const std::string> held_text, std::string_view text, bool is_last) {
    held = std::move(held_text);
    body = text;
    last = is_last;
    sent = 0;
    writing = true;
    if (chunked) {
      const auto r = std::to_chars(size_line, size_line + sizeof size_line - 2, body.size(), 16);
      r.ptr[0] = '\r';
      r.ptr[1] = '\n';
      size_len = static_cast<std::size_t>(r.ptr + 2 - size_line);
    }
  }
  Buffers Event() const {
    if (!chunked) return {asio::buffer(body), asio::const_buffer(), asio::const_buffer()};
    return {asio::buffer(size_line, size_len), asio::buffer(body), asio::buffer("\r\n", 2)};
  }
  std::size_t EventSize() const { return chunked ? size_len + body.size() + 2 : body.size(); }
  beast::buffers_suffix<Buffers> Rest() const {
    beast::buffers_suffix<Buffers> rest(Event());
    rest.consume(sent);
    return rest;
  }
  void Written() {
    writing = false;
    held.reset();
    last_write = std::chrono::steady_clock::now();
  }

  // Writes what it can of the event being written without waiting: false when the socket's
  // buffer is full or the write failed (`failed`).
  bool TryWrite() {
    auto rest = Rest();
    const std::size_t size = EventSize();
    while (sent < size) {
      boost::system::error_code ec;
      const std::size_t n = stream.socket().write_some(rest, ec);
      if (ec) {
        failed = ec != asio::error::would_block && ec != asio::error::try_again;
        return false;
      }
      sent += n;
      rest.consume(n);
    }
    Written();
    return true;
  }

  // Sends, without waiting, every event there is to send now.
  Progress Advance() {
    for (;;) {
      if (writing) {
        if (!TryWrite()) {
          if (!failed) return Progress::kBlocked;
          result = false;
          return Progress::kDone;
        }
        if (last) {
          result = true;
          return Progress::kDone;
        }
      }
      // Measured before the read: a command found waiting has its prompt taken in first, so the
      // read below sends the prompt before the state says it waits. Nothing to measure (nor to
      // look up in the table) where the state does not apply.
      const std::optional<bool> waiting =
          p.waiting_for_input() ? table.RefreshWaiting(p) : std::nullopt;
      auto step = api::NextStreamStep(p, &offset);
      if (!step.ok()) {
        base::LogWarning("stream of process " + p.id() + ": " + step.status().message());
        result = true;
        return Progress::kDone;
      }
      using Kind = api::StreamStep::Kind;
      if (step->kind == Kind::kEnd && sent_state == true) {
        // An ended command waits for nothing: a follower told that it waits hears so before the
        // exit event, however fast the command ended after its input.
        BeginState(false);
        continue;
      }
      if (step->kind != Kind::kWait) {
        std::string_view text = *step->text;
        Begin(std::move(step->text), text, step->kind == Kind::kEnd);
        continue;
      }
      // Caught up with the output: its state, when it changed (and first of all, for a command
      // with a stdin pipe or terminal), comes after what the command wrote before it.
      if (waiting && waiting != sent_state) {
        BeginState(*waiting);
        continue;
      }
      return Progress::kCaughtUp;
    }
  }

  // From a watcher: there may be something to send.
  void Poke() override {
    if (!parked) return;  // the pump looks again before it parks
    if (Advance() != Progress::kCaughtUp) timer.cancel();
  }

  Stream& stream;
  const bool chunked;
  proc::ProcessTable& table;
  const proc::Process& p;
  std::uint64_t offset;
  std::optional<bool> sent_state;  // the last waiting_for_input sent
  // The event being written: `body` (kept alive by `held`), framed as a chunk when `chunked`.
  std::shared_ptr<const std::string> held;
  std::string_view body;
  char size_line[20] = {};
  std::size_t size_len = 0;
  std::size_t sent = 0;  // bytes of the framed event written
  bool writing = false;
  bool last = false;  // the event being written is the exit event
  bool failed = false;
  std::optional<bool> result;  // set once the stream is over (see Pump)
  bool parked = false;         // the pump waits on `timer`
  asio::steady_timer timer;    // expires when a keep-alive is due; cancelled to resume the pump
  std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
};

// Pokes the stream on each change of the command's waiting_for_input, as long as it has one.
template <typename Stream>
asio::awaitable<void> WatchInputState(proc::ProcessTable& table,
                                      std::shared_ptr<const proc::Process> p, Follower<Stream>& f) {
  const auto state = co_await asio::this_coro::cancellation_state;
  while (p->waiting_for_input()) {
    co_await table.WaitInputState(p);
    if (Cancelled(state)) co_return;
    f.Poke();
  }
  co_await Forever();
}

// The stream's events, until the exit event was sent, the output could not be read (both: true,
// the body is to be ended), a write failed or it was cancelled (false).
template <typename Stream>
asio::awaitable<bool> Pump(Follower<Stream>& f, std::chrono::milliseconds write_timeout) {
  const auto state = co_await asio::this_coro::cancellation_state;
  for (;;) {
    if (Cancelled(state)) co_return false;
    if (f.result) co_return *f.result;
    switch (f.Advance()) {
      case Follower<Stream>::Progress::kDone:
        co_return *f.result;
      case Follower<Stream>::Progress::kBlocked: {
        f.stream.expires_after(write_timeout);
        auto [ec, n] = co_await asio::async_write(f.stream, f.Rest(), kNoThrow);
        f.stream.expires_never();
        if (ec) co_return false;
        f.Written();
        if (f.last) co_return true;
        continue;
      }
      case Follower<Stream>::Progress::kCaughtUp:
        break;
    }
    const auto due = f.last_write + kKeepAliveInterval;
    f.parked = true;
    f.timer.expires_at(due);
    auto [ec] = co_await f.timer.async_wait(kNoThrow);
    f.parked = false;
    // Poked (or cancelled: the loop's first check ends it), or a watcher wrote meanwhile.
    if (ec || f.last_write + kKeepAliveInterval > std::chrono::steady_clock::now()) continue;
    f.Begin(nullptr, api::kKeepAliveComment, false);
  }
}

// Which branch of the stream's wait ended it: the pump (with its result), or another.
using Ended = std::variant<bool, std::monostate, std::monostate>;
Ended Widen(const std::variant<bool, std::monostate>& v) {
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
  // neither a timer nor a group of waits. The socket is made non-blocking for Follower's writes.
  stream.socket().non_blocking(true, ec);
  if (ec) co_return;
  Follower<Stream> f(stream, chunked, table, *p, offset);
  const auto following = Fanout::Join(table, p, &f, stream.get_executor());
  // A command without a stdin pipe or terminal has no state to watch: one wait less to hold.
  const auto ended =
      p->waiting_for_input()
          ? co_await (Pump(f, write_timeout) || WatchInputState(table, p, f) || client_gone())
          : Widen(co_await (Pump(f, write_timeout) || client_gone()));
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
