#pragma once

#include <signal.h>
#include <string.h>

#include <string>

namespace corral::proc {

// "SIGKILL" for SIGKILL; "SIG<n>" for a number without a name.
inline std::string SignalName(int sig) {
  if (const char* abbrev = ::sigabbrev_np(sig)) return std::string("SIG") + abbrev;
  return "SIG" + std::to_string(sig);
}

}  // namespace corral::proc
