#pragma once

#include <string>

#include "base/status.h"

namespace corral::base {

// The directory of the default socket and token, shared by the server and its clients:
// $XDG_RUNTIME_DIR if set (the OS made it private to the user), else /tmp/corral-$UID.
//
// /tmp is shared with every user, so /tmp/corral-$UID is trusted only if it is a real
// directory (lstat: not a symbolic link) owned by us with no group or other permission bits;
// otherwise the result is an error saying why and what to do. With `create` (the server), a
// missing one is made with mode 0700 first and then checked, so a directory someone else made
// in between is refused, never used. Without it (clients), a missing one is returned as it is:
// nothing can listen there, and connecting says so.
Result<std::string> DefaultRuntimeDir(bool create = false);

// DefaultRuntimeDir() + "/corral.sock", or its error.
Result<std::string> DefaultSocketPath();

// Where the server writes the token it generates for TCP listeners: DefaultRuntimeDir() +
// "/corral.token". If the directory is not trusted, its error, unless no such file exists
// there (then the path: reading it finds nothing, and a client that needs no token is not
// bothered about a directory it does not use).
Result<std::string> DefaultTokenPath();

}  // namespace corral::base
