#include "cli/commands.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "api/chat_id.h"
#include "base/paths.h"
#include "base/text_file.h"
#include "cli/embedded.h"
#include "cli/interrupts.h"
#include "cli/session.h"
#include "cli/shell_quote.h"
#include "cli/terminal.h"
#include "mcp/mcp_server.h"

namespace corral::cli {
namespace json = boost::json;
namespace {

// Prints why corral itself failed; returns its exit status: kUsageExit for a bad argument,
// kCorralFailedExit for anything else (no server, a server error, no answer in time).
int Fail(const base::Status& status) {
  std::fprintf(stderr, "corral: %s\n", status.message().c_str());
  return status.code() == base::Code::kInvalidArgument ? kUsageExit : kCorralFailedExit;
}

// A failure that the server reported about the request: never a usage error of `corral`.
int ServerFailed(const base::Status& status) {
  std::fprintf(stderr, "corral: %s\n", status.message().c_str());
  return kCorralFailedExit;
}

std::string ReadToken(const ClientOptions& c) {
  if (!c.token_file.empty()) return base::ReadTrimmedFile(c.token_file).value_or("");
  if (const char* env = std::getenv("CORRAL_TOKEN"); env && *env) return base::Trim(env);
  auto path = base::DefaultTokenPath();
  if (!path.ok()) {
    std::fprintf(stderr, "corral: not reading the default token: %s\n",
                 path.status().message().c_str());
    return "";
  }
  return base::ReadTrimmedFile(*path).value_or("");  // none: no token
}

// The server, token and chat every subcommand uses; kInvalidArgument for a bad address or a
// chat id that is not a UUID (which the server would silently take as "no chat"), and the
// runtime dir's refusal when the default socket's directory cannot be trusted.
base::Result<client::Destination> DestinationFor(const ClientOptions& c) {
  std::string server = c.server;
  if (server.empty()) {
    auto socket = base::DefaultSocketPath();
    if (!socket.ok()) return socket.status();
    server = "unix:" + *socket;
  }
  auto endpoint = client::ParseEndpoint(server);
  if (!endpoint.ok()) return endpoint.status();
  std::string chat;
  if (!c.chat_id.empty()) {
    chat = api::ParseChatId(c.chat_id);
    if (chat.empty()) {
      return base::Status(base::Code::kInvalidArgument,
                          "chat id \"" + c.chat_id +
                              "\" (--chat-id or CORRAL_CHAT_ID) is not a chat's UUID, such as "
                              "6f1c2a8e-1d2b-4c3d-9e4f-5a6b7c8d9e0f (the nil UUID means no chat: "
                              "leave it out instead)");
    }
  }
  return client::Destination{*endpoint, ReadToken(c), chat};
}

void PrintJson(const json::object& o) { std::printf("%s\n", json::serialize(o).c_str()); }

void PrintOutputText(const json::object& o) {
  const auto& text = o.at("output").as_string();
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  if (auto* t = o.if_contains("truncated"); t && t->is_object()) {
    const auto& info = t->as_object();
    std::fprintf(stderr, "corral: output truncated: %lld of %lld bytes shown",
                 static_cast<long long>(info.at("retained_bytes").to_number<std::int64_t>()),
                 static_cast<long long>(info.at("original_bytes").to_number<std::int64_t>()));
    if (auto* lines = info.if_contains("lines_truncated"); lines && lines->to_number<int>() > 0) {
      std::fprintf(stderr, ", %d long lines cut", lines->to_number<int>());
    }
    std::fprintf(stderr, "\n");
  }
}

std::string Age(std::int64_t started) {
  const std::int64_t s = std::max<std::int64_t>(0, std::time(nullptr) - started);
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  if (s < 172800) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

// The terminal's width, or 0 when stdout is not a terminal (then nothing is shortened).
std::size_t TerminalWidth() {
  winsize ws{};
  if (::isatty(STDOUT_FILENO) && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return ws.ws_col;
  }
  if (const char* cols = std::getenv("COLUMNS"); cols && std::atoi(cols) > 0) {
    return static_cast<std::size_t>(std::atoi(cols));
  }
  return 0;
}

// Shortens s to at most `width` columns (counting characters, not bytes), ending in "…".
std::string Shorten(std::string s, std::size_t width) {
  for (char& c : s) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  std::size_t chars = 0, cut = std::string::npos;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (chars == width - 1) cut = i;
    if (++chars > width) {
      s.resize(cut);
      return s + "\xE2\x80\xA6";
    }
  }
  return s;
}

// Writes raw output to stdout at once, so that it shows when it comes.
void WriteOut(std::string_view data) {
  std::fwrite(data.data(), 1, data.size(), stdout);
  std::fflush(stdout);
}

// Prints a followed read answer's output, and on stderr what it says was lost: a `gap` (the
// bounded spool dropped a middle, or the spool failed; said once per gap) and a spool failure
// (said once).
class ChunkPrinter {
 public:
  void operator()(const json::object& read) {
    if (const auto* gap = read.if_contains("gap"); gap && gap->is_object()) {
      const auto from = gap->as_object().at("from").to_number<std::uint64_t>();
      const auto to = gap->as_object().at("to").to_number<std::uint64_t>();
      std::fprintf(stderr, "corral: %llu bytes of output (offsets %llu to %llu) were not kept\n",
                   static_cast<unsigned long long>(to - from),
                   static_cast<unsigned long long>(from), static_cast<unsigned long long>(to));
    }
    if (const auto* error = read.if_contains("spool_error");
        error && error->is_string() && !spool_error_told_) {
      spool_error_told_ = true;
      std::fprintf(stderr, "corral: the server could not keep all output: %s\n",
                   error->as_string().c_str());
    }
    const auto& data = read.at("data").as_string();
    WriteOut({data.data(), data.size()});
  }

