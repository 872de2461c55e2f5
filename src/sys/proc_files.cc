#include "sys/proc_files.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/unique_fd.h"

namespace corral::sys {
namespace {

std::error_code Errno() { return {errno, std::system_category()}; }

}  // namespace

std::error_code ReadFile(const std::string& path, std::string& out) {
  base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Errno();
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno();
    if (n == 0) return {};
    out.append(buf, static_cast<std::size_t>(n));
  }
}

std::error_code WriteFile(const std::string& path, std::string_view text) {
  base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return Errno();
  ssize_t n;
  do {
    n = ::write(fd.get(), text.data(), text.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Errno();
  return static_cast<std::size_t>(n) == text.size() ? std::error_code{}
                                                    : std::make_error_code(std::errc::io_error);
}

}  // namespace corral::sys
