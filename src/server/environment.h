#pragma once

#include <string>

#include "proc/process_table.h"

namespace corral::server {

// The environment every command starts from: ours, less the variables that configure corral
// itself (the token).
proc::Environment BaseEnvironment();

// The variables the env hook `env_file` sets (its KEY=VALUE lines), which commands get over the
// base environment and the agent defaults: an executable is run (at most kHookTimeout, with
// `base` as its environment) and its output read; any other file is read. A hook that fails is
// logged as a warning and skipped (empty). Empty without a hook.
proc::Environment HookEnvironment(const std::string& env_file, const proc::Environment& base);

// Parses KEY=VALUE lines into env. Blank lines and lines starting with '#' are skipped, an
// "export " prefix is dropped, and a line without '=' or with an empty key is an error
// (returned as a message naming the line); the valid lines before it are kept.
std::string ParseEnvLines(std::string_view text, proc::Environment& env);

}  // namespace corral::server
