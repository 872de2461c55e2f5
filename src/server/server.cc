// The HTTP front of corral: listeners, Beast sessions, auth and bounds, and the `serve` wiring.
// All of Beast lives in this one translation unit to keep builds fast.
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <list>

#include "api/router.h"
#include "api/wire.h"
#include "base/log.h"
#include "base/paths.h"
#include "server/auth.h"
#include "server/environment.h"
#include "server/event_stream.h"
#include "server/listen_address.h"
#include "server/options.h"
#include "server/origin.h"
#include "server/socket_file.h"
#include "server/systemd.h"
#include "server/telemetry.h"
#include "store/journal.h"
#include "store/state_dir.h"
#include "sys/nofile_limit.h"

namespace corral::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;
using namespace std::chrono_literals;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// Request bodies past this are refused with 413: a start request is a command line, not a file.
constexpr std::size_t kMaxBodyBytes = 1024 * 1024;
// Request headers past this are refused with 431.
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
// After accept fails for lack of descriptors, wait this long before accepting again.
constexpr auto kAcceptBackoff = 100ms;
// After an error answer, what the client still sends is read and dropped for at most this long
// (and this much), so that our close does not reset the connection before it reads the answer.
constexpr auto kLingerTime = 2s;
constexpr std::size_t kLingerBytes = 16 * 1024 * 1024;
// After shutdown, open connections get this long to finish before the loop is abandoned.
constexpr auto kDrainAfterShutdown = 2s;

// Completes when the peer has closed the connection (end of file or an error). Data sent ahead
// by a pipelining client is left in the socket; from then on disconnects cannot be told apart,
// so it waits until cancelled.
template <typename Socket>
asio::awaitable<void> PeerGone(Socket& socket) {
  for (;;) {
    auto [ec] = co_await socket.async_wait(Socket::wait_read, kNoThrow);
    if (ec) co_return;
    char c;
    const ssize_t n = ::recv(socket.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) co_return;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) co_return;
    if (n > 0) {
      asio::steady_timer forever(socket.get_executor(), asio::steady_timer::time_point::max());
      co_await forever.async_wait(kNoThrow);
      co_return;
    }
  }
}

class HttpServer {
 public:
  HttpServer(asio::io_context& ioc, api::Router& router, api::Metrics& metrics,
             const ServeOptions& options, std::string token, BrowserPolicy browsers)
      : ioc_(ioc),
        router_(router),
        metrics_(metrics),
        max_connections_(options.max_connections),
        request_timeout_(options.request_timeout),
        token_(std::move(token)),
        browsers_(std::move(browsers)) {}

  std::size_t connections() const { return *connections_; }

  template <typename Acceptor>
  void Listen(Acceptor acceptor, bool require_auth) {
    auto owned = std::make_shared<Acceptor>(std::move(acceptor));
    closers_.push_back([owned] {
      boost::system::error_code ignored;
      owned->close(ignored);
    });
    asio::co_spawn(ioc_, AcceptLoop(owned, require_auth), asio::detached);
  }

  // Stops accepting and closes every connection.
  void Close() {
    for (auto& close : closers_) close();
    closers_.clear();
    for (auto& session : sessions_) session.close();
  }

 private:
  // A live session as the server sees it: how to close it, and whether it sits idle (waiting
  // for a request), so that a full server can make room by closing the longest-idle one.
  struct SessionEntry {
    std::function<void()> close;
    bool idle = true;
    std::chrono::steady_clock::time_point idle_since = std::chrono::steady_clock::now();
  };
  using SessionList = std::list<SessionEntry>;

  // Counts a live session and keeps its entry in the list for its lifetime.
  struct SessionSlot {
    std::shared_ptr<std::size_t> count;
    SessionList& list;
    SessionList::iterator it;
    SessionSlot(std::shared_ptr<std::size_t> c, SessionList& l, std::function<void()> close)
        : count(std::move(c)), list(l), it(l.insert(l.end(), SessionEntry{std::move(close)})) {
      ++*count;
    }
    ~SessionSlot() {
      --*count;
      list.erase(it);
    }
    void SetIdle(bool idle) {
      if (idle && !it->idle) it->idle_since = std::chrono::steady_clock::now();
      it->idle = idle;
    }
  };