 private:
  bool spool_error_told_ = false;
};

// Prints processes as `corral ps` does (a header, then a line each; `all`: done ones too).
void PrintProcesses(const json::array& processes, bool all) {
  constexpr const char* kFormat = "%-36s  %-8s  %-7s  %5s  %s\n";
  std::printf(kFormat, "ID", "STATE", "EXIT", "AGE", "COMMAND");
  const std::size_t width = TerminalWidth();
  const std::size_t fixed = 36 + 2 + 8 + 2 + 7 + 2 + 5 + 2;
  for (const auto& v : processes) {
    const auto& p = v.as_object();
    const bool running = p.at("running").as_bool();
    if (!running && !all) continue;
    std::string state = "running", exit = "-";
    if (!running) {
      if (auto* by = p.if_contains("ended_by");
          by && by->is_string() && by->as_string() == "lost") {
        state = "lost";  // it ran under a server that died (DESIGN §7.4): no exit status
      } else if (auto* sig = p.if_contains("exit_signal")) {
        state = "killed";
        exit = std::string(sig->as_string());
      } else {
        state = "exited";
        exit = std::to_string(p.at("exit_code").as_int64());
      }
    }
    std::string command(p.at("command").as_string());
    if (width > fixed + 8) command = Shorten(command, width - fixed);
    std::printf(kFormat, std::string(p.at("id").as_string()).c_str(), state.c_str(), exit.c_str(),
                Age(p.at("started_at_unix").as_int64()).c_str(), command.c_str());
  }
}

// Waits for a foreground command, printing its output as it comes (with --json: its output
// answer at the end); Ctrl-C ends it (terminate, then kill) or, with --detach-on-interrupt,
// leaves it running. Returns the exit status of `corral run`.
int WaitInForeground(client::CorralClient& api, const ClientOptions& c, const RunOptions& run,
                     const std::string& id, Interrupts& interrupts) {
  const auto deadline =
      run.timeout ? std::optional(std::chrono::steady_clock::now() + *run.timeout) : std::nullopt;
  std::uint64_t offset = 0;
  ChunkPrinter print;
  int interrupted = 0;
  for (;;) {
    const std::stop_token interrupt = interrupts.Next();
    auto out = c.json
                   ? api.WaitOutput(id, deadline, interrupt)
                   : api.Follow(id, &offset, /*clean=*/false, deadline, interrupt, std::ref(print));
    if (!out.ok() && interrupt.stop_requested()) {
      ++interrupted;
      if (run.detach_on_interrupt) {
        std::fprintf(stderr,
                     "corral: interrupted; process %s keeps running: follow it with `corral "
                     "logs -f --from %llu %s`, stop it with `corral signal %s terminate`\n",
                     id.c_str(), static_cast<unsigned long long>(offset), id.c_str(), id.c_str());
        std::printf("%s\n", id.c_str());
        return kInterruptedExit;
      }
      const char* signal = interrupted == 1 ? "terminate" : "kill";
      auto sent = api.Signal(id, signal);
      if (sent.ok()) {
        std::fprintf(stderr, "corral: interrupted; sent %s to process %s%s\n", signal, id.c_str(),
                     interrupted == 1 ? " (Ctrl-C again to kill it)" : "");
      } else if (sent.status().code() != base::Code::kFailedPrecondition) {
        return ServerFailed(sent.status());  // 409: it ended by itself meanwhile
      }
      continue;
    }
    if (!out.ok()) return ServerFailed(out.status());
    if (c.json) PrintJson(*out);
    if (out->at("running").as_bool()) {
      std::fprintf(stderr,
                   "corral: process %s is still running (it was not stopped); follow it with "
                   "`corral logs -f --from %llu %s`, stop it with `corral signal %s kill`\n",
                   id.c_str(), static_cast<unsigned long long>(offset), id.c_str(), id.c_str());
      return kStillRunningExit;
    }
    return interrupted ? kInterruptedExit : client::ShellExitStatus(*out);
  }
}

}  // namespace

int Run(const ClientOptions& c, const RunOptions& run) {
  // First, before any thread exists (the TCP resolver starts one), so that Ctrl-C reaches only
  // the watcher.
  std::optional<Interrupts> interrupts;
  std::optional<TerminalSignals> terminal_signals;
  if (run.tty && !run.background) {
    terminal_signals.emplace();
  } else if (!run.background) {
    interrupts.emplace();
  }
  client::StartArgs args;
  if (run.deadline) args.deadline = *run.deadline;
  if (run.interactive) args.stdin_mode = "pipe";
  if (run.tty) {
    auto size = TerminalSize(STDIN_FILENO);
    if (!size) size = TerminalSize(STDOUT_FILENO);
    args.tty = size.value_or(std::pair(0, 0));
  }
  args.command = CommandLine(run.command);
  args.workdir = run.workdir;
  args.background = run.background;
  args.idempotency_key = run.idempotency_key;
  for (const auto& kv : run.env) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "corral: --env takes KEY=VALUE, not \"%s\"\n", kv.c_str());
      return kUsageExit;
    }
    args.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  auto destination = DestinationFor(c);
  if (!destination.ok()) return Fail(destination.status());
  if (args.workdir.empty() && destination->endpoint.is_unix) {
    // A local server runs the command where the caller is, as a shell would.
    std::error_code ec;
    args.workdir = std::filesystem::current_path(ec).string();
    if (ec) {
      return Fail(base::Status(
          base::Code::kInternal,
          "the current directory is unusable (" + ec.message() + "): give one with --workdir"));
    }
  }
  client::HttpClient http(*destination);
  client::CorralClient api(http);
  bool replayed = false;
  auto started = api.Start(args, &replayed);
  if (!started.ok()) return ServerFailed(started.status());
  const std::string id(started->at("id").as_string());
  if (replayed) {
    std::fprintf(stderr,
                 "corral: process %s was started earlier with this idempotency key; nothing new "
                 "was started\n",
                 id.c_str());
  }
  if (run.background) {
    if (c.json) {
      PrintJson(*started);
    } else {
      std::printf("%s\n", id.c_str());
    }
    return 0;
  }
  if (terminal_signals) {
    const auto deadline =
        run.timeout ? std::optional(std::chrono::steady_clock::now() + *run.timeout) : std::nullopt;
    return TerminalSession(api, *destination, id, 0, *terminal_signals, deadline);
  }
  std::optional<InputForwarder> forward;
  if (run.interactive) forward.emplace(*destination, id);
  return WaitInForeground(api, c, run, id, *interrupts);
}

