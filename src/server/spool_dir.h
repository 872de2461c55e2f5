#pragma once

#include <optional>
#include <string>

namespace corral::server {

// A private directory for the spools of one server run that keeps nothing on disk: made under
// $TMPDIR (else /tmp) as corral-spool-XXXXXX, mode 0700, and removed with everything in it
// when this object goes.
class TempSpoolDir {
 public:
  // nullopt when the directory cannot be made; `error` then says why.
  static std::optional<TempSpoolDir> Make(std::string& error);

  TempSpoolDir(TempSpoolDir&& other) noexcept : path_(std::move(other.path_)) {
    other.path_.clear();
  }
  TempSpoolDir& operator=(TempSpoolDir&&) = delete;
  ~TempSpoolDir();

  const std::string& path() const { return path_; }

 private:
  explicit TempSpoolDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace corral::server
