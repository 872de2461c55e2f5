#pragma once

#include <string>

#include "base/status.h"
#include "base/unique_fd.h"

namespace corral::store {

// The default state directory: $XDG_STATE_HOME/corral when XDG_STATE_HOME is set to an
// absolute path, else $HOME/.local/state/corral. kFailedPrecondition when neither variable
// gives a usable path (pass --state-dir then).
base::Result<std::string> DefaultStateDir();

// A state directory held by this server for its whole life:
//   <dir>/journal.db (+ -wal, -shm)   the journal (store/journal.h)
//   <dir>/spool/                     one spool file per remembered process
//   <dir>/lock                       flock'ed while a server uses the dir; holds its pid
// Two servers never share one: the second is refused. The lock is an flock on an O_CLOEXEC
// descriptor, so it is released when the server dies however it dies (SIGKILL included), and no
// command the server starts can inherit it and keep it past the server.
class StateDir {
 public:
  // Creates `path` (and missing parents) with mode 0700 and `spool/` inside it, then takes the
  // lock and writes this process's pid into the lock file. An existing directory keeps its mode.
  // Errors: kFailedPrecondition "state dir DIR is in use by another corral server (pid N)" when
  // the lock is held (pid left out when the holder wrote none); kInternal when a directory or
  // the lock file cannot be made (the message names the path and the reason).
  static base::Result<StateDir> Open(const std::string& path);

  StateDir(StateDir&&) = default;
  StateDir& operator=(StateDir&&) = default;

  const std::string& path() const { return path_; }
  std::string journal_path() const { return path_ + "/journal.db"; }
  std::string spool_dir() const { return path_ + "/spool"; }
  std::string lock_path() const { return path_ + "/lock"; }

 private:
  StateDir(std::string path, base::UniqueFd lock)
      : path_(std::move(path)), lock_(std::move(lock)) {}

  std::string path_;
  base::UniqueFd lock_;  // flock'ed; closing it releases the dir
};

}  // namespace corral::store
