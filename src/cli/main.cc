// `corral`: the server and its command-line clients.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "base/byte_size.h"
#include "base/log.h"
#include "cli/commands.h"
#include "server/options.h"

namespace {

using namespace corral;

// Durations on the command line: a number with a unit, "5s", "500ms", "2m".
const std::map<std::string, std::int64_t> kDurationUnits = {
    {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};

// Milliseconds given as a duration with a unit.
CLI::Option* AddDuration(CLI::App* app, const std::string& name, std::int64_t& ms,
                         const std::string& help, const std::string& default_text) {
  return app->add_option(name, ms, help)
      ->transform(CLI::AsNumberWithUnit(kDurationUnits, CLI::AsNumberWithUnit::UNIT_REQUIRED))
      ->check(CLI::NonNegativeNumber)
      ->type_name("DURATION")
      ->default_str(default_text);
}

// A size option (bytes, with an optional K/M/G suffix: base::ParseByteSize) stored in `bytes`.
CLI::Option* AddByteSize(CLI::App* app, const std::string& name, std::uint64_t& bytes,
                         const std::string& help, const std::string& default_text) {
  return app
      ->add_option_function<std::string>(
          name,
          [&bytes, name](const std::string& text) {
            auto parsed = base::ParseByteSize(text);
            if (!parsed) throw CLI::ValidationError(name, "not a size: " + text);
            bytes = *parsed;
          },
          help)
      ->type_name("SIZE")
      ->default_str(default_text);
}

// The serve options' durations in milliseconds, as CLI11 fills them; defaults from ServeOptions.
struct Durations {
  explicit Durations(const server::ServeOptions& defaults)
      : drain_ms(defaults.drain_grace.count()),
        shutdown_ms(defaults.shutdown_grace.count()),
        request_ms(defaults.request_timeout.count()),
        retention_ms(defaults.retention.count()) {}
  std::int64_t drain_ms, shutdown_ms, request_ms, retention_ms;
};

struct Logging {
  base::LogFormat format = base::LogFormat::kText;
  base::LogLevel level = base::LogLevel::kInfo;
};

void AddServe(CLI::App& app, server::ServeOptions& o, Durations& d, Logging& l) {
  CLI::App* serve = app.add_subcommand("serve", "Run the process server.");
  serve
      ->add_option("--listen", o.listen,
                   "Where to listen: unix:/path or HOST:PORT (port 0 picks one); repeatable. "
                   "Default: the user's socket, $XDG_RUNTIME_DIR/corral.sock or "
                   "/tmp/corral-$UID/corral.sock")
      ->type_name("ADDR")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  serve->add_flag("--no-auth", o.no_auth, "Accept TCP clients without a bearer token");
  serve->add_option("--token-file", o.token_file,
                    "File holding the bearer token TCP clients must send (else $CORRAL_TOKEN, "
                    "else a generated corral.token next to the default socket)");
  serve
      ->add_option("--allow-origin", o.allow_origins,
                   "Also take browser requests from this origin (http[s]://HOST[:PORT]); "
                   "repeatable. Other origins but the server's own get 403")
      ->type_name("ORIGIN")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  serve
      ->add_option("--allow-host", o.allow_hosts,
                   "Also take requests addressed to this host name (the Host header); "
                   "repeatable. Other names but IP addresses and localhost get 403")
      ->type_name("NAME")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  serve->add_option("--workdir", o.workdir, "Default working directory of commands");
  serve->add_option("--env-file", o.env_file,
                    "Environment hook: a file of KEY=VALUE lines, or an executable printing them");
  serve->add_flag("--no-agent-env{false}", o.agent_env,
                  "Give commands no agent defaults (TERM=dumb, NO_COLOR=1, CI=1, PAGER=cat, "
                  "PYTHONUNBUFFERED=1...; see docs/protocol.md)");
  AddDuration(serve, "--drain-grace", d.drain_ms,
              "How long output may keep flowing after a command's shell exits", "5s");
  AddDuration(serve, "--shutdown-grace", d.shutdown_ms,
              "On shutdown, time between SIGTERM and SIGKILL to every process group", "3s");
  AddDuration(serve, "--request-timeout", d.request_ms,
              "Time a client has to send a whole request (slow clients are cut off)", "30s");
  AddDuration(serve, "--retention", d.retention_ms,
              "How long a finished process stays listed before it is forgotten", "5m");
  serve
      ->add_option("--max-done", o.max_done,
                   "Most finished processes remembered at once (the oldest are forgotten first)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  AddByteSize(serve, "--spool-max", o.spool_max,
              "Most bytes of one command's output kept on disk: the first 1 MiB and the latest "
              "(K, M, G suffixes; at least 64K)",
              "64M");
  AddByteSize(serve, "--spool-total", o.spool_total,
              "Most disk all output spools take together: past it the oldest finished processes "
              "are forgotten",
              "1G");
  serve->add_option("--max-processes", o.max_processes, "Most commands running at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve
      ->add_option("--max-tasks-per-command", o.max_tasks_per_command,
                   "Most processes and threads one command may have at once (a cgroup pids "
                   "limit, where the pids controller is available; 0: none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  // Hidden: the tests of the tracking fallback run it on machines that have cgroups
  // (docs/security.md).
  serve
      ->add_flag("--no-cgroups{false}", o.use_cgroups,
                 "Track commands by process group and environment cookie, not by cgroup")
      ->group("");
  serve->add_option("--max-connections", o.max_connections, "Most client connections at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve
      ->add_option("--log-format", l.format,
                   "Log lines on stderr: text, or json (one object per line)")
      ->transform(CLI::CheckedTransformer(std::map<std::string, base::LogFormat>{
          {"text", base::LogFormat::kText}, {"json", base::LogFormat::kJson}}))
      ->default_str("text");
  serve
      ->add_option("--log-level", l.level, "Least severe lines logged: debug, info, warning, error")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, base::LogLevel>{{"debug", base::LogLevel::kDebug},
                                                {"info", base::LogLevel::kInfo},
                                                {"warning", base::LogLevel::kWarning},
                                                {"error", base::LogLevel::kError}}))
      ->default_str("info");
  serve->add_flag("--log-commands", o.log_commands,
                  "Log each command's text when it starts (off: commands may hold secrets)");
  serve
      ->add_option("--state-dir", o.state_dir,
                   "Where the journal of processes and their output spools are kept, so that a "
                   "restarted server remembers them (default: $XDG_STATE_HOME/corral, else "
                   "~/.local/state/corral)")
      ->type_name("DIR");
  serve->add_flag("--ephemeral", o.ephemeral,
                  "Keep nothing on disk past the server (a private temporary state dir)");
}

void AddClientOptions(CLI::App& app, cli::ClientOptions& c) {
  app.add_option("--server", c.server,
                 "The server: unix:/path/to/socket or http://host:port (default: the user's "
                 "socket)")
      ->envname("CORRAL_SERVER")
      ->type_name("ADDR");
  app.add_option("--token-file", c.token_file,
                 "File with the bearer token for a TCP server (else $CORRAL_TOKEN, else the "
                 "default token file)");
  app.add_option("--chat-id", c.chat_id, "Act for this chat (sent as Coder-Chat-Id)")
      ->envname("CORRAL_CHAT_ID")
      ->type_name("UUID");
  app.add_flag("--json", c.json, "Print the server's JSON answers unchanged");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("corral: a process server for AI agents");
  app.require_subcommand(1);
  app.fallthrough();  // the client options may also follow the subcommand
  server::ServeOptions serve_options;
  Durations durations(serve_options);
  Logging logging;
  AddServe(app, serve_options, durations, logging);

  cli::ClientOptions client;
  AddClientOptions(app, client);

  cli::RunOptions run;
  std::vector<std::string> run_words, after_dashes;
  std::int64_t run_timeout_ms = -1;
  CLI::App* run_cmd = app.add_subcommand(
      "run",
      "Run a command; in the foreground, print its output as it comes and exit with its exit "
      "code "
      "(128+n if killed by signal n, 124 if --timeout ran out first, 130 after Ctrl-C, 125 if "
      "corral itself failed, 2 for bad usage)");
  run_cmd->add_option("--workdir", run.workdir,
                      "Working directory (default: the current one when the server is local, "
                      "else the server's default)");
  run_cmd->add_option("--env", run.env, "Extra environment variable; repeatable")
      ->type_name("KEY=VALUE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  run_cmd->add_flag("--background", run.background, "Print the process id and return at once");
  run_cmd->add_flag("--detach-on-interrupt", run.detach_on_interrupt,
                    "On Ctrl-C, stop waiting and print the process id, leaving it running "
                    "(default: Ctrl-C terminates it, a second Ctrl-C kills it)");
  run_cmd
      ->add_option("--idempotency-key", run.idempotency_key,
                   "Start at most once: a repeat with the same key and request follows the "
                   "process the first one started instead of starting another (1 to 255 "
                   "printable characters)")
      ->type_name("KEY");
  AddDuration(run_cmd, "--timeout", run_timeout_ms,
              "Stop waiting after this long (the command keeps running)", "none");
  std::int64_t run_deadline_ms = -1;
  AddDuration(run_cmd, "--deadline", run_deadline_ms,
              "A run deadline: the server ends the command (SIGTERM, SIGKILL 5 s later) once it "
              "has run this long, whoever waits (e.g. 90s, 10m, 2h; at most 7 days)",
              "none")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{7} * 24 * 3'600'000, "1ms to 7 days"));
  CLI::Option* interactive_flag =
      run_cmd->add_flag("-i,--interactive", run.interactive,
                        "Forward local stdin to the command's stdin (a pipe); local EOF closes it");
  run_cmd
      ->add_flag("-t,--tty", run.tty,
                 "Run on a terminal the size of the local one, as `docker exec -it`: the local "
                 "terminal in raw mode (Ctrl-C goes to the command), keystrokes and window size "
                 "forwarded; SIGTERM/SIGHUP to corral leave the command running")
      ->excludes(interactive_flag);
  run_cmd
      ->add_option("command", run_words,
                   "After --: one word is a shell command line as given ('make && make test'); "
                   "several are one command's arguments, kept as they are")
      ->required(false);

  bool ps_all = false;
  CLI::App* ps_cmd = app.add_subcommand("ps", "List processes (running ones; --all: also done)");
  ps_cmd->add_flag("-a,--all", ps_all, "Also show processes that are done");
  int ps_limit = 0;
  ps_cmd
      ->add_option("--limit", ps_limit,
                   "Ask the server for up to N processes (default 10; it lists at most 1024)")
      ->check(CLI::PositiveNumber)
      ->type_name("N");

  std::string id;
  bool wait = false;
  CLI::App* output_cmd = app.add_subcommand("output", "Print a process's output");
  output_cmd->add_option("id", id, "Process id")->required();
  output_cmd->add_flag("--wait", wait,
                       "Wait until the process is done first, then exit with its exit code");
  bool clean = false;
  output_cmd->add_flag("--clean", clean,
                       "The clean view: escape sequences removed, progress-bar frames collapsed "
                       "to the last, long lines cut in the middle");

  cli::LogsOptions logs;
  CLI::App* logs_cmd = app.add_subcommand(
      "logs", "Print a process's whole output (from its spool), exactly as it was written");
  logs_cmd->add_option("id", logs.id, "Process id")->required();
  logs_cmd->add_flag("-f,--follow", logs.follow,
                     "Keep printing output as it comes until the process is done");
  logs_cmd
      ->add_option("--from", logs.from,
                   "Start at this byte offset of the output (default 0: the beginning)")
      ->type_name("OFFSET");
  logs_cmd->add_flag("--clean", logs.clean,
                     "The clean view: escape sequences removed, progress-bar frames collapsed "
                     "to the last, long lines cut in the middle");

  std::string signal;
  CLI::App* signal_cmd = app.add_subcommand("signal", "Signal a process's whole group");
  signal_cmd->add_option("id", id, "Process id")->required();
  signal_cmd->add_option("signal", signal, "terminate (SIGTERM) or kill (SIGKILL)")
      ->required()
      ->check(CLI::IsMember({"terminate", "kill"}));

  std::string send_text;
  bool send_close = false;
  CLI::App* send_cmd = app.add_subcommand(
      "send", "Write text to a running process's stdin (started with run -i, --tty or stdin pipe)");
  send_cmd->add_option("id", id, "Process id")->required();
  send_cmd->add_option("text", send_text, "The text; a newline follows it (as Enter would)")
      ->required(false);
  bool send_no_newline = false;
  send_cmd->add_flag("-n,--no-newline", send_no_newline, "Write the text without the newline");
  send_cmd->add_flag("--close", send_close, "Close its stdin after the text (EOF)");

  std::vector<std::string> wait_ids;
  bool wait_all = false;
  std::int64_t wait_timeout_ms = -1;
  CLI::App* wait_cmd = app.add_subcommand(
      "wait",
      "Wait until one of the processes is done (--all: every one), print their state as ps "
      "does, and exit with the command's exit code for one id (for several: 0 when each one "
      "done exited 0, else 1; 124 if --timeout ran out first)");
  wait_cmd->add_option("id", wait_ids, "Process ids")->required();
  wait_cmd->add_flag("--all", wait_all, "Wait until every one is done");
  AddDuration(wait_cmd, "--timeout", wait_timeout_ms,
              "Stop waiting after this long (the processes keep running)", "none");

  CLI::App* attach_cmd = app.add_subcommand(
      "attach", "Join a running terminal process (started with --tty) as `corral run --tty` does");
  attach_cmd->add_option("id", id, "Process id")->required();

  bool embedded = false;
  std::string mcp_workdir;
  CLI::App* mcp_cmd = app.add_subcommand(
      "mcp", "Serve the Model Context Protocol on stdin/stdout, backed by a corral server");
  mcp_cmd->add_flag("--embedded", embedded,
                    "Run a private in-process server instead of connecting to one");
  mcp_cmd->add_option("--workdir", mcp_workdir,
                      "With --embedded: the default working directory of commands");
  std::string mcp_state_dir;
  mcp_cmd
      ->add_option("--state-dir", mcp_state_dir,
                   "With --embedded: keep a journal and spools there (default: nothing kept)")
      ->type_name("DIR");

  // The words after `run ... --` are the command's, exactly: CLI11 would read a word in
  // brackets as a list (`printf '[%s]'` would lose them), so it never sees them.
  int parsed_argc = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "run") {
      for (int j = i + 1; j < argc; ++j) {
        if (std::string_view(argv[j]) != "--") continue;
        parsed_argc = j;
        after_dashes.assign(argv + j + 1, argv + argc);
        break;
      }
      break;
    }
  }
  try {
    app.parse(parsed_argc, argv);
    run.command = run_words;
    run.command.insert(run.command.end(), after_dashes.begin(), after_dashes.end());
    if (app.got_subcommand(run_cmd) && run.command.empty()) {
      std::fprintf(stderr, "corral: run needs a command: corral run [OPTIONS] -- COMMAND...\n");
      return cli::kUsageExit;
    }
  } catch (const CLI::ParseError& e) {
    // CLI11's own codes (105, 106...) could pass for a command's: bad usage is 2, as for
    // most tools.
    return app.exit(e) == 0 ? 0 : cli::kUsageExit;
  }

