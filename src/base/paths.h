#pragma once

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace corral::base {

// The directory of the default socket and token: $XDG_RUNTIME_DIR if set, else
// /tmp/corral-$UID (which the server creates with mode 0700).
inline std::string DefaultRuntimeDir() {
  if (const char* dir = std::getenv("XDG_RUNTIME_DIR"); dir && *dir) return dir;
  return "/tmp/corral-" + std::to_string(::getuid());
}

inline std::string DefaultSocketPath() { return DefaultRuntimeDir() + "/corral.sock"; }

// Where the server writes the token it generates for TCP listeners.
inline std::string DefaultTokenPath() { return DefaultRuntimeDir() + "/corral.token"; }

}  // namespace corral::base