  // At the connection cap: closes the session idle the longest, if any. An idle client loses
  // nothing it asked for; a new client gets served instead of refused.
  bool EvictIdleSession() {
    auto oldest = sessions_.end();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->idle && (oldest == sessions_.end() || it->idle_since < oldest->idle_since)) {
        oldest = it;
      }
    }
    if (oldest == sessions_.end()) return false;
    oldest->idle = false;  // closing; not a candidate again
    oldest->close();
    return true;
  }

  template <typename Acceptor>
  asio::awaitable<void> AcceptLoop(std::shared_ptr<Acceptor> acceptor, bool require_auth) {
    asio::steady_timer backoff(ioc_);
    for (;;) {
      auto [ec, socket] = co_await acceptor->async_accept(kNoThrow);
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
      if (ec) {
        // EMFILE and friends: the listening socket stays readable, so back off rather than
        // spin; established connections keep being served meanwhile.
        base::LogWarning("accept: " + ec.message());
        backoff.expires_after(kAcceptBackoff);
        co_await backoff.async_wait(kNoThrow);
        continue;
      }
      if (*connections_ >= max_connections_ && !EvictIdleSession()) {
        RecordRequest(metrics_, {"", "", 503, {}, ""});  // refused unread: no route, no chat
        asio::co_spawn(ioc_, RefuseBusy(std::move(socket)), asio::detached);
        continue;
      }
      asio::co_spawn(ioc_, Session(std::move(socket), require_auth), asio::detached);
    }
  }

  template <typename Socket>
  asio::awaitable<void> RefuseBusy(Socket socket) {
    using Protocol = typename Socket::protocol_type;
    beast::basic_stream<Protocol> stream(std::move(socket));
    http::response<http::string_body> res{http::status::service_unavailable, 11};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::connection, "close");
    res.body() = api::EncodeError(
        "Too many connections.",
        "the server accepts at most " + std::to_string(max_connections_) + " at once");
    res.prepare_payload();
    stream.expires_after(1s);
    co_await http::async_write(stream, res, kNoThrow);
    boost::system::error_code ignored;
    stream.socket().shutdown(Socket::shutdown_both, ignored);
  }

  template <typename Stream>
  asio::awaitable<bool> Reply(Stream& stream, http::status status, unsigned version,
                              bool keep_alive, std::string body,
                              const std::vector<std::pair<std::string, std::string>>& headers) {
    http::response<http::string_body> res{status, version};
    res.body() = std::move(body);
    co_return co_await Send(stream, res, keep_alive, headers);
  }

  // Sends a shared body as it is: REQUIRES the caller keeps `body` alive until this completes.
  template <typename Stream>
  asio::awaitable<bool> ReplyShared(Stream& stream, unsigned version, bool keep_alive,
                                    const std::string& body) {
    http::response<http::span_body<const char>> res{http::status::ok, version};
    res.body() = {body.data(), body.size()};
    co_return co_await Send(stream, res, keep_alive, {});
  }

  template <typename Stream, typename Body>
  asio::awaitable<bool> Send(Stream& stream, http::response<Body>& res, bool keep_alive,
                             const std::vector<std::pair<std::string, std::string>>& headers) {
    res.set(http::field::server, "corral");
    res.set(http::field::content_type, "application/json");
    for (const auto& [name, value] : headers) res.set(name, value);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    stream.expires_after(request_timeout_);
    auto [ec, n] = co_await http::async_write(stream, res, kNoThrow);
    co_return !ec;
  }

  // Answers an error that ends the connection, then closes it gracefully.
  template <typename Stream>
  asio::awaitable<void> ReplyError(
      Stream& stream, http::status status, std::string_view message, std::string_view detail,
      const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    if (!co_await Reply(stream, status, 11, false, api::EncodeError(message, detail), headers)) {
      co_return;
    }
    // The client may still be sending the body we refused: closing now, with its bytes
    // unread, would reset the connection and could destroy our answer before it is read.
    boost::system::error_code ignored;
    stream.socket().shutdown(asio::socket_base::shutdown_send, ignored);
    stream.expires_after(kLingerTime);
    std::vector<char> discard(64 * 1024);
    for (std::size_t total = 0; total < kLingerBytes;) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(discard), kNoThrow);
      if (ec) break;
      total += n;
    }
  }

  struct Refusal {
    http::status status;
    std::string message, detail;
    std::vector<std::pair<std::string, std::string>> headers;
  };

  // Who may send a request, decided on its headers: browsers first (DESIGN.md §7.6; a page's
  // request is refused whether or not it carries a token, and a refusal tells it nothing about
  // the token), then the bearer token.
  std::optional<Refusal> Refuse(const http::request_header<>& req, bool require_auth) const {
    auto header = [&req](http::field f) -> std::optional<std::string_view> {
      auto it = req.find(f);
      if (it == req.end()) return std::nullopt;
      return it->value();
    };
    switch (browsers_.Check(header(http::field::host), header(http::field::origin))) {
      case BrowserPolicy::Verdict::kHostNotAllowed:
        return Refusal{http::status::forbidden,
                       "Host not allowed.",
                       "address the server by IP or localhost, or start it with --allow-host",
                       {}};
      case BrowserPolicy::Verdict::kCrossOrigin:
        return Refusal{http::status::forbidden,
                       "Cross-origin requests are not allowed.",
                       "start the server with --allow-origin to allow an origin",
                       {}};
      case BrowserPolicy::Verdict::kAllowed:
        break;
    }
    if (require_auth && !api::IsPublic(api::ParseRoute(req.method_string(), req.target())) &&
        !BearerMatches(req[http::field::authorization], token_)) {
      return Refusal{http::status::unauthorized,
                     "Unauthorized.",
                     "send the server's token as Authorization: Bearer",
                     {{"WWW-Authenticate", "Bearer"}}};
    }
    return std::nullopt;
  }

  template <typename Socket>
  asio::awaitable<void> Session(Socket socket, bool require_auth) {
    using Protocol = typename Socket::protocol_type;
    beast::basic_stream<Protocol> stream(std::move(socket));
    SessionSlot slot(connections_, sessions_, [&stream] {
      boost::system::error_code ignored;
      stream.socket().shutdown(Socket::shutdown_both, ignored);
      stream.socket().close(ignored);
    });
    beast::flat_buffer buffer;

    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(kMaxHeaderBytes);
      parser.body_limit(kMaxBodyBytes);
      stream.expires_after(request_timeout_);

      slot.SetIdle(true);
      auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kNoThrow);
      slot.SetIdle(false);
      const auto began = std::chrono::steady_clock::now();
      // Counts and logs a request refused before the router saw it.
      auto refused = [&](int status) {
        const auto& r = parser.get();
        RecordRequest(metrics_, {r.method_string(), RouteOf(r.method_string(), r.target()), status,
                                 std::chrono::steady_clock::now() - began, r["Coder-Chat-Id"]});
      };
      if (!ec) {
        // Refused on its headers alone: no body read, no 100 Continue, nothing changed.
        if (auto refusal = Refuse(parser.get(), require_auth)) {
          refused(static_cast<int>(refusal->status));
          co_await ReplyError(stream, refusal->status, refusal->message, refusal->detail,
                              refusal->headers);
          break;
        }
      }
      if (!ec && parser.get()[http::field::expect] == "100-continue") {
        // Say "go on" only if the body could be taken; else the 413 below answers at once.
        const auto length = parser.content_length();
        if (!length || *length <= kMaxBodyBytes) {
          http::response<http::empty_body> cont{http::status::continue_, 11};
          auto [wec, wn] = co_await http::async_write(stream, cont, kNoThrow);
          if (wec) break;
        }
      }
      if (!ec && !parser.is_done()) {
        std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, kNoThrow);
      }
      if (ec == http::error::body_limit) {
        refused(413);
        co_await ReplyError(stream, http::status::payload_too_large, "Request body too large.",
                            "the limit is " + std::to_string(kMaxBodyBytes) + " bytes");
        break;
      }
      if (ec == http::error::header_limit) {
        refused(431);
        co_await ReplyError(stream, http::status::request_header_fields_too_large,
                            "Request headers too large.",
                            "the limit is " + std::to_string(kMaxHeaderBytes) + " bytes");
        break;
      }
      if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::operation_aborted || ec == asio::error::eof ||
          ec == asio::error::connection_reset || ec == asio::error::bad_descriptor) {
        break;
      }
      if (ec) {
        if (ec.category() == make_error_code(http::error::bad_target).category()) {
          refused(400);
          co_await ReplyError(stream, http::status::bad_request, "Malformed HTTP request.",
                              ec.message());
        }
        break;
      }

      auto& req = parser.get();
      const bool keep_alive = req.keep_alive();
      // A ?wait=true may hold the request for minutes: no deadline while the router works.
      stream.expires_never();
      const api::Route route = api::ParseRoute(req.method_string(), req.target());
      api::Request request{req.method_string(), req.target(), req["Coder-Chat-Id"], req.body(),
                           req["Last-Event-ID"]};
      if (auto key = req.find("Idempotency-Key"); key != req.end()) {
        request.idempotency_key = key->value();
      }
      auto& raw = stream.socket();
      api::Response response =
          co_await router_.Handle(request, route, [&raw] { return PeerGone(raw); });
      if (response.close) break;
      if (response.stream) {  // the connection is the stream's until it ends
        co_await SendEventStream(stream, req.version(), router_.table(), std::move(response.stream),
                                 response.stream_offset, request_timeout_,
                                 [&raw] { return PeerGone(raw); });
        break;
      }
      const bool sent =
          response.shared_body
              ? co_await ReplyShared(stream, req.version(), keep_alive, *response.shared_body)
              : co_await Reply(stream, static_cast<http::status>(response.status), req.version(),
                               keep_alive, std::move(response.body), response.headers);
      RecordRequest(metrics_, {req.method_string(), route.name, response.status,
                               std::chrono::steady_clock::now() - began, req["Coder-Chat-Id"]});
      if (!sent || !keep_alive) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(Socket::shutdown_send, ignored);
  }

  asio::io_context& ioc_;
  api::Router& router_;
  api::Metrics& metrics_;
  std::size_t max_connections_;
  std::chrono::milliseconds request_timeout_;  // a slowloris client is cut off at this
  std::string token_;
  BrowserPolicy browsers_;
  std::shared_ptr<std::size_t> connections_ = std::make_shared<std::size_t>(0);
  SessionList sessions_;
  std::vector<std::function<void()>> closers_;
};

