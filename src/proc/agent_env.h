#pragma once

#include <map>
#include <string>

namespace corral::proc {

// The environment defaults that keep commands from waiting on a person or dressing their output
// for one (DESIGN §7.3), applied after the server's environment and before the env hook and the
// request's `env`, which override them (`serve --no-agent-env` leaves them out):
// GIT_TERMINAL_PROMPT=0 (git fails instead of asking for credentials), GIT_PAGER=cat and
// PAGER=cat (no pager waits for a key), DEBIAN_FRONTEND=noninteractive (apt and dpkg ask
// nothing), PYTHONUNBUFFERED=1 (Python's prints arrive as they happen, not at exit), CI=1 (tools
// turn off spinners and prompts); without a terminal TERM=dumb and NO_COLOR=1 (no escape
// sequences), on one TERM=xterm-256color (what full-screen programs need to draw).
std::map<std::string, std::string> AgentEnvironment(bool terminal);

}  // namespace corral::proc