  try {
    if (app.got_subcommand("serve")) {
      base::SetLogFormat(logging.format);
      base::SetLogLevel(logging.level);
      serve_options.drain_grace = std::chrono::milliseconds(durations.drain_ms);
      serve_options.shutdown_grace = std::chrono::milliseconds(durations.shutdown_ms);
      serve_options.request_timeout = std::chrono::milliseconds(durations.request_ms);
      serve_options.retention = std::chrono::milliseconds(durations.retention_ms);
      return server::Serve(serve_options);
    }
    if (app.got_subcommand(run_cmd)) {
      if (run_timeout_ms >= 0) run.timeout = std::chrono::milliseconds(run_timeout_ms);
      if (run_deadline_ms > 0) run.deadline = std::chrono::milliseconds(run_deadline_ms);
      return cli::Run(client, run);
    }
    if (app.got_subcommand(ps_cmd)) {
      return cli::Ps(client, ps_all, ps_limit > 0 ? std::optional(ps_limit) : std::nullopt);
    }
    if (app.got_subcommand(output_cmd)) return cli::Output(client, id, wait, clean);
    if (app.got_subcommand(logs_cmd)) return cli::Logs(client, logs);
    if (app.got_subcommand(signal_cmd)) return cli::Signal(client, id, signal);
    if (app.got_subcommand(send_cmd)) {
      // Nothing at all with --close alone: only the EOF.
      if (!send_no_newline && !(send_text.empty() && send_close)) send_text += '\n';
      return cli::Send(client, id, send_text, send_close);
    }
    if (app.got_subcommand(wait_cmd)) {
      return cli::Wait(client, wait_ids, wait_all,
                       wait_timeout_ms >= 0
                           ? std::optional(std::chrono::milliseconds(wait_timeout_ms))
                           : std::nullopt);
    }
    if (app.got_subcommand(attach_cmd)) return cli::Attach(client, id);
    if (app.got_subcommand(mcp_cmd)) return cli::Mcp(client, embedded, mcp_workdir, mcp_state_dir);
  } catch (const std::exception& e) {
    base::LogError(e.what());
    return app.got_subcommand("serve") ? 1 : cli::kCorralFailedExit;
  }
  return 0;
}
