#include "server/spool_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace corral::server {

std::optional<TempSpoolDir> TempSpoolDir::Make(std::string& error) {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = tmp && *tmp == '/' ? tmp : "/tmp";
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  std::string pattern = base + "/corral-spool-XXXXXX";
  std::vector<char> path(pattern.begin(), pattern.end());
  path.push_back('\0');
  if (!::mkdtemp(path.data())) {  // mkdtemp makes it 0700
    error = "cannot make a spool directory in " + base + ": " + std::strerror(errno);
    return std::nullopt;
  }
  return TempSpoolDir(path.data());
}

TempSpoolDir::~TempSpoolDir() {
  if (path_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace corral::server
