#pragma once

#include <string>

#include "proc/process_table.h"

namespace corral::server {

// The environment every command starts from: ours (less the variables that configure corral
// itself, such as the token), then the env hook's KEY=VALUE lines over it. The hook is
// `env_file`: an executable is run (at most kHookTimeout) and its output read; any other file
// is read. A hook that fails is logged as a warning and skipped.
proc::Environment BaseEnvironment(const std::string& env_file);

// Parses KEY=VALUE lines into env. Blank lines and lines starting with '#' are skipped, an
// "export " prefix is dropped, and a line without '=' or with an empty key is an error
// (returned as a message naming the line); the valid lines before it are kept.
std::string ParseEnvLines(std::string_view text, proc::Environment& env);

}  // namespace corral::server
