#pragma once

#include <sys/resource.h>

#include <system_error>

namespace corral::sys {

// The server holds a descriptor per connection and about two per running command, so the
// usual soft RLIMIT_NOFILE of 1024 would stop it well before its default caps (1024
// connections, 1024 processes). It raises its soft limit to the hard limit at start, and its
// children must get the original back: select()-based programs and ones that close every
// descriptor up to the limit misbehave with a huge soft limit.

// Raises the soft RLIMIT_NOFILE to the hard limit, first remembering the soft limit found (only
// on the first call, so a second call does not record the raised value). Errors are those of
// getrlimit/setrlimit; the limit is then unchanged.
std::error_code RaiseNofileLimit();

// The RLIMIT_NOFILE as it was before RaiseNofileLimit (soft and hard), which a child must be
// given back before it execs; the current limit if it was never raised. Reads a value written
// once at start: safe to call from a vfork/clone child.
rlimit OriginalNofileLimit();

}  // namespace corral::sys
