#include "proc/agent_env.h"

namespace corral::proc {

std::map<std::string, std::string> AgentEnvironment(bool terminal) {
  std::map<std::string, std::string> env = {
      {"GIT_TERMINAL_PROMPT", "0"},          {"GIT_PAGER", "cat"},      {"PAGER", "cat"},
      {"DEBIAN_FRONTEND", "noninteractive"}, {"PYTHONUNBUFFERED", "1"}, {"CI", "1"},
  };
  if (terminal) {
    env["TERM"] = "xterm-256color";
  } else {
    env["TERM"] = "dumb";
    env["NO_COLOR"] = "1";
  }
  return env;
}

}  // namespace corral::proc
