// `corral`: the server and its command-line clients.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "base/log.h"
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

struct Durations {
  std::int64_t drain_ms = 5000, shutdown_ms = 3000, request_ms = 30000, retention_ms = 300000;
};

void AddServe(CLI::App& app, server::ServeOptions& o, Durations& d) {
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
  serve->add_option("--workdir", o.workdir, "Default working directory of commands");
  serve->add_option("--env-file", o.env_file,
                    "Environment hook: a file of KEY=VALUE lines, or an executable printing them");
  AddDuration(serve, "--drain-grace", d.drain_ms,
              "How long output may keep flowing after a command's shell exits", "5s");
  AddDuration(serve, "--shutdown-grace", d.shutdown_ms,
              "On shutdown, time between SIGTERM and SIGKILL to every process group", "3s");
  AddDuration(serve, "--request-timeout", d.request_ms,
              "Time a client has to send a whole request (slow clients are cut off)", "30s");
  AddDuration(serve, "--retention", d.retention_ms,
              "How long a finished process stays listed before it is forgotten", "5m");
  serve->add_option("--max-processes", o.max_processes, "Most commands running at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve->add_option("--max-connections", o.max_connections, "Most client connections at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("corral: a process server for AI agents");
  app.require_subcommand(1);
  server::ServeOptions serve_options;
  Durations durations;
  AddServe(app, serve_options, durations);
  CLI11_PARSE(app, argc, argv);

  try {
    if (app.got_subcommand("serve")) {
      serve_options.drain_grace = std::chrono::milliseconds(durations.drain_ms);
      serve_options.shutdown_grace = std::chrono::milliseconds(durations.shutdown_ms);
      serve_options.request_timeout = std::chrono::milliseconds(durations.request_ms);
      serve_options.retention = std::chrono::milliseconds(durations.retention_ms);
      return server::Serve(serve_options);
    }
  } catch (const std::exception& e) {
    base::LogError(e.what());
    return 1;
  }
  return 0;
}
