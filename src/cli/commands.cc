#include "cli/commands.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/paths.h"
#include "base/text_file.h"
#include "cli/embedded.h"
#include "mcp/mcp_server.h"

namespace corral::cli {
namespace json = boost::json;
namespace {

int Fail(const base::Status& status) {
  std::fprintf(stderr, "corral: %s\n", status.message().c_str());
  return 1;
}

std::string ReadToken(const ClientOptions& c) {
  if (!c.token_file.empty()) return base::ReadTrimmedFile(c.token_file).value_or("");
  if (const char* env = std::getenv("CORRAL_TOKEN"); env && *env) return base::Trim(env);
  return base::ReadTrimmedFile(base::DefaultTokenPath()).value_or("");  // none: no token
}

// Connects the way every subcommand does; on failure prints why and returns null.
std::unique_ptr<client::HttpClient> Connect(const ClientOptions& c) {
  auto endpoint =
      client::ParseEndpoint(c.server.empty() ? "unix:" + base::DefaultSocketPath() : c.server);
  if (!endpoint.ok()) {
    Fail(endpoint.status());
    return nullptr;
  }
  return std::make_unique<client::HttpClient>(*endpoint, ReadToken(c), c.chat_id);
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

}  // namespace

int Run(const ClientOptions& c, const RunOptions& run) {
  auto http = Connect(c);
  if (!http) return 1;
  client::CorralClient api(*http);
  client::StartArgs args;
  for (const auto& word : run.command) args.command += (args.command.empty() ? "" : " ") + word;
  args.workdir = run.workdir;
  args.background = run.background;
  args.idempotency_key = run.idempotency_key;
  for (const auto& kv : run.env) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "corral: --env takes KEY=VALUE, not \"%s\"\n", kv.c_str());
      return 2;
    }
    args.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  const auto deadline =
      run.timeout ? std::optional(std::chrono::steady_clock::now() + *run.timeout) : std::nullopt;
  auto started = api.Start(args);
  if (!started.ok()) return Fail(started.status());
  const std::string id(started->at("id").as_string());
  if (run.background) {
    if (c.json) {
      PrintJson(*started);
    } else {
      std::printf("%s\n", id.c_str());
    }
    return 0;
  }
  auto out = api.WaitOutput(id, deadline);
  if (!out.ok()) return Fail(out.status());
  if (c.json) {
    PrintJson(*out);
  } else {
    PrintOutputText(*out);
  }
  if (out->at("running").as_bool()) {
    std::fprintf(stderr,
                 "corral: process %s is still running (it was not stopped); follow it with "
                 "`corral output --wait %s`, stop it with `corral signal %s kill`\n",
                 id.c_str(), id.c_str(), id.c_str());
    return kStillRunningExit;
  }
  return client::ShellExitStatus(*out);
}

int Ps(const ClientOptions& c, bool all) {
  auto http = Connect(c);
  if (!http) return 1;
  client::CorralClient api(*http);
  auto list = api.List();
  if (!list.ok()) return Fail(list.status());
  if (c.json) {
    PrintJson(*list);
    return 0;
  }
  constexpr const char* kFormat = "%-36s  %-8s  %-7s  %5s  %s\n";
  std::printf(kFormat, "ID", "STATE", "EXIT", "AGE", "COMMAND");
  const std::size_t width = TerminalWidth();
  const std::size_t fixed = 36 + 2 + 8 + 2 + 7 + 2 + 5 + 2;
  for (const auto& v : list->at("processes").as_array()) {
    const auto& p = v.as_object();
    const bool running = p.at("running").as_bool();
    if (!running && !all) continue;
    std::string state = "running", exit = "-";
    if (!running) {
      if (auto* sig = p.if_contains("exit_signal")) {
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
  return 0;
}

int Output(const ClientOptions& c, const std::string& id, bool wait) {
  auto http = Connect(c);
  if (!http) return 1;
  client::CorralClient api(*http);
  auto out = wait ? api.WaitOutput(id, std::nullopt) : api.Output(id, false);
  if (!out.ok()) return Fail(out.status());
  if (c.json) {
    PrintJson(*out);
  } else {
    PrintOutputText(*out);
    if (out->at("running").as_bool())
      std::fprintf(stderr, "corral: %s is still running\n", id.c_str());
  }
  return 0;
}

int Signal(const ClientOptions& c, const std::string& id, const std::string& signal) {
  auto http = Connect(c);
  if (!http) return 1;
  client::CorralClient api(*http);
  auto sent = api.Signal(id, signal);
  if (!sent.ok()) return Fail(sent.status());
  if (c.json) {
    PrintJson(*sent);
  } else {
    std::printf("%s\n", std::string(sent->at("message").as_string()).c_str());
  }
  return 0;
}

int Mcp(const ClientOptions& c, bool embedded, const std::string& workdir,
        const std::string& state_dir) {
  std::unique_ptr<EmbeddedServer> own;
  ClientOptions options = c;
  if (embedded) {
    server::ServeOptions serve;
    serve.workdir = workdir;
    serve.state_dir = state_dir;
    serve.ephemeral = state_dir.empty();
    auto started = EmbeddedServer::Start(serve);
    if (!started.ok()) return Fail(started.status());
    own = std::move(*started);
    options.server = own->endpoint().ToString();
  }
  auto http = Connect(options);
  if (!http) return 1;
  client::CorralClient api(*http);
  mcp::McpServer server(api);
  std::ios::sync_with_stdio(false);
  server.Run(std::cin, std::cout);
  return 0;  // `own` shuts the embedded server down (and ends its processes) on the way out
}

}  // namespace corral::cli