// Makes sure 0, 1 and 2 are open, so no socket or pipe of ours can land on them and be
// mistaken for stdio (by us, or by a child that inherits it).
void ReserveStdio() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
      int null = ::open("/dev/null", O_RDWR);
      if (null >= 0 && null != fd) ::close(null);
    }
  }
}

// Binds a Unix socket with mode 0600, replacing a stale socket file but never a live server.
bool BindUnix(asio::io_context& ioc, const std::string& path, local::acceptor& acceptor,
              std::string& error) {
  namespace fs = std::filesystem;
  std::error_code fec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::exists(parent, fec)) {
    fs::create_directories(parent, fec);
    if (fec) {
      error = "cannot create " + parent.string() + ": " + fec.message();
      return false;
    }
    ::chmod(parent.c_str(), 0700);
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      error = path + " exists and is not a socket";
      return false;
    }
    local::socket probe(ioc);
    boost::system::error_code ec;
    probe.connect(local::endpoint(path), ec);
    if (!ec) {
      error = "another server is already listening on " + path;
      return false;
    }
    ::unlink(path.c_str());
  }
  boost::system::error_code ec;
  acceptor.open(local{}, ec);
  const mode_t old = ::umask(0177);  // the socket file is born 0600: no window for others
  if (!ec) acceptor.bind(local::endpoint(path), ec);
  ::umask(old);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = "cannot listen on " + path + ": " + ec.message();
    return false;
  }
  return true;
}

