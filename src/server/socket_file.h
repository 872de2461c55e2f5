#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace corral::server {

// The file of a Unix socket as we bound it. Stopping removes it only if the path still names
// that very file: someone may have removed ours meanwhile (a careless `rm`) and another server
// bound the same path since; its socket is not ours to remove.
class SocketFile {
 public:
  // What `path` names now (lstat); nullopt if nothing. Call right after bind.
  static std::optional<SocketFile> Record(std::string path);

  // Unlinks the path if it still names the recorded file (same device and inode); true if it
  // did. (A replacement between the check and the unlink cannot be ruled out by the file
  // system's API; the window is a few microseconds at exit.)
  bool RemoveIfOurs() const;

  const std::string& path() const { return path_; }

 private:
  SocketFile(std::string path, dev_t dev, ino_t ino)
      : path_(std::move(path)), dev_(dev), ino_(ino) {}
  std::string path_;
  dev_t dev_;
  ino_t ino_;
};

}  // namespace corral::server