int Ps(const ClientOptions& c, bool all, std::optional<int> limit) {
  auto destination = DestinationFor(c);
  if (!destination.ok()) return Fail(destination.status());
  client::HttpClient http(*destination);
  client::CorralClient api(http);
  auto list = api.List(limit);
  if (!list.ok()) return ServerFailed(list.status());
  if (c.json) {
    PrintJson(*list);
    return 0;
  }
  PrintProcesses(list->at("processes").as_array(), all);
  return 0;
}

int Output(const ClientOptions& c, const std::string& id, bool wait, bool clean) {
  auto destination = DestinationFor(c);
  if (!destination.ok()) return Fail(destination.status());
  client::HttpClient http(*destination);
  client::CorralClient api(http);
  auto out = wait ? api.WaitOutput(id, std::nullopt, {}, {}, clean) : api.Output(id, clean);
  if (!out.ok()) return ServerFailed(out.status());
  if (c.json) {
    PrintJson(*out);
  } else {
    PrintOutputText(*out);
    if (out->at("running").as_bool())
      std::fprintf(stderr, "corral: %s is still running\n", id.c_str());
  }
  return wait ? client::ShellExitStatus(*out) : 0;
}

int Logs(const ClientOptions& c, const LogsOptions& logs) {
  auto destination = DestinationFor(c);
  if (!destination.ok()) return Fail(destination.status());
  client::HttpClient http(*destination);
  client::CorralClient api(http);
  std::uint64_t offset = logs.from;
  ChunkPrinter print;
  const auto chunk = [&](const json::object& read) {
    if (c.json) {
      PrintJson(read);
    } else {
      print(read);
    }
  };
  if (logs.follow) {
    auto last = api.Follow(logs.id, &offset, logs.clean, std::nullopt, {}, chunk);
    return last.ok() ? 0 : ServerFailed(last.status());
  }
  // What was written when the first answer came; a loud command does not keep this going.
  std::optional<std::uint64_t> end;
  constexpr std::size_t kChunk = 1024 * 1024;  // the largest read the server makes
  for (;;) {
    auto read = api.Read(logs.id, {.offset = offset, .limit = kChunk, .clean = logs.clean});
    if (!read.ok()) return ServerFailed(read.status());
    if (!end) end = read->at("total_bytes").to_number<std::uint64_t>();
    const std::uint64_t next = client::NextOffset(*read);
    const bool progress = next != offset || read->contains("gap");
    if (progress) chunk(*read);
    offset = next;
    // Nothing complete past `offset` yet (a partial character) ends it too.
    if (!progress || read->at("eof").as_bool() || offset >= *end) return 0;
  }
}