std::string Printable(const tcp::endpoint& e) {
  const auto address = e.address();
  return (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" +
         std::to_string(e.port());
}

bool BindTcp(const ListenAddress& a, tcp::acceptor& acceptor, std::string& printed,
             std::string& error) {
  boost::system::error_code ec;
  const std::string host = a.host == "localhost" ? "127.0.0.1" : a.host;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    error = "bad address \"" + a.host + "\": use a numeric IPv4 or IPv6 address or localhost";
    return false;
  }
  tcp::endpoint endpoint(address, a.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = "cannot listen on " + a.host + ":" + std::to_string(a.port) + ": " + ec.message();
    return false;
  }
  printed = Printable(acceptor.local_endpoint(ec));
  return true;
}

// The directory `serve --ephemeral` keeps its spools in: made private, removed at exit.
class EphemeralDir {
 public:
  EphemeralDir() = default;
  EphemeralDir(const EphemeralDir&) = delete;
  EphemeralDir& operator=(const EphemeralDir&) = delete;
  ~EphemeralDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  // Makes the directory (mode 0700, in $TMPDIR or /tmp); false with `error` set if it cannot.
  bool Make(std::string& error) {
    std::string path = (std::filesystem::temp_directory_path() / "corral-state-XXXXXX").string();
    if (::mkdtemp(path.data()) == nullptr) {
      error = "cannot create a temporary state dir: " + std::string(std::strerror(errno));
      return false;
    }
    path_ = std::move(path);
    return true;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

int Serve(const ServeOptions& options, const std::function<void()>& on_ready) {
  if (options.ephemeral && !options.state_dir.empty()) {  // usage errors before anything else
    base::LogError("--ephemeral and --state-dir exclude each other");
    return 2;
  }
  ReserveStdio();
  ::signal(SIGPIPE, SIG_IGN);  // a vanished peer is an error code, not a death
  // Answers of up to a few MiB (a 1 MiB read, escaped) are built and freed on every request.
  // With glibc's defaults each was a fresh mmap, page-faulted in and unmapped again: a 64 KiB
  // read cost 5x the CPU (bench/run `read`). Keep them on the heap; memory that forgetting
  // processes frees still goes back to the system (malloc_trim in process_lifecycle.cc).
  ::mallopt(M_MMAP_THRESHOLD, 4 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 8 << 20);
  const std::optional<std::string> env_token = TakeTokenFromEnvironment();
  if (auto ec = sys::RaiseNofileLimit()) {
    base::LogWarning("cannot raise the open files limit: " + ec.message());
  }
  auto browsers = BrowserPolicy::Make(options.allow_hosts, options.allow_origins);
  if (!browsers.ok()) {
    base::LogError(browsers.status().message());
    return 2;
  }

  // Under socket activation the passed sockets are the only listeners.
  std::string activation_error;
  const std::vector<ActivatedSocket> activated = TakeActivatedSockets(activation_error);
  if (!activation_error.empty()) {
    base::LogError(activation_error);
    return 1;
  }
  std::vector<ListenAddress> addresses;
  std::vector<std::string> specs = options.listen;
  bool need_token = false;
  if (!activated.empty()) {
    if (!specs.empty()) base::LogWarning("socket-activated: --listen is ignored");
    specs.clear();
    for (const auto& a : activated) need_token |= !a.is_unix && !options.no_auth;
  } else if (specs.empty()) {
    auto dir = base::DefaultRuntimeDir(/*create=*/true);
    if (!dir.ok()) {
      base::LogError(dir.status().message());
      return 1;
    }
    specs.push_back("unix:" + *dir + "/corral.sock");
  }
  for (const auto& spec : specs) {
    std::string error;
    auto a = ParseListenAddress(spec, error);
    if (!a) {
      base::LogError("--listen: " + error);
      return 2;
    }
    need_token |= !a->is_unix && !options.no_auth;
    addresses.push_back(*a);
  }

  std::string token;
  if (need_token) {
    std::string where, error, default_file;
    if (options.token_file.empty() && !env_token) {
      auto dir = base::DefaultRuntimeDir(/*create=*/true);
      if (!dir.ok()) {
        base::LogError(dir.status().message());
        return 1;
      }
      default_file = *dir + "/corral.token";
    }
    auto loaded = LoadToken(options.token_file, env_token, default_file, where, error);
    if (!loaded) {
      base::LogError(error);
      return 1;
    }
    token = *loaded;
    base::LogInfo("TCP clients must send the token from " + where + " as a bearer token");
  }

  // The state dir, locked for our whole life, and its journal (DESIGN §7.4).
  EphemeralDir ephemeral;
  std::string state_path = options.state_dir;
  if (options.ephemeral) {
    std::string error;
    if (!ephemeral.Make(error)) {
      base::LogError(error);
      return 1;
    }
    state_path = ephemeral.path();
  } else if (state_path.empty()) {
    auto fallback = store::DefaultStateDir();
    if (!fallback.ok()) {
      base::LogError(fallback.status().message());
      return 1;
    }
    state_path = *fallback;
  }
  auto state_dir = store::StateDir::Open(state_path);
  if (!state_dir.ok()) {
    base::LogError(state_dir.status().message());
    return 1;
  }
  std::unique_ptr<store::Journal> journal;
  if (!options.ephemeral) {
    auto opened = store::Journal::Open(state_dir->journal_path());
    if (!opened.ok()) {
      base::LogError(opened.status().message());
      return 1;
    }
    journal = std::move(*opened);
  }

  asio::io_context ioc(1);
  // A line per request: gathered and written once per pass of the loop, not once per request.
  base::ScopedLogBatcher log_batcher([&ioc] { asio::post(ioc, base::FlushLog); });
  // Caught from here on (a signal that comes before the wait below is queued), so a stop
  // request right after "listening on" is graceful too. SIGHUP as well: a closed terminal or a
  // supervisor's hang-up must end commands as SIGTERM does, not kill the server and orphan them.
  asio::signal_set stop_signals(ioc, SIGTERM, SIGINT, SIGHUP);
  proc::TableOptions table_options;
  table_options.journal = journal.get();
  table_options.default_workdir = options.workdir;
  table_options.base_env = BaseEnvironment();
  table_options.base_env.erase("NOTIFY_SOCKET");  // systemd's channel is ours, not the commands'
  table_options.agent_env = options.agent_env;
  table_options.hook_env = HookEnvironment(options.env_file, table_options.base_env);

  table_options.drain_grace = options.drain_grace;
  table_options.shutdown_grace = options.shutdown_grace;
  table_options.retention = options.retention;
  table_options.max_live = options.max_processes;
  table_options.max_done = options.max_done;
  table_options.child_nofile = sys::OriginalNofileLimit();  // we raised ours; commands get theirs
  table_options.max_tasks_per_command = options.max_tasks_per_command;
  table_options.use_cgroups = options.use_cgroups;
  api::Metrics metrics;
  ObserveProcesses(table_options, metrics, options.log_commands);
  // The server that ran last on this state dir, recorded before its first spawn: recovery ends
  // what it left even when none of its starts reached the journal.
  const std::string instance_file = state_dir->path() + "/instance";
  if (journal) {
    std::ifstream previous(instance_file);
    std::getline(previous, table_options.previous_instance);
    std::getline(previous, table_options.previous_cgroup_root);
  }
  table_options.spool_dir = state_dir->spool_dir();
  table_options.spool_max = std::max(options.spool_max, proc::kMinSpoolMaxForRender);
  table_options.spool_total = options.spool_total;
  proc::ProcessTable table(ioc.get_executor(), std::move(table_options));
  // Before anything listens: every process a dead server left is `lost` by the first answer.
  if (base::Status recovered = table.Recover(); !recovered.ok()) {
    base::LogError("cannot read the journal in " + state_dir->path() + ": " + recovered.message());
    return 1;
  }
  if (journal) {
    std::ofstream current(instance_file, std::ios::trunc);
    current << table.instance() << "\n" << table.cgroup_root() << "\n";
    if (!current.flush()) {
      base::LogError("cannot write " + instance_file + ": recovery after a crash needs it");
      return 1;
    }
  }

  HttpServer* server_ptr = nullptr;
  api::Router router(table,
                     {[&server_ptr] { return server_ptr ? server_ptr->connections() : 0; },
                      [&table] { return table.spool_disk_bytes(); }},
                     metrics);
  HttpServer server(ioc, router, metrics, options, token, std::move(*browsers));
  server_ptr = &server;

  std::vector<SocketFile> socket_files;
  for (const auto& a : addresses) {
    std::string error, printed;
    if (a.is_unix) {
      local::acceptor acceptor(ioc);
      if (!BindUnix(ioc, a.path, acceptor, error)) {
        base::LogError(error);
        return 1;
      }
      if (auto file = SocketFile::Record(a.path)) socket_files.push_back(std::move(*file));
      printed = "unix:" + a.path;
      server.Listen(std::move(acceptor), false);
    } else {
      tcp::acceptor acceptor(ioc);
      if (!BindTcp(a, acceptor, printed, error)) {
        base::LogError(error);
        return 1;
      }
      if (options.no_auth) base::LogWarning("listening on " + printed + " without auth");
      server.Listen(std::move(acceptor), !options.no_auth);
    }
    if (options.announce) std::printf("listening on %s\n", printed.c_str());
  }
  for (const auto& a : activated) {
    boost::system::error_code ec;
    std::string printed;
    if (a.is_unix) {
      local::acceptor acceptor(ioc);
      acceptor.assign(local{}, a.fd, ec);
      if (!ec) printed = "unix:" + acceptor.local_endpoint(ec).path();
      if (!ec) server.Listen(std::move(acceptor), false);
    } else {
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      ::getsockname(a.fd, reinterpret_cast<sockaddr*>(&addr), &len);
      tcp::acceptor acceptor(ioc);
      acceptor.assign(addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), a.fd, ec);
      if (!ec) printed = Printable(acceptor.local_endpoint(ec));
      if (!ec) server.Listen(std::move(acceptor), !options.no_auth);
    }
    if (ec) {
      base::LogError("socket activation: descriptor " + std::to_string(a.fd) + ": " + ec.message());
      return 1;
    }
    if (options.announce) std::printf("listening on %s\n", printed.c_str());
  }
  std::fflush(stdout);
  NotifyReady();

  bool stopping = false;
  std::function<void()> watch_signals = [&] {
    stop_signals.async_wait([&](boost::system::error_code ec, int sig) {
      if (ec) return;
      watch_signals();  // keep the handler installed: a second signal must not kill us
      if (stopping) return;
      stopping = true;
      NotifyStopping();
      base::LogInfo(std::string("received ") + ::sigabbrev_np(sig) + ", shutting down");
      asio::co_spawn(
          ioc,
          [&]() -> asio::awaitable<void> {
            co_await table.Shutdown();
            server.Close();
            stop_signals.cancel();
            ioc.stop();
          },
          asio::detached);
    });
  };
  watch_signals();
  if (on_ready) on_ready();  // after the signal handlers: a SIGTERM from now on is graceful

  ioc.run();
  // Let the sessions that Close() ended unwind before their objects go away.
  ioc.restart();
  ioc.run_for(kDrainAfterShutdown);
  for (const auto& file : socket_files) file.RemoveIfOurs();
  base::LogInfo("stopped");
  return 0;
}

}  // namespace corral::server
