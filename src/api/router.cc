#include "api/router.h"

#include <signal.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>

#include "api/assets.h"
#include "api/chat_id.h"
#include "api/cursor.h"
#include "api/wire.h"
#include "store/idempotency.h"

namespace corral::api {
namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

Response Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Error(int status, std::string_view message, std::string_view detail = {}) {
  return Json(status, EncodeError(message, detail));
}

Response Error(const ApiError& e) { return Error(e.status, e.message, e.detail); }

Response NotFound(std::string_view id) {
  return Error(404, "Process \"" + std::string(id) + "\" not found.");
}

// A static document of ours, with its type, never cached by the browser across builds.
Response Document(std::string_view body, std::string_view content_type) {
  Response r = Json(200, std::string(body));
  r.headers.emplace_back("Content-Type", std::string(content_type));
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

// The dashboard: its script and style are inline and it may fetch only from where it came from;
// it may not be framed (clickjacking a kill button).
Response DashboardPage() {
  Response r = Document(Dashboard(), "text/html; charset=utf-8");
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; script-src 'unsafe-inline'; style-src "
                         "'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
                         "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  return r;
}

Response MethodNotAllowed(std::string_view allowed) {
  Response r = Error(405, "Method not allowed.", "use " + std::string(allowed));
  r.headers.emplace_back("Allow", std::string(allowed));
  return r;
}

bool Visible(const proc::Process& p, const std::string& chat) {
  return chat.empty() || p.chat_id() == chat;
}

// The statuses of a failed start: a cap is a 503 (try later); anything else is the spawn
// failing, a 500 with the reason.
Response StartFailed(const base::Status& s) {
  if (s.code() == base::Code::kResourceExhausted) {
    return Error(503, "Too many running processes.", s.message());
  }
  return Error(500, "Failed to start process.", s.message());
}

// What decides "the same request" for an idempotent start: the decoded fields, defaults
// applied (those this server does not take yet keep their defaults).
store::StartRequest IdempotentRequest(const proc::StartSpec& spec) {
  store::StartRequest r;
  r.command = spec.command;
  r.workdir = spec.workdir.value_or("");
  for (const auto& [key, value] : spec.env) r.env[key] = value;
  r.background = spec.background;
  r.timeout_ms = spec.timeout.count();
  r.stdin_mode = proc::StdinName(spec.stdin_mode);
  if (spec.stdin_mode == sys::StdinMode::kTty) {
    r.tty_rows = spec.tty_size.rows;
    r.tty_cols = spec.tty_size.cols;
  }
  return r;
}

// How often `read?wait=listening` looks for a listening port.
constexpr std::chrono::milliseconds kListeningPoll{50};

// `ports` spelled for a cache key: answers that show other ports are other answers.
std::string PortsKey(std::span<const ListeningPorts> ports) {
  std::string key;
  for (const auto& list : ports) {
    if (!list) continue;
    key += " [";
    for (std::uint16_t port : *list) key += std::to_string(port) + ",";
    key += "]";
  }
  return key;
}

Response Gone() {
  Response gone;
  gone.close = true;
  return gone;
}

asio::awaitable<void> Sleep(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace

asio::awaitable<Response> Router::Handle(const Request& request, ClientGone client_gone) {
  const Route route = ParseRoute(request.method, request.target);
  co_return co_await Handle(request, route, std::move(client_gone));
}

asio::awaitable<Response> Router::Handle(const Request& request, const Route& route,
                                         ClientGone client_gone) {
  using Kind = Route::Kind;
  const std::string chat = ParseChatId(request.chat_id);
  switch (route.kind) {
    case Kind::kStart:
      co_return Start(request, chat);
    case Kind::kList:
      co_return List(chat, route.list_limit);
    case Kind::kOutput:
      co_return co_await Output(route, chat, std::move(client_gone));
    case Kind::kRead:
      co_return co_await Read(route, chat, std::move(client_gone));
    case Kind::kStream:
      co_return Stream(route, chat, request.last_event_id);
    case Kind::kSignal:
      co_return Signal(route.id, chat, request.body);
    case Kind::kWaitMany:
      co_return co_await WaitMany(route, chat, std::move(client_gone));
    case Kind::kInput:
      co_return Input(route.id, chat, request.body);
    case Kind::kResize:
      co_return Resize(route.id, chat, request.body);
    case Kind::kHealth:
      co_return Health();
    case Kind::kMetrics:
      co_return RenderMetrics();
    case Kind::kOpenApi:
      co_return Document(OpenApiDocument(), "application/json");
    case Kind::kUi:
      co_return DashboardPage();
    case Kind::kMethodNotAllowed:
      co_return MethodNotAllowed(route.allow);
    case Kind::kBadTarget:
      co_return Error(400, "Malformed request target.", route.error);
    case Kind::kBadQuery:
      co_return Error(400, "Invalid " + route.param + ".", route.error);
    case Kind::kNotFound:
      break;
  }
  co_return Error(404, "Route not found.",
                  std::string(request.method) + " " + route.path + " is not part of the API");
}

Response Router::Start(const Request& request, const std::string& chat) {
  if (request.idempotency_key && !store::IsValidIdempotencyKey(*request.idempotency_key)) {
    return Error(400, "Invalid Idempotency-Key.",
                 "a key is 1 to " + std::to_string(store::kMaxIdempotencyKeyBytes) +
                     " printable ASCII characters");
  }
  auto decoded = DecodeStart(request.body);
  if (auto* e = std::get_if<ApiError>(&decoded)) return Error(*e);
  auto& spec = std::get<proc::StartSpec>(decoded);
  spec.chat_id = chat;
  if (request.idempotency_key) {
    // DESIGN §7.4: keys are per chat; the same decoded request replays the first answer.
    spec.idempotency_key = std::string(*request.idempotency_key);
    spec.request_digest = store::RequestDigest(IdempotentRequest(spec));
    if (auto first = table_.FindByKey(chat, spec.idempotency_key)) {
      if (first->request_digest() != spec.request_digest) {
        return Error(422, "Idempotency key reused with a different request.");
      }
      Response replay = Json(200, EncodeStarted(*first));
      replay.headers.emplace_back("Idempotent-Replayed", "true");
      return replay;
    }
  }
  const auto spawn_began = std::chrono::steady_clock::now();
  auto started = table_.Start(spec);
  metrics_.SpawnTook(std::chrono::steady_clock::now() - spawn_began);
  if (!started.ok()) return StartFailed(started.status());
  return Json(200, EncodeStarted(**started));
}

Response Router::List(const std::string& chat, std::size_t limit) {
  // The running ones and the newest done ones, at most `limit`; cached per chat and limit for
  // one table generation.
  auto processes = table_.List(chat);
  if (processes.size() > limit) processes.resize(limit);
  // A change of waiting_for_input changes the generation. Ports change without a new
  // generation: what the running ones listen on is part of the key.
  const std::vector<ListeningPorts> ports = table_.RefreshForAnswer(processes);
  const std::string key = "list " + std::to_string(limit) + " " + chat + PortsKey(ports);
  Response r;
  r.shared_body = cache_.Get(key, table_.generation());
  if (!r.shared_body) {
    r.shared_body = std::make_shared<const std::string>(EncodeList(processes, ports));
    cache_.Put(key, table_.generation(), r.shared_body);
  }
  return r;
}

asio::awaitable<Response> Router::Output(const Route& route, const std::string& chat,
                                         ClientGone client_gone) {
  auto p = table_.Find(route.id);
  if (!p || !Visible(*p, chat)) co_return NotFound(route.id);
  if (route.wait && p->running() && route.timeout.count() > 0) {
    auto which = co_await (table_.WaitDone(p) || Sleep(route.timeout) || client_gone());
    if (which.index() == 2) co_return Gone();
  }
  // The answer changes with the output's size, the running state, waiting_for_input and the
  // spool's health only.
  const bool waiting = table_.RefreshWaiting(*p).value_or(false);
  const std::uint64_t version = p->total_bytes() << 2 | (p->running() ? 2 : 0) | (waiting ? 1 : 0);
  const ListeningPorts ports = proc::PortScan(table_).ListeningPorts(*p);
  const std::string key = (route.clean ? "clean " : "output ") + p->id() + " " +
                          std::to_string(p->spool_error().size()) + PortsKey({&ports, 1});
  Response r;
  r.shared_body = cache_.Get(key, version);
  if (!r.shared_body) {
    auto rendered = p->RenderOutput(route.clean ? proc::View::kClean : proc::View::kRaw);
    if (!rendered.ok()) co_return Error(500, "Failed to read output.", rendered.status().message());
    r.shared_body =
        std::make_shared<const std::string>(EncodeOutput(*p, std::move(*rendered), ports));
    cache_.Put(key, version, r.shared_body);
  }
  co_return r;
}

asio::awaitable<Response> Router::Read(const Route& route, const std::string& chat,
                                       ClientGone client_gone) {
  using Wait = Route::Wait;
  auto p = table_.Find(route.id);
  if (!p || !Visible(*p, chat)) co_return NotFound(route.id);
  const proc::View view = route.clean ? proc::View::kClean : proc::View::kRaw;
  const auto read = [&] { return ReadProcessOutput(*p, route.offset, route.limit, view); };
  auto answer = read();
  const auto deadline = std::chrono::steady_clock::now() + route.timeout;
  const auto left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now());
  };
  auto idle_until = std::chrono::steady_clock::now() + route.idle;  // wait=idle: reset by output
  // Each wait is bounded by what is left of timeout_ms; on timeout it answers what it has.
  while (answer.ok() && left().count() > 0) {
    if (route.read_wait == Wait::kOutput) {
      if (HasNews(*answer, route.offset)) break;
      auto which = co_await (table_.WaitOutput(p) || Sleep(left()) || client_gone());
      if (which.index() == 2) co_return Gone();
      if (which.index() == 1) break;
    } else if (route.read_wait == Wait::kExit) {
      if (!p->running()) break;
      auto which = co_await (table_.WaitDone(p) || Sleep(left()) || client_gone());
      if (which.index() == 2) co_return Gone();
      if (which.index() == 1) break;
    } else if (route.read_wait == Wait::kListening) {
      // Polled while someone waits, never otherwise: the kernel tells nobody of a new listener.
      if (!p->running() || !proc::PortScan(table_).ListeningPorts(*p)->empty()) break;
      auto which =
          co_await (table_.WaitDone(p) || Sleep(std::min(kListeningPoll, left())) || client_gone());
      if (which.index() == 2) co_return Gone();
    } else if (route.read_wait == Wait::kIdle) {
      // Idle: idle_ms without new output, or it waits for input (DESIGN §7.2), or done.
      if (!p->running() || table_.RefreshWaiting(*p).value_or(false)) break;
      const auto quiet = std::chrono::duration_cast<std::chrono::milliseconds>(
          idle_until - std::chrono::steady_clock::now());
      if (quiet.count() <= 0) break;
      auto which = co_await (table_.WaitOutput(p) || table_.WaitInputState(p) ||
                             Sleep(std::min(quiet, left())) || client_gone());
      if (which.index() == 3) co_return Gone();
      if (which.index() == 2) break;  // idle_ms passed with no new output (or the timeout)
      if (which.index() == 0) idle_until = std::chrono::steady_clock::now() + route.idle;
    } else {
      break;
    }
    answer = read();
  }
  if (route.read_wait != Wait::kNone && answer.ok()) answer = read();
  if (!answer.ok()) {
    if (answer.status().code() == base::Code::kInvalidArgument) {
      co_return Error(400, "Invalid offset.",
                      "the output has " + std::to_string(p->total_bytes()) + " bytes");
    }
    co_return Error(500, "Failed to read output.", answer.status().message());
  }
  table_.RefreshWaiting(*p);
  co_return Json(200, EncodeRead(*p, *answer, proc::PortScan(table_).ListeningPorts(*p)));
}

Response Router::Stream(const Route& route, const std::string& chat,
                        std::string_view last_event_id) {
  auto p = table_.Find(route.id);
  if (!p || !Visible(*p, chat)) return NotFound(route.id);
  std::uint64_t offset = route.offset;
  if (!last_event_id.empty()) {
    auto [end, ec] =
        std::from_chars(last_event_id.data(), last_event_id.data() + last_event_id.size(), offset);
    if (ec != std::errc{} || end != last_event_id.data() + last_event_id.size()) {
      return Error(400, "Invalid Last-Event-ID.", "must be a whole number, >= 0");
    }
  }
  if (offset > p->total_bytes()) {
    return Error(400, "Invalid offset.",
                 "the output has " + std::to_string(p->total_bytes()) + " bytes");
  }
  Response r;
  r.stream = std::move(p);
  r.stream_offset = offset;
  return r;
}

Response Router::Signal(std::string_view id, const std::string& chat, std::string_view body) {
  auto p = table_.Find(id);
  // Another chat's process must look exactly like a missing one, before anything else.
  if (p && !Visible(*p, chat)) return NotFound(id);
  auto decoded = DecodeSignal(body);
  if (auto* e = std::get_if<ApiError>(&decoded)) return Error(*e);
  const std::string& name = std::get<std::string>(decoded);
  int sig;
  if (name.empty()) return Error(400, "Signal is required.");
  if (name == "kill") {
    sig = SIGKILL;
  } else if (name == "terminate") {
    sig = SIGTERM;
  } else {
    return Error(400, "Unsupported signal \"" + name + "\". Use \"kill\" or \"terminate\".");
  }
  if (!p) return NotFound(id);
  base::Status s = table_.Signal(*p, sig);
  if (s.code() == base::Code::kFailedPrecondition) {
    return Error(409, "Process \"" + std::string(id) + "\" is not running.");
  }
  if (!s.ok()) return Error(500, "Failed to send signal.", s.message());
  return Json(
      200, EncodeMessage("Signal \"" + name + "\" sent to process \"" + std::string(id) + "\"."));
}

asio::awaitable<Response> Router::WaitMany(const Route& route, const std::string& chat,
                                           ClientGone client_gone) {
  std::vector<std::shared_ptr<const proc::Process>> processes;
  processes.reserve(route.ids.size());
  for (const std::string& id : route.ids) {
    auto p = table_.Find(id);
    if (!p || !Visible(*p, chat)) co_return NotFound(id);
    processes.push_back(std::move(p));
  }
  if (route.timeout.count() > 0) {
    auto which = co_await (table_.WaitDone(processes, route.until_all) || Sleep(route.timeout) ||
                           client_gone());
    if (which.index() == 2) co_return Gone();
  }
  co_return Json(200, EncodeList(processes, table_.RefreshForAnswer(processes)));
}

Response Router::Input(std::string_view id, const std::string& chat, std::string_view body) {
  auto p = table_.Find(id);
  if (!p || !Visible(*p, chat)) return NotFound(id);
  auto decoded = DecodeInput(body);
  if (auto* e = std::get_if<ApiError>(&decoded)) return Error(*e);
  const auto& input = std::get<InputRequest>(decoded);
  // Not running wins over everything else about its stdin (DESIGN §7.3).
  if (!p->running()) return Error(409, "Process \"" + std::string(id) + "\" is not running.");
  base::Status s = table_.WriteInput(*p, input.data, input.close);
  if (s.code() == base::Code::kResourceExhausted)
    return Error(503, "Input queue full.", s.message());
  if (!s.ok()) {
    return Error(409, "Process \"" + std::string(id) + "\" has no open stdin.",
                 p->stdin_mode() == sys::StdinMode::kNull ? "it was started with stdin \"null\""
                                                          : s.message());
  }
  return Json(200, EncodeWritten(input.data.size()));
}

Response Router::Resize(std::string_view id, const std::string& chat, std::string_view body) {
  auto p = table_.Find(id);
  if (!p || !Visible(*p, chat)) return NotFound(id);
  auto decoded = DecodeResize(body);
  if (auto* e = std::get_if<ApiError>(&decoded)) return Error(*e);
  const auto size = std::get<sys::WindowSize>(decoded);
  if (!p->running()) return Error(409, "Process \"" + std::string(id) + "\" is not running.");
  base::Status s = table_.Resize(*p, size);
  if (s.code() == base::Code::kFailedPrecondition) {
    return Error(409, "Process \"" + std::string(id) + "\" has no terminal.");
  }
  if (!s.ok()) return Error(500, "Failed to resize the terminal.", s.message());
  return Json(200, EncodeSize(size));
}

Response Router::Health() {
  return Json(200, EncodeHealth({table_.closing(), table_.size(), table_.live(), table_.waiters(),
                                 counters_.connections ? counters_.connections() : 0,
                                 table_.task_limit(), table_.tracking()}));
}

Response Router::RenderMetrics() {
  MetricsGauges g;
  g.running = table_.live();
  g.waiters = table_.waiters();
  g.connections = counters_.connections ? counters_.connections() : 0;
  g.output_bytes = table_.output_bytes();
  g.spool_bytes = counters_.spool_bytes ? counters_.spool_bytes() : 0;
  Response r = Json(200, metrics_.Render(g));
  r.headers.emplace_back("Content-Type", std::string(Metrics::kContentType));
  return r;
}

}  // namespace corral::api