int Signal(const ClientOptions& c, const std::string& id, const std::string& signal) {
  auto destination = DestinationFor(c);
  if (!destination.ok()) return Fail(destination.status());
  client::HttpClient http(*destination);
  client::CorralClient api(http);
  auto sent = api.Signal(id, signal);
  if (!sent.ok()) return ServerFailed(sent.status());
  if (c.json) {
    PrintJson(*sent);
  } else {
    std::printf("%s\n", std::string(sent->at("message").as_string()).c_str());
  }
  return 0;
}

int Wait(const ClientOptions& c, const std::vector<std::string>& ids, bool all,
         std::optional<std::chrono::milliseconds> timeout) {
  Interrupts interrupts;  // first, before any thread exists
  auto destination = DestinationFor(c);
  if (!destination.ok()) return Fail(destination.status());
  client::HttpClient http(*destination);
  client::CorralClient api(http);
  const auto deadline =
      timeout ? std::optional(std::chrono::steady_clock::now() + *timeout) : std::nullopt;
  const std::stop_token interrupt = interrupts.Next();
  auto waited = api.WaitProcesses(ids, all, deadline, interrupt);
  if (!waited.ok() && interrupt.stop_requested()) return kInterruptedExit;
  if (!waited.ok()) return ServerFailed(waited.status());
  const auto& processes = waited->at("processes").as_array();
  if (c.json) {
    PrintJson(*waited);
  } else {
    PrintProcesses(processes, /*all=*/true);
  }
  std::size_t done = 0;
  bool failed = false;
  for (const auto& p : processes) {
    if (p.at("running").as_bool()) continue;
    ++done;
    failed = failed || client::ShellExitStatus(p.as_object()) != 0;
  }
  if (done == 0 || (all && done < processes.size())) return kStillRunningExit;
  if (processes.size() == 1) return client::ShellExitStatus(processes[0].as_object());
  return failed ? 1 : 0;
}

int Send(const ClientOptions& c, const std::string& id, const std::string& text, bool close) {
  auto destination = DestinationFor(c);
  if (!destination.ok()) return Fail(destination.status());
  client::HttpClient http(*destination);
  client::CorralClient api(http);
  auto sent = api.Input(id, text, close);
  if (!sent.ok()) return ServerFailed(sent.status());
  if (c.json) PrintJson(*sent);
  return 0;
}

int Attach(const ClientOptions& c, const std::string& id) {
  TerminalSignals signals;  // first, before any thread exists
  auto destination = DestinationFor(c);
  if (!destination.ok()) return Fail(destination.status());
  client::HttpClient http(*destination);
  client::CorralClient api(http);
  // Where its output ends now: the session shows what comes from here on.
  auto now = api.Read(id, {.limit = 1});
  if (!now.ok()) return ServerFailed(now.status());
  const auto* stdin_mode = now->if_contains("stdin");
  if (!now->at("running").as_bool()) {
    std::fprintf(stderr, "corral: process %s is not running\n", id.c_str());
    return kCorralFailedExit;
  }
  if (!stdin_mode || !stdin_mode->is_string() || stdin_mode->as_string() != "tty") {
    std::fprintf(stderr,
                 "corral: process %s has no terminal (start it with `corral run --tty`); "
                 "`corral logs -f %s` follows its output, `corral send` writes to a pipe\n",
                 id.c_str(), id.c_str());
    return kCorralFailedExit;
  }
  if (auto size = TerminalSize(STDIN_FILENO)) {
    auto resized = api.Resize(id, size->first, size->second);
    if (!resized.ok()) return ServerFailed(resized.status());
  }
  const std::uint64_t end = now->at("total_bytes").to_number<std::uint64_t>();
  return TerminalSession(api, *destination, id, end, signals, std::nullopt);
}

int Mcp(const ClientOptions& c, bool embedded, const std::string& workdir,
        const std::string& state_dir) {
  // Checked before anything starts; an embedded server has its own socket, so the default
  // one (and its directory's trust) does not matter then.
  ClientOptions checked_options = c;
  if (embedded) checked_options.server = "unix:/";
  if (auto checked = DestinationFor(checked_options); !checked.ok()) return Fail(checked.status());
  std::unique_ptr<EmbeddedServer> own;
  ClientOptions options = c;
  if (embedded) {
    server::ServeOptions serve;
    serve.workdir = workdir;
    // A private server keeps nothing past itself unless told where to.
    serve.state_dir = state_dir;
    serve.ephemeral = state_dir.empty();
    auto started = EmbeddedServer::Start(serve);
    if (!started.ok()) return ServerFailed(started.status());
    own = std::move(*started);
    options.server = own->endpoint().ToString();
  }
  auto destination = DestinationFor(options);
  if (!destination.ok()) return Fail(destination.status());
  mcp::McpServer server(*destination);
  std::ios::sync_with_stdio(false);
  server.Run(std::cin, std::cout);
  return 0;  // `own` shuts the embedded server down (and ends its processes) on the way out
}

}  // namespace corral::cli
